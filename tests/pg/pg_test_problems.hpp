#pragma once
// Problems and initial states shared by the policy-gradient tests.
#include <cmath>
#include <random>

#include "hjbft/model/problem.hpp"
#include "hjbft/simulation/sampler.hpp"

namespace hjbft::pgtest {

// Gaussian data N(0.5, 0.3), vp with h_max, linear reward r = w x, beta = 1: the
// Euler-Maruyama chain under a constant score shift is affine (exact J and value).
inline Problem gaussian_linear(double eta, double hmax = 8, double w = 1) {
  ProblemOptions o;
  o.weights = {1.0};
  o.means = {0.5};
  o.vars = {0.3};
  o.reward = "linear";
  o.reward_vector = {w};
  o.beta = 1.0;
  o.eta = eta;
  o.sde_params.h_max = hmax;
  return build_problem(o);
}

// Initial states N(0, v(T)) (the default initial law), from per-path streams.
inline Matrix initial(const Problem& p, long n, std::uint64_t seed) {
  Matrix Y0(n, p.dim);
  const double s = std::sqrt(p.sde.v(p.T()));
  for (long j = 0; j < n; ++j) {
    auto rng = path_stream(seed, static_cast<std::uint64_t>(j), 11);
    std::normal_distribution<double> normal;
    for (int a = 0; a < p.dim; ++a) Y0(j, a) = s * normal(rng);
  }
  return Y0;
}

}  // namespace hjbft::pgtest
