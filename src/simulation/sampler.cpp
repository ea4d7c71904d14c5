// The controlled eta-sampler integrated with Boost.Odeint (see sampler.hpp).
#include "hjbft/simulation/sampler.hpp"

#include <mpi.h>

#include <algorithm>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <numeric>

#include "hjbft/core/errors.hpp"

namespace hjbft {

namespace odeint = boost::numeric::odeint;
using State = std::vector<double>;

// ------------------------------------------------------------------ streams

namespace {
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
constexpr std::uint64_t kTagNoise = 1, kTagInit = 2, kTagPool = 3, kTagResample = 4;
}  // namespace

std::mt19937_64 path_stream(std::uint64_t seed, std::uint64_t path_id, std::uint64_t tag) {
  return std::mt19937_64(splitmix64(splitmix64(splitmix64(seed) ^ path_id) ^ (tag * 0x632be59bd9b4e019ULL)));
}

// ------------------------------------------------------------------ schemes

SamplerScheme sampler_scheme_from_string(const std::string& s) {
  if (s == "em") return SamplerScheme::em;
  if (s == "heun") return SamplerScheme::heun;
  if (s == "rk4") return SamplerScheme::rk4;
  if (s == "dopri5") return SamplerScheme::dopri5;
  throw InputError("-sampler", "unknown sampler '" + s +
                                   "' (allowed: em, heun (any eta), rk4, dopri5 (eta = 0, probability-flow ODE))");
}

std::string to_string(SamplerScheme s) {
  switch (s) {
    case SamplerScheme::em: return "em";
    case SamplerScheme::heun: return "heun";
    case SamplerScheme::rk4: return "rk4";
    case SamplerScheme::dopri5: return "dopri5";
  }
  return "?";
}

namespace {

// Odeint-style steppers for SDEs with additive noise, following odeint's
// stochastic stepper pattern: the system is a pair (drift, noise), where
// noise(t, dt, trapezoid, xi) fills xi with the increment int_t^{t+dt} Sigma dW
// (Sigma at t, or with the trapezoidal variance (Sigma^2(t) + Sigma^2(t+dt))/2).
// The type names odeint's stepper concept asks of every stepper.
struct AdditiveNoiseStepperTypes {
  using state_type = State;
  using deriv_type = State;
  using value_type = double;
  using time_type = double;
  using order_type = unsigned short;
  using stepper_category = odeint::stepper_tag;
};

class EulerMaruyama : public AdditiveNoiseStepperTypes {
public:
  static order_type order() { return 1; }  // weak order 1

  template <class System>
  void do_step(System system, State& x, double t, double dt) {
    k_.resize(x.size());
    xi_.resize(x.size());
    system.first(x, k_, t);
    system.second(t, dt, false, xi_);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += dt * k_[i] + xi_[i];
  }

private:
  State k_, xi_;
};

// Stochastic Heun (predictor-corrector) for additive noise: weak order 2.
class AdditiveHeun : public AdditiveNoiseStepperTypes {
public:
  static order_type order() { return 2; }  // weak order 2 (additive noise)

  template <class System>
  void do_step(System system, State& x, double t, double dt) {
    k1_.resize(x.size());
    k2_.resize(x.size());
    xp_.resize(x.size());
    xi_.resize(x.size());
    system.first(x, k1_, t);
    system.second(t, dt, true, xi_);
    for (std::size_t i = 0; i < x.size(); ++i) xp_[i] = x[i] + dt * k1_[i] + xi_[i];
    system.first(xp_, k2_, t + dt);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += 0.5 * dt * (k1_[i] + k2_[i]) + xi_[i];
  }

private:
  State k1_, k2_, xp_, xi_;
};

}  // namespace

Sampler::Sampler(const Problem& p, const ControlSource& u, SamplerSettings s) : p_(p), u_(u), s_(std::move(s)) {
  if ((s_.scheme == SamplerScheme::rk4 || s_.scheme == SamplerScheme::dopri5) && p.eta() > 0)
    throw InputError("-sampler", to_string(s_.scheme) +
                                     " integrates the probability-flow ODE and needs -eta 0; for eta > 0 use em or heun");
  if (s_.batch < 1) throw InputError("-batch", "must be a positive number of paths");
  const double T = p.T();
  const double t_end = s_.t_end < 0 ? T : s_.t_end;
  if (!(t_end > 0 && t_end <= T * (1 + 1e-12))) throw InputError("-sample_t_end", "must be in (0, T]");
  if (!s_.times.empty()) {
    times_ = s_.times;
    if (times_.size() < 2 || times_.front() != 0.0)
      throw InputError("-sample_times", "needs at least two ascending times starting at 0");
    for (std::size_t i = 1; i < times_.size(); ++i)
      if (!(times_[i] > times_[i - 1])) throw InputError("-sample_times", "times must be strictly ascending");
    if (times_.back() > T * (1 + 1e-12)) throw InputError("-sample_times", "times must not exceed T");
  } else {
    if (s_.nsteps < 1) throw InputError("-nsteps", "must be a positive number of time steps");
    if (s_.scheme == SamplerScheme::dopri5) {
      times_ = {0.0, t_end};  // adaptive: nsteps only sets the first trial step
    } else {
      times_.resize(s_.nsteps + 1);
      for (int k = 0; k <= s_.nsteps; ++k) {
        const double q = double(k) / s_.nsteps;
        if (s_.time_grid == "uniform") times_[k] = t_end * q;
        else if (s_.time_grid == "quadratic") times_[k] = t_end * (1 - (1 - q) * (1 - q));
        else throw InputError("-time_grid", "unknown time grid '" + s_.time_grid + "' (allowed: uniform, quadratic)");
      }
      times_.back() = t_end;
    }
  }
  // Stage times of the fixed-step schemes (for sources that precompute per time).
  std::vector<double> stages;
  if (s_.scheme != SamplerScheme::dopri5) {
    for (std::size_t k = 0; k + 1 < times_.size(); ++k) {
      stages.push_back(times_[k]);
      if (s_.scheme == SamplerScheme::rk4) stages.push_back(times_[k] + 0.5 * (times_[k + 1] - times_[k]));
    }
    stages.push_back(times_.back());
    u_.prepare(stages);
  }
}

namespace {

// One batch of nb paths as one system of (d + 1) nb unknowns for odeint: per
// path (column) the state Y (d rows) and the running cost int beta/2 Lambda |u|^2
// (the last row), with the drift of the controlled sampler and, for the SDE
// schemes, the additive noise Sigma(t) dW drawn from each path's own stream.
struct BatchSystem {
  const Problem& p;
  const ControlSource& u;
  int d;
  Eigen::Index nb;
  std::vector<char> outside;
  std::vector<std::mt19937_64> rng;
  long evals = 0;
  Matrix Y, S, U;  // work arrays, d x nb

  BatchSystem(const Problem& p_, const ControlSource& u_, Eigen::Index nb_, std::uint64_t seed, std::uint64_t first)
      : p(p_), u(u_), d(p_.dim), nb(nb_), outside(nb_, 0), Y(d, nb_), S(d, nb_), U(d, nb_) {
    rng.reserve(nb);
    for (Eigen::Index j = 0; j < nb; ++j) rng.push_back(path_stream(seed, first + j, kTagNoise));
  }

  // dx = [b(t, Y) + B u(t, Y); beta/2 Lambda |u|^2] per column.
  void drift(const State& xs, State& dx, double t) {
    Eigen::Map<const Matrix> X(xs.data(), d + 1, nb);
    Y = X.topRows(d);
    const double tau = std::max(0.0, p.T() - t);
    const ScoreAtTime s = p.score.at_tau(tau);
    batch_score(s, p.score.error(), Y, S);
    u.eval(t, Y, U, outside);
    const ControlCoefficients c = p.control.coefficients(t);
    dx.resize(xs.size());
    Eigen::Map<Matrix> D(dx.data(), d + 1, nb);
    D.topRows(d) = p.control.drift_linear(t) * Y + p.control.drift_score_factor(t) * S + c.B * U;
    D.row(d) = c.cost_rate(1.0) * U.colwise().squaredNorm();
    ++evals;
  }

  // The increment Sigma dW over [t, t + dt] (trapezoid: the mean variance of the
  // interval, for Heun).  A fresh distribution per draw, so that no cached normal
  // deviate passes from one path's stream to another's.
  void noise(double t, double dt, bool trapezoid, State& xi) {
    const double T = p.T();
    double var = std::pow(p.control.coefficients(t).Sigma, 2);
    if (trapezoid) var = 0.5 * (var + std::pow(p.control.coefficients(std::min(T, t + dt)).Sigma, 2));
    const double sd = std::sqrt(var * dt);
    xi.assign(static_cast<std::size_t>((d + 1) * nb), 0.0);
    if (sd == 0.0) return;
    for (Eigen::Index j = 0; j < nb; ++j)
      for (int a = 0; a < d; ++a) xi[j * (d + 1) + a] = sd * std::normal_distribution<double>()(rng[j]);
  }
};

// Integrates the batch over `times` with the scheme; returns the accepted steps.
long integrate_batch(const SamplerSettings& s, const std::vector<double>& times, BatchSystem& sys, State& x) {
  auto drift = [&sys](const State& xs, State& dx, double t) { sys.drift(xs, dx, t); };
  long steps = 0;
  switch (s.scheme) {
    case SamplerScheme::em:
    case SamplerScheme::heun: {
      auto noise = [&sys](double t, double dt, bool trapezoid, State& xi) { sys.noise(t, dt, trapezoid, xi); };
      auto sde = std::make_pair(drift, noise);
      if (s.scheme == SamplerScheme::em) {
        EulerMaruyama st;
        for (std::size_t k = 0; k + 1 < times.size(); ++k, ++steps) st.do_step(sde, x, times[k], times[k + 1] - times[k]);
      } else {
        AdditiveHeun st;
        for (std::size_t k = 0; k + 1 < times.size(); ++k, ++steps) st.do_step(sde, x, times[k], times[k + 1] - times[k]);
      }
      break;
    }
    case SamplerScheme::rk4: {
      odeint::runge_kutta4<State> st;
      for (std::size_t k = 0; k + 1 < times.size(); ++k, ++steps) st.do_step(drift, x, times[k], times[k + 1] - times[k]);
      break;
    }
    case SamplerScheme::dopri5: {
      const double dt0 = (times.back() - times.front()) / std::max(1, s.nsteps);
      for (std::size_t k = 0; k + 1 < times.size(); ++k)
        steps += static_cast<long>(odeint::integrate_adaptive(
            odeint::make_controlled(s.atol, s.rtol, odeint::runge_kutta_dopri5<State>()), drift, x, times[k],
            times[k + 1], std::min(dt0, times[k + 1] - times[k])));
      break;
    }
  }
  return steps;
}

}  // namespace

PathResults Sampler::integrate(const Matrix& y0, std::uint64_t first_id) const {
  const int d = p_.dim;
  if (y0.cols() != d) throw SolverError("sampler: initial states have the wrong dimension");
  const Eigen::Index n = y0.rows();
  PathResults res;
  res.y0 = y0;
  res.yT.resize(n, d);
  res.cost.resize(n);
  res.outside.assign(n, 0);
  for (Eigen::Index b0 = 0; b0 < n; b0 += s_.batch) {
    const Eigen::Index nb = std::min<Eigen::Index>(s_.batch, n - b0);
    State x((d + 1) * nb, 0.0);
    {
      Eigen::Map<Matrix> X(x.data(), d + 1, nb);
      X.topRows(d) = y0.middleRows(b0, nb).transpose();
      X.row(d).setZero();
    }
    BatchSystem sys(p_, u_, nb, s_.seed, first_id + b0);
    const long steps = integrate_batch(s_, times_, sys, x);
    Eigen::Map<const Matrix> X(x.data(), d + 1, nb);
    res.yT.middleRows(b0, nb) = X.topRows(d).transpose();
    res.cost.segment(b0, nb) = X.row(d).transpose();
    for (Eigen::Index j = 0; j < nb; ++j) res.outside[b0 + j] = sys.outside[j];
    res.steps = std::max(res.steps, steps);
    res.rhs_evals += sys.evals;
  }
  return res;
}

}  // namespace hjbft
