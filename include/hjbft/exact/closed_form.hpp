#pragma once
// Closed forms: the ground truth's ground truth (DESIGN.md section 4).
//
// 1. gaussian_tilt (model/gaussian_tilt.hpp, also the reward's well-posedness).
// 2. GmmClosedForm: V*(t,y) = beta log sum_k gamma_k(y) E_k(y) for eta = 1,
//    exact score, GMM data, constant beta; u* = grad V*/beta.
// 3. tilted_law: p_data e^{r/beta} / Z as a GMM.
// 4. GaussianRiccati: Gaussian data, any eta (also eta = 0, time-varying beta):
//    the reference sampler is linear, b(t,y) = F(t) y + c(t), the value is
//    quadratic V = -1/2 y'Py + p'y + k and (P, p, k) solve a Riccati ODE.
//    transition_moments gives Y_T | Y_t = y ~ N(Phi y + psi, Q) from the
//    moment ODEs, an independent route to V via Cole-Hopf when eta > 0.
#include <vector>

#include "hjbft/model/control_problem.hpp"
#include "hjbft/model/gaussian_tilt.hpp"
#include "hjbft/model/reward.hpp"

namespace hjbft {

class GmmClosedForm {
public:
  // Throws SolverError unless the reward has a quadratic form and is well posed.
  GmmClosedForm(const Gmm& data, const ForwardSde& sde, const Reward& reward, double beta);

  struct Point {
    double V;
    Vector grad;  // grad_y V
  };
  // Per-time data (posterior covariances, marginal precisions) built once.
  class AtTime {
  public:
    Point operator()(const Vector& y) const;

  private:
    friend class GmmClosedForm;
    const GmmClosedForm* cf_ = nullptr;
    bool terminal_ = false;
    double m_ = 1, v_ = 0;
    std::vector<Matrix> post_cov_;      // C_k
    std::vector<Vector> post_shift_;    // C_k S_k^{-1} mu_k
    Gmm marginal_;                   // N(m mu_k, m^2 S_k + v I)
  };
  AtTime at_time(double t) const;
  Point operator()(double t, const Vector& y) const { return at_time(t)(y); }
  double beta() const { return beta_; }

private:
  Gmm data_;
  ForwardSde sde_;
  QuadraticForm r_;
  double beta_;
};

Gmm tilted_law(const Gmm& data, const Reward& reward, double beta);

struct QuadraticValue {
  double t;
  Matrix P;  // V = -1/2 y'Py + p'y + k
  Vector p;
  double k;
  double value(const Vector& y) const { return -0.5 * y.dot(P * y) + p.dot(y) + k; }
  Vector grad(const Vector& y) const { return -(P * y) + p; }
};

struct LinearDrift {
  Matrix F;  // b(t,y) = F y + c
  Vector c;
};

struct TransitionMoments {
  Matrix Phi;
  Vector psi;
  Matrix Q;
};

class GaussianRiccati {
public:
  // data must have a single component; the score must be exact.
  GaussianRiccati(const Gmm& data, const ControlProblem& problem, const Reward& reward);

  LinearDrift drift(double t) const;
  // Value at the given generation times (any order), by one backward sweep.
  std::vector<QuadraticValue> value(const std::vector<double>& times, double rel_tol = 1e-10) const;
  // Y_T | Y_t = y ~ N(Phi y + psi, Q) under the reference sampler.
  TransitionMoments transition_moments(double t, double rel_tol = 1e-10) const;
  // Mean and covariance of Y_t under the reference sampler started from the exact p_T.
  std::pair<Vector, Matrix> sampler_moments(double t, double rel_tol = 1e-10) const;

private:
  Vector mu0_;
  Matrix S0_;
  ControlProblem problem_;
  QuadraticForm r_;
};

}  // namespace hjbft
