// Update rules of the policy gradient (include/hjbft/solvers/pg.hpp,
// docs/policy_gradient.md section 5): the local surrogate of J around the
// policy that generated a batch, its PPO clipping, the chain's path KL and
// its Fisher matrix, and the three updates (Adam step, PPO epochs, trust region).
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/mpi.hpp"
#include "hjbft/solvers/pg.hpp"

namespace hjbft {

PgSurrogate make_surrogate(const Problem& p, const SimulatedPaths& P, const PgValue* value, const PgEstimatorOptions& o) {
  const int K = P.nsteps();
  const long n = P.n();
  if (o.kind != PgEstimator::lr && !value)
    throw std::invalid_argument("policy gradient: the " + to_string(o.kind) + " estimator needs a value");
  if (o.kind != PgEstimator::pathwise && !p.control.kl_case())
    throw std::invalid_argument("policy gradient: the " + to_string(o.kind) +
                                " estimator needs a transition density (eta > 0); use pathwise for eta = 0");
  PgSurrogate s;
  s.score_form = o.kind != PgEstimator::pathwise;
  Vector Vi, Vn;
  Matrix gV;
  if (o.kind == PgEstimator::pathwise) {
    s.dir.resize(K);
    for (int i = 0; i < K; ++i) {
      const double t = P.times[i], dt = P.times[i + 1] - t;
      value->gradient(i + 1, P.times[i + 1], P.Y[i + 1], gV);
      s.dir[i] = (p.control.coefficients(t).B * dt) * gV;
    }
    return s;
  }
  s.adv.resize(K, n);
  Vector G;
  if (o.kind == PgEstimator::lr) G = P.returns().array() - o.baseline;
  for (int i = 0; i < K; ++i) {
    if (o.kind == PgEstimator::lr) {
      if (o.causal) G += P.cost.row(i).transpose();  // G = r - sum_{j > i} c_j  (c_0..c_i dropped)
      s.adv.row(i) = G.transpose();
    } else {
      value->value(i, P.times[i], P.Y[i], Vi);
      value->value(i + 1, P.times[i + 1], P.Y[i + 1], Vn);
      s.adv.row(i) = (Vn - P.cost.row(i).transpose() - Vi).transpose();  // A_i
    }
  }
  return s;
}

SurrogateSums evaluate_surrogate(const Problem& p, const PgPolicy& policy, const SimulatedPaths& P, const PgSurrogate& s,
                                 Vector* grad) {
  const int K = P.nsteps();
  const long n = P.n();
  const bool clipping = s.clip > 0 && std::isfinite(s.clip);
  SurrogateSums sums;
  Matrix U, dU, W;
  for (int i = 0; i < K; ++i) {
    const double t = P.times[i], dt = P.times[i + 1] - t;
    const ControlCoefficients c = p.control.coefficients(t);
    policy.control(t, P.Y[i], U);
    dU = U - P.U[i];
    const Eigen::RowVectorXd sq = dU.colwise().squaredNorm();
    sums.kl += 0.5 * c.Lambda * dt * sq.sum();
    // -(c_i(theta) - c_i) and its derivative in u_i.
    sums.value -= 0.5 * c.beta * c.Lambda * dt * (U.colwise().squaredNorm().sum() - P.U[i].colwise().squaredNorm().sum());
    W = (-c.beta * c.Lambda * dt) * U;
    if (s.score_form) {
      // log rho = B sqrt(dt)/Sigma xi.du - B^2 dt/(2 Sigma^2) |du|^2 (Gaussian transitions, same covariance).
      const double kappa = c.B * std::sqrt(dt) / c.Sigma, lam = c.B * c.B * dt / (c.Sigma * c.Sigma);
      for (long j = 0; j < n; ++j) {
        const double a = s.adv(i, j);
        const double rho = std::exp(kappa * P.xi[i].col(j).dot(dU.col(j)) - 0.5 * lam * sq[j]);
        if (clipping) {
          const double rc = std::min(std::max(rho, 1.0 - s.clip), 1.0 + s.clip);
          if (rc * a < rho * a) {  // the clipped branch is the minimum: constant in theta
            sums.value += rc * a - a;
            sums.clipped += 1;
            continue;
          }
        }
        sums.value += rho * a - a;
        // d(rho a)/du = rho a d log rho/du.
        W.col(j) += (rho * a) * (kappa * P.xi[i].col(j) - lam * dU.col(j));
      }
    } else {
      sums.value += (s.dir[i].array() * dU.array()).sum();
      W += s.dir[i];
    }
    if (grad) policy.vjp(t, P.Y[i], W, *grad);
  }
  return sums;
}

void fisher_vector_product(const Problem& p, const PgPolicy& policy, const SimulatedPaths& P, const Vector& v, Vector& Fv) {
  Matrix dU;
  for (int i = 0; i < P.nsteps(); ++i) {
    const double t = P.times[i], dt = P.times[i + 1] - t;
    policy.jvp(t, P.Y[i], v, dU);
    dU *= p.control.coefficients(t).Lambda * dt;
    policy.vjp(t, P.Y[i], dU, Fv);
  }
}

PgMethod pg_method_from_string(const std::string& s, const std::string& option) {
  if (s == "adam") return PgMethod::adam;
  if (s == "ppo") return PgMethod::ppo;
  if (s == "trust_region") return PgMethod::trust_region;
  throw InputError(option, "unknown method '" + s + "' (allowed: adam, ppo, trust_region)");
}

std::string to_string(PgMethod m) {
  switch (m) {
    case PgMethod::adam: return "adam";
    case PgMethod::ppo: return "ppo";
    case PgMethod::trust_region: return "trust_region";
  }
  return "?";
}

namespace {

void check_finite(const Vector& g, const char* what) {
  if (!std::isfinite(g.norm())) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "policy gradient: the %s is non-finite", what);
    throw SolverError(buf);
  }
}

// The surrogate L of a batch at the policy's current parameters, reduced over
// the ranks and divided by the paths of all ranks: per path, so that the
// step sizes and the KL bound do not depend on the batch size.
class BatchSurrogate {
public:
  BatchSurrogate(MPI_Comm comm, long n_total, const Problem& p, PgPolicy& policy, const SimulatedPaths& P,
                 const PgSurrogate& s)
      : comm_(comm), inv_n_(1.0 / static_cast<double>(n_total)), np_(policy.n_params()), p_(p), policy_(policy),
        P_(P), s_(s) {}
  // grad L / n.
  Vector gradient() const {
    Vector g = Vector::Zero(np_);
    evaluate_surrogate(p_, policy_, P_, s_, &g);
    allreduce_sum(comm_, g.data(), np_);
    return Vector(g * inv_n_);
  }
  // L / n, the path KL / n and the clipped pairs (a count, not divided).
  SurrogateSums measure() const {
    const SurrogateSums m = evaluate_surrogate(p_, policy_, P_, s_, nullptr);
    double buf[3] = {m.value, m.kl, m.clipped};
    allreduce_sum(comm_, buf, 3);
    return SurrogateSums{buf[0] * inv_n_, buf[1] * inv_n_, buf[2]};
  }
  // (F/n + damping I) v, F the Fisher matrix at the current parameters.
  Vector fisher(const Vector& v, double damping) const {
    Vector r = Vector::Zero(np_);
    fisher_vector_product(p_, policy_, P_, v, r);
    allreduce_sum(comm_, r.data(), np_);
    return Vector(r * inv_n_ + damping * v);
  }
  int n_params() const { return np_; }

private:
  MPI_Comm comm_;
  double inv_n_;
  int np_;
  const Problem& p_;
  PgPolicy& policy_;
  const SimulatedPaths& P_;
  const PgSurrogate& s_;
};

// PPO: the first epoch's gradient is the estimator g0 (L is the estimator's
// surrogate); the later epochs ascend the clipped surrogate, whose gradient
// vanishes on the pairs whose ratio left [1 - eps, 1 + eps] in the favoured direction.
void ppo_epochs(const BatchSurrogate& L, const Vector& g0, nn::Adam& adam, int epochs, Vector& theta) {
  adam.step(theta, -g0);  // ascent on J
  for (int e = 1; e < epochs; ++e) {
    const Vector g = L.gradient();
    check_finite(g, "PPO surrogate gradient");
    adam.step(theta, -g);
  }
}

// Conjugate gradients for (F/n + damping I) x = g0, from x = 0: the natural
// gradient direction without forming F (one Fisher-vector product per
// iteration).  Stops at a direction of non-positive curvature (rounding) or
// when the residual is 1e-12 of the first; *residual = |r| / |g0|.
Vector natural_gradient(const BatchSurrogate& L, const Vector& g0, const PgUpdateOptions& o, double* residual) {
  Vector x = Vector::Zero(L.n_params()), r = g0, d = g0;
  double rr = r.squaredNorm();
  const double rr0 = rr;
  for (int it = 0; it < o.cg_iterations && rr > 1e-24 * rr0 && rr > 0; ++it) {
    const Vector Ad = L.fisher(d, o.cg_damping);
    const double dAd = d.dot(Ad);
    if (!(dAd > 0)) break;
    const double alpha = rr / dAd;
    x += alpha * d;
    r -= alpha * Ad;
    const double rr_new = r.squaredNorm();
    d = r + (rr_new / rr) * d;
    rr = rr_new;
  }
  *residual = rr0 > 0 ? std::sqrt(rr / rr0) : 0.0;
  return x;
}

// TRPO's step along the natural gradient x: scaled so that the quadratic
// model of the path KL per path, s^T (F/n + damping) s / 2, equals kl_max for
// the step s, then halved until the
// measured path KL is within kl_max and the surrogate improves (the quadratic
// model can be wrong both ways).  Keeps theta when no step is acceptable.
void trust_region_step(const BatchSurrogate& L, const Vector& g0, const PgUpdateOptions& o, Vector& theta,
                       PgUpdateReport& rep) {
  const Vector x = natural_gradient(L, g0, o, &rep.cg_residual);
  const double xFx = x.dot(L.fisher(x, o.cg_damping));
  const Vector theta_old = theta;
  rep.step_fraction = 0;
  if (xFx > 0 && std::isfinite(xFx)) {
    const Vector step = std::sqrt(2 * o.kl_max / xFx) * x;  // quadratic model: KL = kl_max
    double frac = 1;
    for (int b = 0; b <= o.backtracks; ++b, frac *= 0.5) {
      theta = theta_old + frac * step;
      const SurrogateSums m = L.measure();
      if (m.kl <= o.kl_max && m.value > 0) {
        rep.step_fraction = frac;
        break;
      }
    }
  }
  if (rep.step_fraction == 0) theta = theta_old;  // no acceptable step: keep the policy
}

}  // namespace

PgUpdateReport pg_update(MPI_Comm comm, long n_total, const Problem& p, PgPolicy& policy, const SimulatedPaths& P,
                         const PgSurrogate& s, nn::Adam& adam, const PgUpdateOptions& o) {
  const BatchSurrogate L(comm, n_total, p, policy, P, s);
  PgUpdateReport rep;
  const Vector g0 = L.gradient();  // grad L(pi) / n: the estimator
  check_finite(g0, "gradient");
  rep.grad_norm = g0.norm();
  Vector& theta = policy.params();
  switch (o.method) {
    case PgMethod::adam: adam.step(theta, -g0); break;  // ascent on J
    case PgMethod::ppo: ppo_epochs(L, g0, adam, o.ppo_epochs, theta); break;
    case PgMethod::trust_region: trust_region_step(L, g0, o, theta, rep); break;
  }
  const SurrogateSums m = L.measure();
  rep.step_kl = m.kl;
  rep.surrogate_gain = m.value;
  rep.clip_fraction = m.clipped / (static_cast<double>(n_total) * P.nsteps());
  return rep;
}

}  // namespace hjbft
