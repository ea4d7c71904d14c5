// V*(t,y) for eta = 1, exact score, GMM data, quadratic-form reward (DESIGN.md 4).
//
// Given Y_t = y (tau = T - t) the endpoint Y_T has the forward posterior law
// sum_k gamma_k(y) N(m_k(y), C_k) with
//   C_k = (S_k^{-1} + m^2/v I)^{-1},  m_k(y) = C_k (S_k^{-1} mu_k + m y / v),
//   gamma_k(y) ~ pi_k N(y; m mu_k, m^2 S_k + v I),
// and V = beta log sum_k gamma_k E_k,  E_k = E[exp(r/beta)] under N(m_k, C_k).
// In log space with a_k = log pi_k N_k(y), e_k = log E_k:
//   V / beta = LSE_k(a_k + e_k) - LSE_k(a_k),
//   grad V / beta = sum_k w_k (grad a_k + grad e_k) - sum_k gamma_k grad a_k,
// w = softmax(a + e), gamma = softmax(a), grad e_k = (m/v) C_k d e_k/d m_k.
#include "hjbft/core/errors.hpp"
#include "hjbft/exact/closed_form.hpp"

namespace hjbft {

GmmClosedForm::GmmClosedForm(const Gmm& data, const ForwardSde& sde, const Reward& reward, double beta)
    : data_(data), sde_(sde), beta_(beta) {
  auto q = reward.quadratic_form();
  if (!q) throw SolverError("the closed form needs a linear or quadratic reward (got '" + reward.name() + "')");
  r_ = *q;
  if (!quadratic_reward_well_posed(data_, r_, beta_))
    throw SolverError("the quadratic reward is ill-posed for this beta: E[exp(r/beta)] is infinite");
}

GmmClosedForm::AtTime GmmClosedForm::at_time(double t) const {
  AtTime a;
  a.cf_ = this;
  const double tau = sde_.T() - t;
  a.m_ = sde_.m(tau);
  a.v_ = sde_.v(tau);
  if (tau <= 0 || a.v_ <= 0) {
    a.terminal_ = true;
    return a;
  }
  const int d = data_.dim();
  const Matrix I = Matrix::Identity(d, d);
  for (int k = 0; k < data_.size(); ++k) {
    const Matrix C = (data_.precision(k) + (a.m_ * a.m_ / a.v_) * I).inverse();
    a.post_cov_.push_back(0.5 * (C + C.transpose()));
    a.post_shift_.push_back(C * (data_.precision(k) * data_.component(k).mean));
  }
  a.marginal_ = data_.affine_marginal(a.m_, a.v_);
  return a;
}

GmmClosedForm::Point GmmClosedForm::AtTime::operator()(const Vector& y) const {
  const QuadraticForm& r = cf_->r_;
  const double beta = cf_->beta_;
  if (terminal_) return {r.value(y), r.gradient(y)};
  const int K = marginal_.size();
  const Eigen::VectorXd a = marginal_.log_joint(y);
  Eigen::VectorXd ae(K);
  std::vector<Vector> grad_a(K), grad_e(K);
  for (int k = 0; k < K; ++k) {
    const Vector mk = post_shift_[k] + (m_ / v_) * (post_cov_[k] * y);
    const GaussianTilt tilt = gaussian_tilt(mk, post_cov_[k], r, beta);
    if (!tilt.finite) throw SolverError("closed form: E[exp(r/beta)] is infinite for a posterior component");
    ae[k] = a[k] + tilt.log_E;
    grad_a[k] = marginal_.precision(k) * (marginal_.component(k).mean - y);
    grad_e[k] = (m_ / v_) * (post_cov_[k] * tilt.grad_mu);
  }
  const Eigen::VectorXd w = softmax(ae), gamma = softmax(a);
  Vector grad = Vector::Zero(y.size());
  for (int k = 0; k < K; ++k) grad += w[k] * (grad_a[k] + grad_e[k]) - gamma[k] * grad_a[k];
  return {beta * (log_sum_exp(ae) - log_sum_exp(a)), beta * grad};
}

}  // namespace hjbft
