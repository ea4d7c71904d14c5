#pragma once
// E[exp(r(X)/beta)] for X ~ N(mu, C) and a quadratic-form reward, in log
// space, with the tilted mean and covariance: the building block of the
// closed forms (exact/closed_form.hpp) and of the reward's well-posedness
// check.  Written in terms of C (not C^{-1}) so that C may be singular (t = T).
#include "hjbft/core/linalg.hpp"
#include "hjbft/model/gmm.hpp"
#include "hjbft/model/reward.hpp"

namespace hjbft {

struct GaussianTilt {
  bool finite = false;   // false: E[exp(r/beta)] = infinity (ill-posed)
  double log_E = 0.0;    // log E[exp(r(X)/beta)]
  Vector grad_mu;           // d log_E / d mu
  Vector tilted_mean;       // mean of N(mu,C) e^{r/beta} / E
  Matrix tilted_cov;
};

GaussianTilt gaussian_tilt(const Vector& mu, const Matrix& C, const QuadraticForm& r, double beta);

// True when S^{-1} + A/beta is positive definite for every component: the
// condition for E[exp(r/beta)] < infinity under the data (and every posterior).
bool quadratic_reward_well_posed(const Gmm& data, const QuadraticForm& r, double beta);

}  // namespace hjbft
