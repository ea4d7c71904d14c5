#include "hjbft/model/control_problem.hpp"

#include <cmath>

#include "hjbft/core/errors.hpp"

namespace hjbft {

ControlProblem::ControlProblem(ForwardSde sde, double eta, KlWeight beta)
    : sde_(std::move(sde)), eta_(eta), beta_(beta) {
  if (!std::isfinite(eta) || eta < 0 || eta > 1)
    throw InputError("-eta", "must be in [0, 1] (1 = reverse SDE, 0 = probability-flow ODE)");
}

ControlCoefficients ControlProblem::coefficients(double t) const {
  const double g2 = sde_.g2(T() - t);
  ControlCoefficients c{};
  c.beta = beta_(t);
  if (eta_ > 0) {
    const double a = 1 + eta_ * eta_;
    c.B = 0.5 * a * g2;
    c.Sigma = eta_ * std::sqrt(g2);
    c.Lambda = a * a / (4 * eta_ * eta_) * g2;
    c.B_over_Lambda = 2 * eta_ * eta_ / a;
  } else {
    c.B = 0.5 * g2;
    c.Sigma = 0.0;
    c.Lambda = g2;
    c.B_over_Lambda = 0.5;
  }
  return c;
}

Vector ControlProblem::drift(double t, const Vector& y, const ScoreAtTime& s) const {
  return drift_linear(t) * y + drift_score_factor(t) * s(y);
}

}  // namespace hjbft
