// Policy-gradient estimators on the Euler-Maruyama chain (include/hjbft/policy_gradient.hpp;
// the derivations are in docs/policy_gradient.md).
#include <cmath>
#include <stdexcept>

#include "hjbft/errors.hpp"
#include "hjbft/neural_pift.hpp"  // path_noise, euler_maruyama_paths (shared with neural PI-FT)
#include "hjbft/policy_gradient.hpp"

namespace hjbft {

// ---------------------------------------------------------------- constant shift
ConstantShiftPolicy::ConstantShiftPolicy(Vector e, double theta) : e_(std::move(e)), theta_(1) { theta_[0] = theta; }

void ConstantShiftPolicy::control(double, const Matrix& Y, Matrix& U) const {
  U = (theta_[0] * e_).replicate(1, Y.cols());
}

void ConstantShiftPolicy::vjp(double, const Matrix&, const Matrix& W, Vector& grad) const {
  grad[0] += (e_.transpose() * W).sum();
}

// ---------------------------------------------------------------- paths
Vector PgPaths::returns() const { return reward - cost.colwise().sum().transpose(); }

std::vector<double> uniform_times(double T, int K) {
  std::vector<double> t(K + 1);
  for (int i = 0; i <= K; ++i) t[i] = T * i / K;
  return t;
}

void simulate_pg_paths(const Problem& p, const PgPolicy& policy, const std::vector<double>& times,
                       const Matrix& Y0, std::uint64_t seed, long first_id, PgPaths& P) {
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

std::vector<Matrix> estimator_weights(const Problem& p, const PgPaths& P, const PgValue* value,
                                      const PgEstimatorOptions& o) {
  const int K = P.nsteps();
  if (o.kind != PgEstimator::lr && !value)
    throw std::invalid_argument("policy gradient: the " + to_string(o.kind) + " estimator needs a value");
  if (o.kind != PgEstimator::pathwise && !p.control.kl_case())
    throw std::invalid_argument("policy gradient: the " + to_string(o.kind) +
                                " estimator needs a transition density (eta > 0); use pathwise for eta = 0");
  std::vector<Matrix> W(K);
  // lr: the return each step's score multiplies.
  Vector G;
  if (o.kind == PgEstimator::lr) G = P.returns().array() - o.baseline;
  Vector Vi, Vn;
  Matrix gV;
  for (int i = 0; i < K; ++i) {
    const double t = P.times[i], dt = P.times[i + 1] - t;
    const ControlCoefficients c = p.control.coefficients(t);
    // Direct dependence of the step cost on theta: -d c_i / d u_i.
    W[i] = (-c.beta * c.Lambda * dt) * P.U[i];
    switch (o.kind) {
      case PgEstimator::lr: {
        if (o.causal) G += P.cost.row(i).transpose();  // G = r - sum_{j > i} c_j  (c_0..c_i dropped)
        // grad_theta log p(Y_{i+1} | Y_i) = (Y_{i+1} - mean_i)^T B dt/(Sigma^2 dt) du_i/dtheta = B sqrt(dt)/Sigma xi_i^T du_i/dtheta.
        W[i] += (c.B * std::sqrt(dt) / c.Sigma) * (P.xi[i].array().rowwise() * G.transpose().array()).matrix();
        break;
      }
      case PgEstimator::td: {
        value->value(i, t, P.Y[i], Vi);
        value->value(i + 1, P.times[i + 1], P.Y[i + 1], Vn);
        const Vector A = Vn - P.cost.row(i).transpose() - Vi;
        W[i] += (c.B * std::sqrt(dt) / c.Sigma) * (P.xi[i].array().rowwise() * A.transpose().array()).matrix();
        break;
      }
      case PgEstimator::pathwise: {
        value->gradient(i + 1, P.times[i + 1], P.Y[i + 1], gV);
        W[i] += (c.B * dt) * gV;
        break;
      }
    }
  }
  return W;
}

PgGradient estimate_gradient(const Problem& p, const PgPolicy& policy, const PgPaths& P, const PgValue* value,
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
