// Distances between samples and a Gaussian-mixture law (the tilted law or p_data).
#include <algorithm>
#include <cmath>

#include "hjbft/analysis/law_distance.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/simulation/sampler.hpp"  // path_stream

namespace hjbft {

double ks_distance_1d(const Vector& x, const Gmm& law) {
  if (law.dim() != 1) throw SolverError("ks_distance_1d: the law must be 1-D");
  std::vector<double> s(x.data(), x.data() + x.size());
  std::sort(s.begin(), s.end());
  const double n = static_cast<double>(s.size());
  double D = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    double F = 0;
    for (int k = 0; k < law.size(); ++k) {
      const auto& c = law.component(k);
      F += c.weight * 0.5 * std::erfc(-(s[i] - c.mean[0]) / std::sqrt(2.0 * c.cov(0, 0)));
    }
    D = std::max({D, std::abs(F - i / n), std::abs((i + 1) / n - F)});
  }
  return D;
}

double energy_distance(const Matrix& X, const Matrix& Y) {
  const Eigen::Index n = X.rows(), m = Y.rows();
  if (n < 2 || m < 2) throw SolverError("energy_distance: needs at least two points on each side");
  double xy = 0, xx = 0, yy = 0;
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j) xy += (X.row(i) - Y.row(j)).norm();
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = i + 1; j < n; ++j) xx += (X.row(i) - X.row(j)).norm();
  for (Eigen::Index i = 0; i < m; ++i)
    for (Eigen::Index j = i + 1; j < m; ++j) yy += (Y.row(i) - Y.row(j)).norm();
  return 2 * xy / (double(n) * m) - 2 * xx / (double(n) * (n - 1)) - 2 * yy / (double(m) * (m - 1));
}

LawComparison compare_with_law(const Matrix& samples, const Gmm& law, std::uint64_t seed, int energy_n) {
  const Eigen::Index n = samples.rows();
  const int d = law.dim();
  if (samples.cols() != d) throw SolverError("compare_with_law: dimension mismatch");
  if (n < 2) throw SolverError("compare_with_law: needs at least two samples");
  LawComparison c;
  c.sample_mean = samples.colwise().mean().transpose();
  const Matrix centred = samples.rowwise() - c.sample_mean.transpose();
  c.sample_cov = centred.transpose() * centred / double(n - 1);
  c.law_mean = law.mean();
  c.law_cov = law.covariance();
  c.mean_error = (c.sample_mean - c.law_mean).norm();
  c.mean_error_sigmas = c.mean_error / std::sqrt(c.law_cov.trace() / double(n));
  c.cov_error = (c.sample_cov - c.law_cov).norm();

  const int K = law.size();
  c.law_weights.resize(K);
  c.mode_weights = Vector::Zero(K);
  for (int k = 0; k < K; ++k) c.law_weights[k] = law.component(k).weight;
  for (Eigen::Index i = 0; i < n; ++i) {
    Eigen::Index k;
    law.log_joint(samples.row(i).transpose()).maxCoeff(&k);
    c.mode_weights[k] += 1.0 / n;
  }
  // What a perfect sampler would give: the law's own samples assigned the same way.
  {
    auto rng = path_stream(seed, 0, 11);
    const Matrix ref = law.sample(rng, static_cast<int>(std::min<Eigen::Index>(n, 200000)));
    Vector w = Vector::Zero(K);
    for (Eigen::Index i = 0; i < ref.rows(); ++i) {
      Eigen::Index k;
      law.log_joint(ref.row(i).transpose()).maxCoeff(&k);
      w[k] += 1.0 / ref.rows();
    }
    c.law_assigned = w;  // overlapping components share mass; this is what a perfect sampler gives
  }
  c.mode_weight_error = (c.mode_weights - c.law_assigned).cwiseAbs().maxCoeff();

  const int m = static_cast<int>(std::min<Eigen::Index>(n, energy_n));
  if (m >= 2) {
    auto r1 = path_stream(seed, 1, 12), r2 = path_stream(seed, 2, 12);
    const Matrix e1 = law.sample(r1, m), e2 = law.sample(r2, m);
    c.energy = energy_distance(samples.topRows(m), e1);
    c.energy_null = energy_distance(e2, e1);
  }
  if (d == 1) c.ks = ks_distance_1d(samples.col(0), law);
  return c;
}

}  // namespace hjbft
