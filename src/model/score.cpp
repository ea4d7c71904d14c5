#include "hjbft/model/score.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hjbft {

Vector ScoreError::at(const Vector& x) const {
  if (amp == 0.0) return Vector::Zero(x.size());
  return amp * (freq * x.array()).sin().matrix();
}

Vector ScoreAtTime::operator()(const Vector& x) const {
  Vector s = marg_.score(x);
  if (err_.amp != 0.0) s += err_.at(x);
  return s;
}

ScoreAtTime PretrainedScore::at_tau(double tau) const {
  const double m = sde_.m(tau), v = sde_.v(tau);
  return ScoreAtTime(data_.affine_marginal(m, v), err_, m, v);
}

void batch_score(const ScoreAtTime& s, const ScoreError& err, const Matrix& Y, Matrix& S) {
  const Gmm& g = s.marginal();
  const int K = g.size();
  const Eigen::Index n = Y.cols();
  S.setZero(Y.rows(), n);
  std::vector<Matrix> Pd(K);
  Matrix logj(K, n);
  for (int k = 0; k < K; ++k) {
    const auto& c = g.component(k);
    const Matrix diff = Y.colwise() - c.mean;
    Pd[k] = g.precision(k) * diff;
    const double lw = c.weight > 0 ? std::log(c.weight) : -INFINITY;
    logj.row(k) = (lw - 0.5 * g.log_det_cov(k)) - 0.5 * (diff.array() * Pd[k].array()).colwise().sum();
  }
  for (Eigen::Index j = 0; j < n; ++j) {
    const double mx = logj.col(j).maxCoeff();
    double z = 0;
    for (int k = 0; k < K; ++k) z += (logj(k, j) = std::exp(logj(k, j) - mx));
    for (int k = 0; k < K; ++k) logj(k, j) /= z;
  }
  for (int k = 0; k < K; ++k) S -= Pd[k] * logj.row(k).asDiagonal();
  if (err.amp != 0.0) S.array() += err.amp * (err.freq * Y.array()).sin();
}

FastGmmScore::FastGmmScore(const Gmm& g, const ScoreError& err)
    : d_(g.dim()), K_(g.size()), work_(g.size()), err_(err) {
  for (int k = 0; k < K_; ++k) {
    const auto& c = g.component(k);
    logc_.push_back((c.weight > 0 ? std::log(c.weight) : -INFINITY) -
                    0.5 * (d_ * std::log(2 * std::numbers::pi) + g.log_det_cov(k)));
    for (int a = 0; a < d_; ++a) mean_.push_back(c.mean[a]);
    for (int a = 0; a < d_; ++a)
      for (int b = 0; b < d_; ++b) prec_.push_back(g.precision(k)(a, b));
  }
}

double FastGmmScore::log_density(const double* x) const { return responsibilities(x) + std::log(work_sum_); }

// work_ <- the components' densities at x divided by the largest, work_sum_ <- their
// sum; returns the log of the largest (log p(x) = that + log work_sum_).
double FastGmmScore::responsibilities(const double* x) const {
  double mx = -INFINITY;
  for (int k = 0; k < K_; ++k) {
    const double* mu = &mean_[k * d_];
    const double* P = &prec_[k * d_ * d_];
    double q = 0;
    for (int a = 0; a < d_; ++a)
      for (int b = 0; b < d_; ++b) q += (x[a] - mu[a]) * P[a * d_ + b] * (x[b] - mu[b]);
    work_[k] = logc_[k] - 0.5 * q;
    mx = std::max(mx, work_[k]);
  }
  double s = 0;
  for (int k = 0; k < K_; ++k) {
    work_[k] = std::exp(work_[k] - mx);  // unnormalized responsibilities, reused by the score
    s += work_[k];
  }
  work_sum_ = s;
  return mx;
}

void FastGmmScore::operator()(const double* x, double* s) const {
  responsibilities(x);  // the score needs no logarithm
  for (int a = 0; a < d_; ++a) s[a] = 0;
  for (int k = 0; k < K_; ++k) {
    const double w = work_[k] / work_sum_;
    if (w == 0) continue;
    const double* mu = &mean_[k * d_];
    const double* P = &prec_[k * d_ * d_];
    for (int a = 0; a < d_; ++a)
      for (int b = 0; b < d_; ++b) s[a] -= w * P[a * d_ + b] * (x[b] - mu[b]);
  }
  if (err_.amp != 0)
    for (int a = 0; a < d_; ++a) s[a] += err_.at(x[a]);
}

}  // namespace hjbft
