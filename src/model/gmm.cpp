#include "hjbft/model/gmm.hpp"

#include <cmath>
#include <numbers>
#include <sstream>

#include "hjbft/core/errors.hpp"

namespace hjbft {

double log_sum_exp(const Eigen::VectorXd& a) {
  const double mx = a.maxCoeff();
  if (!std::isfinite(mx)) return mx;
  return mx + std::log((a.array() - mx).exp().sum());
}

Eigen::VectorXd softmax(const Eigen::VectorXd& a) {
  Eigen::VectorXd w = (a.array() - a.maxCoeff()).exp();
  return w / w.sum();
}

Gmm::Gmm(std::vector<GaussianComponent> components) : comp_(std::move(components)) {
  if (comp_.empty()) throw InputError("-target_weights", "the mixture needs at least one component");
  dim_ = static_cast<int>(comp_[0].mean.size());
  if (dim_ < 1) throw InputError("-target_means", "component means must have dimension >= 1");
  double wsum = 0;
  for (std::size_t k = 0; k < comp_.size(); ++k) {
    const auto& c = comp_[k];
    if (!std::isfinite(c.weight) || c.weight < 0)
      throw InputError("-target_weights", "weights must be finite and >= 0 (component " +
                                              std::to_string(k) + " has " + std::to_string(c.weight) + ")");
    wsum += c.weight;
    if (c.mean.size() != dim_)
      throw InputError("-target_means", "component " + std::to_string(k) + " has dimension " +
                                            std::to_string(c.mean.size()) + ", expected " + std::to_string(dim_));
    if (!c.mean.allFinite()) throw InputError("-target_means", "means must be finite");
    if (c.cov.rows() != dim_ || c.cov.cols() != dim_)
      throw InputError("-target_vars", "covariance of component " + std::to_string(k) + " must be " +
                                           std::to_string(dim_) + " x " + std::to_string(dim_));
    if (!c.cov.allFinite() || (c.cov - c.cov.transpose()).norm() > 1e-12 * (1 + c.cov.norm()))
      throw InputError("-target_vars", "covariance of component " + std::to_string(k) + " must be finite and symmetric");
    Eigen::LLT<Matrix> llt(c.cov);
    if (llt.info() != Eigen::Success || llt.matrixL().toDenseMatrix().diagonal().minCoeff() <= 0)
      throw InputError("-target_vars", "covariance of component " + std::to_string(k) +
                                           " is not positive definite (variances must be > 0)");
    chol_.push_back(llt.matrixL());
    prec_.push_back(llt.solve(Matrix::Identity(dim_, dim_)));
    logdet_.push_back(2.0 * chol_.back().diagonal().array().log().sum());
  }
  if (std::abs(wsum - 1.0) > 1e-8) {
    std::ostringstream s;
    s << "weights must sum to 1 (they sum to " << wsum << ")";
    throw InputError("-target_weights", s.str());
  }
}

Eigen::VectorXd Gmm::log_joint(const Vector& x) const {
  Eigen::VectorXd a(size());
  const double c0 = -0.5 * dim_ * std::log(2.0 * std::numbers::pi);
  for (int k = 0; k < size(); ++k) {
    const Vector r = x - comp_[k].mean;
    const Vector z = chol_[k].triangularView<Eigen::Lower>().solve(r);
    a[k] = (comp_[k].weight > 0 ? std::log(comp_[k].weight) : -INFINITY) + c0 - 0.5 * logdet_[k] -
           0.5 * z.squaredNorm();
  }
  return a;
}

double Gmm::log_density(const Vector& x) const { return log_sum_exp(log_joint(x)); }

Eigen::VectorXd Gmm::responsibilities(const Vector& x) const { return softmax(log_joint(x)); }

Vector Gmm::score(const Vector& x) const {
  const Eigen::VectorXd w = responsibilities(x);
  Vector s = Vector::Zero(dim_);
  for (int k = 0; k < size(); ++k)
    if (w[k] > 0) s -= w[k] * (prec_[k] * (x - comp_[k].mean));
  return s;
}

Vector Gmm::mean() const {
  Vector mu = Vector::Zero(dim_);
  for (const auto& c : comp_) mu += c.weight * c.mean;
  return mu;
}

Matrix Gmm::covariance() const {
  const Vector mu = mean();
  Matrix S = Matrix::Zero(dim_, dim_);
  for (const auto& c : comp_) S += c.weight * (c.cov + (c.mean - mu) * (c.mean - mu).transpose());
  return S;
}

Gmm Gmm::affine_marginal(double m, double v) const {
  std::vector<GaussianComponent> out;
  out.reserve(comp_.size());
  for (const auto& c : comp_)
    out.push_back({c.weight, m * c.mean, m * m * c.cov + v * Matrix::Identity(dim_, dim_)});
  return Gmm(std::move(out));
}

Matrix Gmm::sample(std::mt19937_64& rng, int n) const {
  std::vector<double> w;
  for (const auto& c : comp_) w.push_back(c.weight);
  std::discrete_distribution<int> pick(w.begin(), w.end());
  std::normal_distribution<double> normal;
  Matrix X(n, dim_);
  for (int i = 0; i < n; ++i) {
    const int k = pick(rng);
    Vector z(dim_);
    for (int j = 0; j < dim_; ++j) z[j] = normal(rng);
    X.row(i) = (comp_[k].mean + chol_[k] * z).transpose();
  }
  return X;
}

}  // namespace hjbft
