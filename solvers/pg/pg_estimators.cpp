// Policy-gradient estimators on the Euler-Maruyama chain (include/hjbft/solvers/pg.hpp;
// the derivations are in docs/policy_gradient.md).
#include <cmath>
#include <stdexcept>

#include "hjbft/core/errors.hpp"
#include "hjbft/simulation/paths.hpp"
#include "hjbft/solvers/pg.hpp"

namespace hjbft {

// ---------------------------------------------------------------- constant shift
ConstantShiftPolicy::ConstantShiftPolicy(Vector e, double theta) : e_(std::move(e)), theta_(1) { theta_[0] = theta; }

void ConstantShiftPolicy::control(double, const Matrix& Y, Matrix& U) const {
  U = (theta_[0] * e_).replicate(1, Y.cols());
}

void ConstantShiftPolicy::vjp(double, const Matrix&, const Matrix& W, Vector& grad) const {
  grad[0] += (e_.transpose() * W).sum();
}

void ConstantShiftPolicy::jvp(double, const Matrix& Y, const Vector& v, Matrix& dU) const {
  dU = (v[0] * e_).replicate(1, Y.cols());
}

// ---------------------------------------------------------------- paths
void simulate_pg_paths(const Problem& p, const PgPolicy& policy, const std::vector<double>& times,
                       const Matrix& Y0, std::uint64_t seed, long first_id, SimulatedPaths& P) {
  const int K = static_cast<int>(times.size()) - 1;
  const long n = Y0.rows();
  P.times = times;
  P.Y.assign(1, Y0.transpose());
  P.xi = path_noise(seed, first_id, n, K, p.dim);
  euler_maruyama_paths(
      p, times, [&policy](double t, const Matrix& Y, Matrix& U) { policy.control(t, Y, U); }, P.xi, P.Y, P.cost,
      &P.U);
  P.reward.resize(n);
  for (long j = 0; j < n; ++j) P.reward[j] = p.reward->value(P.Y[K].col(j));
}

// ---------------------------------------------------------------- estimators
PgEstimator pg_estimator_from_string(const std::string& s, const std::string& option) {
  if (s == "lr") return PgEstimator::lr;
  if (s == "td") return PgEstimator::td;
  if (s == "pathwise") return PgEstimator::pathwise;
  throw InputError(option, "unknown estimator '" + s + "' (allowed: lr, td, pathwise)");
}

std::string to_string(PgEstimator e) {
  switch (e) {
    case PgEstimator::lr: return "lr";
    case PgEstimator::td: return "td";
    case PgEstimator::pathwise: return "pathwise";
  }
  return "?";
}

// W_i = -dc_i/du_i + (score form) B_i sqrt(dt_i)/Sigma_i xi_i a_i  or  (pathwise) B_i dt_i grad V_{i+1}(Y_{i+1}):
// the gradient of the surrogate at the generating policy (pg_update.cpp), so both share make_surrogate.
std::vector<Matrix> estimator_weights(const Problem& p, const SimulatedPaths& P, const PgValue* value,
                                      const PgEstimatorOptions& o) {
  const PgSurrogate s = make_surrogate(p, P, value, o);
  std::vector<Matrix> W(P.nsteps());
  for (int i = 0; i < P.nsteps(); ++i) {
    const double t = P.times[i], dt = P.times[i + 1] - t;
    const ControlCoefficients c = p.control.coefficients(t);
    W[i] = (-c.beta * c.Lambda * dt) * P.U[i];
    if (s.score_form)
      // grad_theta log p(Y_{i+1} | Y_i) = (Y_{i+1} - mean_i)^T B dt/(Sigma^2 dt) du_i/dtheta = B sqrt(dt)/Sigma xi_i^T du_i/dtheta.
      W[i] += (c.B * std::sqrt(dt) / c.Sigma) * (P.xi[i].array().rowwise() * s.adv.row(i).array()).matrix();
    else
      W[i] += s.dir[i];
  }
  return W;
}

PgGradient estimate_gradient(const Problem& p, const PgPolicy& policy, const SimulatedPaths& P, const PgValue* value,
                             const PgEstimatorOptions& o) {
  const std::vector<Matrix> W = estimator_weights(p, P, value, o);
  const long n = P.n();
  const int np = policy.n_params();
  PgGradient g;
  g.mean.setZero(np);
  for (int i = 0; i < P.nsteps(); ++i) policy.vjp(P.times[i], P.Y[i], W[i], g.mean);
  g.mean /= static_cast<double>(n);
  if (o.per_path) {
    g.per_path.setZero(np, n);
    Vector col(np);
    for (long j = 0; j < n; ++j) {
      col.setZero();
      for (int i = 0; i < P.nsteps(); ++i) policy.vjp(P.times[i], P.Y[i].col(j), W[i].col(j), col);
      g.per_path.col(j) = col;
    }
  }
  return g;
}

// ---------------------------------------------------------------- advantage rate
double advantage_rate(const ControlCoefficients& c, const Vector& gradV, const Vector& u, const Vector& u_pi) {
  return c.B * (u - u_pi).dot(gradV) - 0.5 * c.beta * c.Lambda * (u.squaredNorm() - u_pi.squaredNorm());
}

}  // namespace hjbft
