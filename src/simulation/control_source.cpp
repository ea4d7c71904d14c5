// Control sources of the simulation layer: none and the closed form.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "hjbft/core/errors.hpp"
#include "hjbft/exact/closed_form.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/simulation/control_source.hpp"

namespace hjbft {

bool ControlSource::value(double, const Matrix&, Vector&, std::vector<char>&) const { return false; }

namespace {

class ZeroControl final : public ControlSource {
public:
  void eval(double, const Matrix& Y, Matrix& U, std::vector<char>&) const override {
    U.setZero(Y.rows(), Y.cols());
  }
  std::string name() const override { return "none"; }
  bool zero() const override { return true; }
};

// u* = gain(t) grad V*(t, .) from the closed forms.  GMM (eta = 1): the
// per-time data are built once per time and cached; Riccati: the quadratic
// value at all prepared times comes from one backward sweep.
class ExactControl final : public ControlSource {
public:
  explicit ExactControl(const Problem& p) : p_(p) {
    // Gaussian data: the Riccati form (quadratic V, cheapest to evaluate); else the GMM form.
    if (p.data().size() == 1 && p.score.exact() && p.reward->quadratic_form()) {
      ric_ = std::make_unique<GaussianRiccati>(p.data(), p.control, *p.reward);
    } else if (p.gmm_closed_form_applies()) {
      gmm_ = std::make_unique<GmmClosedForm>(p.data(), p.sde, *p.reward, p.control.beta()(0));
    } else {
      throw InputError("-control", std::string("exact: no closed form applies: ") + exact_solution_requirements());
    }
  }
  std::string name() const override { return gmm_ ? "exact/gmm" : "exact/riccati"; }

  void prepare(const std::vector<double>& times) const override {
    if (!ric_) return;
    std::vector<double> missing;
    for (double t : times)
      if (!quad_.count(t)) missing.push_back(t);
    if (missing.empty()) return;
    const auto vals = ric_->value(missing);
    for (std::size_t i = 0; i < missing.size(); ++i) quad_.emplace(missing[i], vals[i]);
  }

  void eval(double t, const Matrix& Y, Matrix& U, std::vector<char>&) const override {
    const double gain = p_.control.coefficients(t).gain();
    U.resize(Y.rows(), Y.cols());
    if (ric_) {
      const QuadraticValue& q = quadratic(t);
      U = gain * ((-q.P * Y).colwise() + q.p);
      return;
    }
    const GmmClosedForm::AtTime& at = gmm_at(t);
    for (Eigen::Index j = 0; j < Y.cols(); ++j) U.col(j) = gain * at(Y.col(j)).grad;
  }

  bool value(double t, const Matrix& Y, Vector& V, std::vector<char>&) const override {
    V.resize(Y.cols());
    if (ric_) {
      const QuadraticValue& q = quadratic(t);
      for (Eigen::Index j = 0; j < Y.cols(); ++j) V[j] = q.value(Y.col(j));
      return true;
    }
    const GmmClosedForm::AtTime& at = gmm_at(t);
    for (Eigen::Index j = 0; j < Y.cols(); ++j) V[j] = at(Y.col(j)).V;
    return true;
  }

private:
  const QuadraticValue& quadratic(double t) const {
    auto it = quad_.find(t);
    if (it == quad_.end()) {
      if (quad_.size() > 100000) quad_.clear();
      it = quad_.emplace(t, ric_->value({t}).front()).first;
    }
    return it->second;
  }
  const GmmClosedForm::AtTime& gmm_at(double t) const {
    auto it = at_.find(t);
    if (it == at_.end()) {
      if (at_.size() > 16) at_.clear();  // a batch revisits only a few stage times
      it = at_.emplace(t, gmm_->at_time(t)).first;
    }
    return it->second;
  }
  const Problem& p_;
  std::unique_ptr<GmmClosedForm> gmm_;
  std::unique_ptr<GaussianRiccati> ric_;
  mutable std::map<double, QuadraticValue> quad_;
  mutable std::map<double, GmmClosedForm::AtTime> at_;
};

}  // namespace

// ------------------------------------------------------------------ factories

std::unique_ptr<ControlSource> make_zero_control(int) { return std::make_unique<ZeroControl>(); }
std::unique_ptr<ControlSource> make_exact_control(const Problem& p) { return std::make_unique<ExactControl>(p); }
}  // namespace hjbft
