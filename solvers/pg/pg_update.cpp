// Update rules of the policy gradient (include/hjbft/policy_gradient.hpp,
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

}  // namespace

PgUpdateReport pg_update(MPI_Comm comm, long n_total, const Problem& p, PgPolicy& policy, const SimulatedPaths& P,
                         const PgSurrogate& s, nn::Adam& adam, const PgUpdateOptions& o) {
  const double inv_n = 1.0 / static_cast<double>(n_total);
  const int np = policy.n_params();
  // grad L / n (all ranks) at the policy's current parameters.
  auto gradient = [&] {
    Vector g = Vector::Zero(np);
    evaluate_surrogate(p, policy, P, s, &g);
    allreduce_sum(comm, g.data(), np);
    return Vector(g * inv_n);
  };
  auto measure = [&] {
    const SurrogateSums m = evaluate_surrogate(p, policy, P, s, nullptr);
    double buf[3] = {m.value, m.kl, m.clipped};
    allreduce_sum(comm, buf, 3);
    return SurrogateSums{buf[0] * inv_n, buf[1] * inv_n, buf[2]};
  };

  PgUpdateReport rep;
  const Vector g0 = gradient();
  check_finite(g0, "gradient");
  rep.grad_norm = g0.norm();
  Vector& theta = policy.params();
  switch (o.method) {
    case PgMethod::adam: adam.step(theta, -g0); break;  // ascent on J
    case PgMethod::ppo: {
      adam.step(theta, -g0);
      for (int e = 1; e < o.ppo_epochs; ++e) {
        const Vector g = gradient();
        check_finite(g, "PPO surrogate gradient");
        adam.step(theta, -g);
      }
      break;
    }
    case PgMethod::trust_region: {
      // Conjugate gradients for (F/n + damping I) x = g0.
      auto Fv = [&](const Vector& v) {
        Vector r = Vector::Zero(np);
        fisher_vector_product(p, policy, P, v, r);
        allreduce_sum(comm, r.data(), np);
        return Vector(r * inv_n + o.cg_damping * v);
      };
      Vector x = Vector::Zero(np), r = g0, d = g0;
      double rr = r.squaredNorm();
      const double rr0 = rr;
      for (int it = 0; it < o.cg_iterations && rr > 1e-24 * rr0 && rr > 0; ++it) {
        const Vector Ad = Fv(d);
        const double dAd = d.dot(Ad);
        if (!(dAd > 0)) break;
        const double alpha = rr / dAd;
        x += alpha * d;
        r -= alpha * Ad;
        const double rr_new = r.squaredNorm();
        d = r + (rr_new / rr) * d;
        rr = rr_new;
      }
      rep.cg_residual = rr0 > 0 ? std::sqrt(rr / rr0) : 0.0;
      const double xFx = x.dot(Fv(x));
      const Vector theta_old = theta;
      rep.step_fraction = 0;
      if (xFx > 0 && std::isfinite(xFx)) {
        const Vector step = std::sqrt(2 * o.kl_max / xFx) * x;  // quadratic model: KL = kl_max
        double frac = 1;
        for (int b = 0; b <= o.backtracks; ++b, frac *= 0.5) {
          theta = theta_old + frac * step;
          const SurrogateSums m = measure();
          if (m.kl <= o.kl_max && m.value > 0) {
            rep.step_fraction = frac;
            break;
          }
        }
      }
      if (rep.step_fraction == 0) theta = theta_old;  // no acceptable step: keep the policy
      break;
    }
  }
  const SurrogateSums m = measure();
  rep.step_kl = m.kl;
  rep.surrogate_gain = m.value;
  rep.clip_fraction = m.clipped / (static_cast<double>(n_total) * P.nsteps());
  return rep;
}

}  // namespace hjbft
