// Gaussian data N(mu0, S0), exact score, any eta: the reference drift is linear,
//   b(t,y) = F y + c,  F = -f I - a Sig^{-1},  c = a Sig^{-1} m mu0,
//   a = (1+eta^2)/2 g^2,  Sig = m^2 S0 + v I   (all at tau = T - t),
// and V = -1/2 y'Py + p'y + k solves the HJB exactly when (d/dt)
//   P' = -(F'P + PF) + 2 kappa P^2,
//   p' = -F'p + P c + 2 kappa P p,
//   k' = -c'p - kappa |p|^2 + Sigma^2/2 tr P,
// with P(T) = A, p(T) = A c_r + b, k(T) = -1/2 c_r'A c_r, kappa = B^2/(2 beta Lambda).
// This holds for every eta, eta = 0 and time-varying beta included.  The ODEs
// are integrated in s = T - t (forward) with an adaptive Dormand-Prince stepper.
#include <algorithm>
#include <boost/numeric/odeint.hpp>
#include <map>

#include "hjbft/core/errors.hpp"
#include "hjbft/exact/closed_form.hpp"

namespace hjbft {

namespace odeint = boost::numeric::odeint;
using State = std::vector<double>;

GaussianRiccati::GaussianRiccati(const Gmm& data, const ControlProblem& problem, const Reward& reward)
    : problem_(problem) {
  if (data.size() != 1) throw SolverError("the Riccati closed form needs Gaussian (one-component) data");
  auto q = reward.quadratic_form();
  if (!q) throw SolverError("the Riccati closed form needs a linear or quadratic reward");
  mu0_ = data.component(0).mean;
  S0_ = data.component(0).cov;
  r_ = *q;
}

LinearDrift GaussianRiccati::drift(double t) const {
  const auto& sde = problem_.sde();
  const double tau = problem_.T() - t;
  const int d = static_cast<int>(mu0_.size());
  const double m = sde.m(tau), v = sde.v(tau);
  const Matrix Sinv = (m * m * S0_ + v * Matrix::Identity(d, d)).inverse();
  const double a = problem_.drift_score_factor(t);
  return {problem_.drift_linear(t) * Matrix::Identity(d, d) - a * Sinv, a * (Sinv * (m * mu0_))};
}

std::vector<QuadraticValue> GaussianRiccati::value(const std::vector<double>& times, double rel_tol) const {
  const int d = static_cast<int>(mu0_.size());
  const double T = problem_.T();
  State x(d * d + d + 1);
  Eigen::Map<Matrix>(x.data(), d, d) = r_.A;
  Eigen::Map<Vector>(x.data() + d * d, d) = r_.A * r_.c + r_.b;
  x[d * d + d] = -0.5 * r_.c.dot(r_.A * r_.c);

  auto rhs = [&](const State& xs, State& dxds, double s) {
    const double t = T - s;
    const LinearDrift L = drift(t);
    const ControlCoefficients cc = problem_.coefficients(t);
    const double kappa = cc.kappa();
    Eigen::Map<const Matrix> P(xs.data(), d, d);
    Eigen::Map<const Vector> p(xs.data() + d * d, d);
    // d/ds = -d/dt
    Eigen::Map<Matrix>(dxds.data(), d, d) = (L.F.transpose() * P + P * L.F) - 2 * kappa * P * P;
    Eigen::Map<Vector>(dxds.data() + d * d, d) = L.F.transpose() * p - P * L.c - 2 * kappa * P * p;
    dxds[d * d + d] = L.c.dot(p) + kappa * p.squaredNorm() - 0.5 * cc.Sigma * cc.Sigma * P.trace();
  };

  std::vector<double> s_list{0.0};
  for (double t : times) {
    if (t < 0 || t > T) throw SolverError("Riccati: time outside [0, T]");
    s_list.push_back(T - t);
  }
  std::sort(s_list.begin(), s_list.end());
  s_list.erase(std::unique(s_list.begin(), s_list.end()), s_list.end());
  std::map<double, QuadraticValue> at;
  auto observe = [&](const State& xs, double s) {
    QuadraticValue q{T - s, Eigen::Map<const Matrix>(xs.data(), d, d), Eigen::Map<const Vector>(xs.data() + d * d, d),
                     xs[d * d + d]};
    q.P = 0.5 * (q.P + q.P.transpose());
    at[s] = q;
  };
  if (s_list.size() == 1) {
    observe(x, 0.0);
  } else {
    auto stepper = odeint::make_dense_output(1e-14, rel_tol, odeint::runge_kutta_dopri5<State>());
    odeint::integrate_times(stepper, rhs, x, s_list.begin(), s_list.end(), 1e-4 * T, observe);
  }
  std::vector<QuadraticValue> out;
  for (double t : times) out.push_back(at.at(T - t));
  return out;
}

TransitionMoments GaussianRiccati::transition_moments(double t0, double rel_tol) const {
  const int d = static_cast<int>(mu0_.size());
  const double T = problem_.T();
  State x(2 * d * d + d, 0.0);
  Eigen::Map<Matrix>(x.data(), d, d) = Matrix::Identity(d, d);
  auto rhs = [&](const State& xs, State& dx, double t) {
    const LinearDrift L = drift(t);
    const double S2 = std::pow(problem_.coefficients(t).Sigma, 2);
    Eigen::Map<const Matrix> Phi(xs.data(), d, d);
    Eigen::Map<const Vector> psi(xs.data() + d * d, d);
    Eigen::Map<const Matrix> Q(xs.data() + d * d + d, d, d);
    Eigen::Map<Matrix>(dx.data(), d, d) = L.F * Phi;
    Eigen::Map<Vector>(dx.data() + d * d, d) = L.F * psi + L.c;
    Eigen::Map<Matrix>(dx.data() + d * d + d, d, d) = L.F * Q + Q * L.F.transpose() + S2 * Matrix::Identity(d, d);
  };
  if (t0 < T)
    odeint::integrate_adaptive(odeint::make_controlled(1e-14, rel_tol, odeint::runge_kutta_dopri5<State>()), rhs, x,
                               t0, T, 1e-4 * T);
  TransitionMoments tm{Eigen::Map<Matrix>(x.data(), d, d), Eigen::Map<Vector>(x.data() + d * d, d),
                       Eigen::Map<Matrix>(x.data() + d * d + d, d, d)};
  tm.Q = 0.5 * (tm.Q + tm.Q.transpose());
  return tm;
}

std::pair<Vector, Matrix> GaussianRiccati::sampler_moments(double t1, double rel_tol) const {
  const int d = static_cast<int>(mu0_.size());
  const auto& sde = problem_.sde();
  const double T = problem_.T();
  State x(d + d * d);
  Eigen::Map<Vector>(x.data(), d) = sde.m(T) * mu0_;
  Eigen::Map<Matrix>(x.data() + d, d, d) = sde.m(T) * sde.m(T) * S0_ + sde.v(T) * Matrix::Identity(d, d);
  auto rhs = [&](const State& xs, State& dx, double t) {
    const LinearDrift L = drift(t);
    const double S2 = std::pow(problem_.coefficients(t).Sigma, 2);
    Eigen::Map<const Vector> mu(xs.data(), d);
    Eigen::Map<const Matrix> S(xs.data() + d, d, d);
    Eigen::Map<Vector>(dx.data(), d) = L.F * mu + L.c;
    Eigen::Map<Matrix>(dx.data() + d, d, d) = L.F * S + S * L.F.transpose() + S2 * Matrix::Identity(d, d);
  };
  if (t1 > 0)
    odeint::integrate_adaptive(odeint::make_controlled(1e-14, rel_tol, odeint::runge_kutta_dopri5<State>()), rhs, x,
                               0.0, t1, 1e-4 * T);
  return {Eigen::Map<Vector>(x.data(), d), Eigen::Map<Matrix>(x.data() + d, d, d)};
}

}  // namespace hjbft
