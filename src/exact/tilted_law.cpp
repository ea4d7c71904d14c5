// The tilted law p_data(x) e^{r(x)/beta} / Z for a quadratic-form reward is a
// GMM: component k is N(mu_k, S_k) tilted (gaussian_tilt), with weight
// proportional to pi_k E_k.  It is the fine-tuned terminal law when the
// reference is memoryless or the initial law is value-tilted (DESIGN.md 4).
#include "hjbft/core/errors.hpp"
#include "hjbft/exact/closed_form.hpp"

namespace hjbft {

Gmm tilted_law(const Gmm& data, const Reward& reward, double beta) {
  auto q = reward.quadratic_form();
  if (!q) throw SolverError("the tilted law is closed form only for linear or quadratic rewards");
  const int K = data.size();
  Eigen::VectorXd logw(K);
  std::vector<GaussianComponent> comp;
  for (int k = 0; k < K; ++k) {
    const auto& c = data.component(k);
    const GaussianTilt t = gaussian_tilt(c.mean, c.cov, *q, beta);
    if (!t.finite) throw SolverError("tilted law: E[exp(r/beta)] is infinite (reward ill-posed for beta)");
    logw[k] = (c.weight > 0 ? std::log(c.weight) : -INFINITY) + t.log_E;
    comp.push_back({0.0, t.tilted_mean, t.tilted_cov});
  }
  const Eigen::VectorXd w = softmax(logw);
  for (int k = 0; k < K; ++k) comp[k].weight = w[k];
  return Gmm(std::move(comp));
}

}  // namespace hjbft
