#include "hjbft/exact/exact_solution.hpp"

#include "hjbft/core/errors.hpp"

namespace hjbft {

namespace {

class GmmExact final : public ExactSolution {
public:
  explicit GmmExact(const Problem& p) : cf_(p.data(), p.sde, *p.reward, p.control.beta()(0)) {}
  Field at_time(double t) const override {
    auto at = std::make_shared<GmmClosedForm::AtTime>(cf_.at_time(t));
    return [at](const Vector& y) {
      auto pt = (*at)(y);
      return ValueAndGradient{pt.V, pt.grad};
    };
  }
  std::string name() const override { return "gmm"; }

private:
  GmmClosedForm cf_;
};

class RiccatiExact final : public ExactSolution {
public:
  explicit RiccatiExact(const Problem& p) : ric_(p.data(), p.control, *p.reward) {}
  Field at_time(double t) const override {
    const QuadraticValue q = ric_.value({t}).front();
    return [q](const Vector& y) { return ValueAndGradient{q.value(y), q.grad(y)}; };
  }
  std::string name() const override { return "riccati"; }

private:
  GaussianRiccati ric_;
};

bool riccati_applies(const Problem& p) {
  return p.data().size() == 1 && p.score.exact() && p.reward->quadratic_form().has_value();
}

}  // namespace

const char* exact_solution_requirements() {
  return "a closed form needs an exact score (-score_error_amp 0) and a linear or quadratic reward, and either "
         "eta = 1 with constant beta (GMM data) or one-component (Gaussian) data (any eta, any beta schedule)";
}

std::unique_ptr<ExactSolution> make_exact_solution(const Problem& p, const std::string& method) {
  if (method == "gmm" || (method == "auto" && p.gmm_closed_form_applies())) {
    if (!p.gmm_closed_form_applies())
      throw InputError("-exact_method", "gmm needs eta = 1, an exact score, constant beta and a linear or "
                                        "quadratic reward");
    return std::make_unique<GmmExact>(p);
  }
  if (method == "riccati" || method == "auto") {
    if (riccati_applies(p)) return std::make_unique<RiccatiExact>(p);
    if (method == "riccati")
      throw InputError("-exact_method", "riccati needs one-component (Gaussian) data, an exact score and a linear "
                                        "or quadratic reward");
    return nullptr;
  }
  throw InputError("-exact_method", "unknown method '" + method + "' (allowed: auto, gmm, riccati)");
}

}  // namespace hjbft
