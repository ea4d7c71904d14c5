#pragma once
// The generic control form of DESIGN.md section 3, used by every solver:
//
//     dY = [ b(t,Y) + B(t) u ] dt + Sigma(t) dW,
//     maximize E[ r(Y_T) - int_0^T beta(t)/2 Lambda(t) |u|^2 dt ],
//     b(t,y) = -f(T-t) y + (1+eta^2)/2 g^2(T-t) s_pre(T-t, y).
//
// eta > 0 (KL):  B = (1+eta^2)/2 g^2, Sigma = eta g, Lambda = (1+eta^2)^2/(4 eta^2) g^2,
//                so the running cost is exactly beta times the path KL (Girsanov).
// eta = 0 (ODE): B = g^2/2, Sigma = 0, Lambda = g^2 (an L2 penalty, not a KL).
//
// HJB:  dV/dt + b.grad V + Sigma^2/2 Lap V + kappa |grad V|^2 = 0,
//       kappa = B^2 / (2 beta Lambda),  u* = gain grad V,  gain = B / (beta Lambda).
#include "hjbft/model/score.hpp"

namespace hjbft {

// Beta(t): constant, or linear in generation time from beta (t = 0) to beta_end (t = T).
class KlWeight {
public:
  KlWeight(double beta0, double beta1, double T) : b0_(beta0), b1_(beta1), T_(T) {}
  explicit KlWeight(double beta = 1.0) : b0_(beta), b1_(beta), T_(1.0) {}
  double operator()(double t) const { return b0_ + (b1_ - b0_) * t / T_; }
  bool constant() const { return b0_ == b1_; }
  double min() const { return b0_ < b1_ ? b0_ : b1_; }

private:
  double b0_, b1_, T_;
};

struct ControlCoefficients {
  double B;       // control gain on the drift
  double Sigma;   // diffusion (scalar times identity)
  double Lambda;  // running-cost weight: cost rate beta/2 Lambda |u|^2
  double beta;
  // B / Lambda in closed form (2 eta^2/(1+eta^2), or 1/2 for eta = 0): both B and Lambda
  // are proportional to g^2, which vanishes at tau = 0 for subvp and csubvp, where the
  // quotient B / Lambda would be 0/0.
  double B_over_Lambda;
  double kappa() const { return B * B_over_Lambda / (2.0 * beta); }  // B^2 / (2 beta Lambda)
  double gain() const { return B_over_Lambda / beta; }                // B / (beta Lambda)
  double cost_rate(double u2) const { return 0.5 * beta * Lambda * u2; }
};

class ControlProblem {
public:
  ControlProblem(ForwardSde sde, double eta, KlWeight beta);  // throws InputError for eta outside [0,1]

  double eta() const { return eta_; }
  double T() const { return sde_.T(); }
  const ForwardSde& sde() const { return sde_; }
  const KlWeight& beta() const { return beta_; }
  bool kl_case() const { return eta_ > 0; }
  // Cole-Hopf linearizes the HJB exactly when B^2/Lambda = Sigma^2 and beta is constant.
  bool cole_hopf_applies() const { return kl_case() && beta_.constant(); }

  ControlCoefficients coefficients(double t) const;
  // Reference drift b(t, y) given the score at tau = T - t.
  Vector drift(double t, const Vector& y, const ScoreAtTime& s) const;
  // Linear part (-f) and score factor ((1+eta^2)/2 g^2) of the drift.
  double drift_linear(double t) const { return -sde_.f(T() - t); }
  double drift_score_factor(double t) const { return 0.5 * (1 + eta_ * eta_) * sde_.g2(T() - t); }

private:
  ForwardSde sde_;
  double eta_;
  KlWeight beta_;
};

}  // namespace hjbft
