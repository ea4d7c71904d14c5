#pragma once
// Gaussian mixtures p(x) = sum_k pi_k N(x; mu_k, S_k) in any dimension d.
//
// They are the data laws of hjbft and, because the forward SDE maps a mixture
// to a mixture (N(m mu_k, m^2 S_k + v I)), also every forward marginal and the
// tilted laws.  All densities are evaluated in log space (log-sum-exp over
// components), so far-out points give finite log-densities and scores.
#include <random>
#include <vector>

#include "hjbft/core/linalg.hpp"

namespace hjbft {

struct GaussianComponent {
  double weight;
  Vector mean;
  Matrix cov;
};

class Gmm {
public:
  Gmm() = default;
  // Validates (weights >= 0 summing to 1, covariances symmetric positive
  // definite, consistent dimensions); throws InputError naming the options
  // -target_weights / -target_means / -target_vars.
  explicit Gmm(std::vector<GaussianComponent> components);

  int dim() const { return dim_; }
  int size() const { return static_cast<int>(comp_.size()); }
  const GaussianComponent& component(int k) const { return comp_[k]; }

  double log_density(const Vector& x) const;
  Vector score(const Vector& x) const;  // grad_x log p(x)
  // log of pi_k N(x; mu_k, S_k) for every k (unnormalized log responsibilities)
  Eigen::VectorXd log_joint(const Vector& x) const;
  Eigen::VectorXd responsibilities(const Vector& x) const;

  Vector mean() const;
  Matrix covariance() const;

  // Law of m X + sqrt(v) Z, X ~ this, Z ~ N(0, I): the forward marginal.
  Gmm affine_marginal(double m, double v) const;

  Matrix sample(std::mt19937_64& rng, int n) const;  // n x d, one sample per row

  // Precision S_k^{-1} and log det S_k (cached at construction).
  const Matrix& precision(int k) const { return prec_[k]; }
  double log_det_cov(int k) const { return logdet_[k]; }

private:
  int dim_ = 0;
  std::vector<GaussianComponent> comp_;
  std::vector<Matrix> prec_;
  std::vector<Matrix> chol_;  // lower Cholesky factor of S_k
  std::vector<double> logdet_;
};

double log_sum_exp(const Eigen::VectorXd& a);
Eigen::VectorXd softmax(const Eigen::VectorXd& a);

}  // namespace hjbft
