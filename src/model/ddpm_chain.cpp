// The DDPM-type chain of DESIGN.md section 5 (see include/hjbft/model/ddpm.hpp).
#include <cmath>

#include "hjbft/core/errors.hpp"
#include "hjbft/model/ddpm.hpp"

namespace hjbft {

DdpmChain::DdpmChain(const Problem& p, int K) : p_(p), T_(p.T()), v_T_(p.sde.v(p.T())) {
  if (K < 1) throw InputError("-ddpm_steps", "must be a positive number of steps, got " + std::to_string(K));
  if (p.eta() != 1.0)
    throw InputError("-eta", "the discrete-time (DDPM) chain is the eta = 1 sampler; got eta = " +
                                 std::to_string(p.eta()));
  steps_.resize(K);
  for (int t = 0; t < K; ++t) {
    const int k = K - t;
    const double tau = k * T_ / K, tau_prev = (k - 1) * T_ / K;
    const double rho = p.sde.m(tau) / p.sde.m(tau_prev);
    const double q = p.sde.v(tau) - rho * rho * p.sde.v(tau_prev);
    if (!(q > 0)) throw InputError("-ddpm_steps", "step " + std::to_string(t) + " has no noise (q_k <= 0)");
    DdpmStep& s = steps_[t];
    s.a = 1 / rho;
    s.b = q / rho;
    s.sigma = std::sqrt(q);
    s.tau = tau;
    s.t = t * T_ / K;
    s.beta = p.control.beta()(s.t);
  }
}

}  // namespace hjbft
