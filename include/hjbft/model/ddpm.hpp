#pragma once
// The discrete-time (DDPM-type) chain of DESIGN.md section 5, for any of the
// six SDE families:
//
//   Y_{t+1} = a_t Y_t + b_t U_t + sigma_t W,   t = 0..K-1,   k = K - t,
//   forward step k:  X_k = rho_k X_{k-1} + sqrt(q_k) eps,
//       rho_k = m(tau_k)/m(tau_{k-1}),  q_k = v(tau_k) - rho_k^2 v(tau_{k-1}),  tau_k = k T/K,
//   a_t = 1/rho_k,  b_t = q_k/rho_k,  sigma_t^2 = q_k,  reference U_t = s(tau_k, Y_t).
//
// For vp, rho_k^2 = alpha_k and q_k = 1 - alpha_k: the DDPM ancestral sampler
// a = alpha^{-1/2}, b = (1-alpha) alpha^{-1/2}, sigma^2 = 1 - alpha.
// Step KL = b^2/(2 sigma^2) |U - s|^2; objective E[r(Y_K) - sum_t beta_t KL_t]
// with beta_t = beta(t T/K).  Bellman:
//   V_t(y) = max_u { -c_t/2 |u - s_t(y)|^2 + E V_{t+1}(a_t y + b_t u + sigma_t Z) },
//   c_t = beta_t b_t^2 / sigma_t^2,  V_K = r.
// As K grows (b ~ g^2 dt, sigma^2 ~ g^2 dt) this tends to the continuous
// problem with eta = 1; the control u = U - s plays the role of u there.
#include <vector>

#include "hjbft/model/problem.hpp"

namespace hjbft {

struct DdpmStep {
  double a, b, sigma;  // Y_{t+1} = a Y + b U + sigma W
  double tau;          // forward time of the score: s(tau, .)
  double t;            // generation time of the step's start, t T/K
  double beta;         // KL weight beta(t)
  double kl_coef() const { return b * b / (2 * sigma * sigma); }     // step KL = kl_coef |U - s|^2
  double c() const { return beta * b * b / (sigma * sigma); }        // Bellman penalty curvature
  double improvement_gain() const { return sigma * sigma / (beta * b); }  // u = gain E grad V_{t+1}
};

class DdpmChain {
public:
  // Throws InputError("-ddpm_steps") for K < 1; needs eta = 1 (InputError("-eta")).
  DdpmChain(const Problem& p, int K);
  int K() const { return static_cast<int>(steps_.size()); }
  const DdpmStep& step(int t) const { return steps_[t]; }
  double time(int t) const { return t * T_ / K(); }  // generation time of Y_t
  ScoreAtTime score(int t) const { return p_.score.at_tau(steps_[t].tau); }
  double initial_variance() const { return v_T_; }  // Y_0 ~ N(0, v(T) I)

private:
  const Problem& p_;
  double T_, v_T_;
  std::vector<DdpmStep> steps_;
};

}  // namespace hjbft
