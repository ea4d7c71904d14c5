// Control sources for the sampler: none, the closed form, a grid result in HDF5.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "hjbft/errors.hpp"
#include "hjbft/field_io.hpp"
#include "hjbft/sampler.hpp"

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

class GridControl final : public ControlSource {
public:
  GridControl(const Problem& p, const std::string& file) : field_(file, p.dim, "-control"), file_(file) {
    const auto& tm = field_.times();
    const double T = p.T();
    if (tm.front() > 1e-9 * T || tm.back() < T * (1 - 1e-9)) {
      std::ostringstream s;
      s << "grid:" << file << ": /time covers [" << tm.front() << ", " << tm.back()
        << "], the sampler needs the whole horizon [0, " << T << "]";
      throw InputError("-control", s.str());
    }
  }
  void eval(double t, const Matrix& Y, Matrix& U, std::vector<char>& outside) const override {
    U.resize(Y.rows(), Y.cols());
    Vector u(Y.rows());
    for (Eigen::Index j = 0; j < Y.cols(); ++j) {
      if (!field_.control(t, Y.col(j), u)) outside[j] = 1;
      U.col(j) = u;
    }
  }
  bool value(double t, const Matrix& Y, Vector& V, std::vector<char>& outside) const override {
    if (!field_.has_value()) return false;
    V.resize(Y.cols());
    for (Eigen::Index j = 0; j < Y.cols(); ++j) {
      double v;
      if (!field_.value(t, Y.col(j), v)) outside[j] = 1;
      V[j] = v;
    }
    return true;
  }
  std::string name() const override { return "grid:" + file_; }

private:
  GridField field_;
  std::string file_;
};

}  // namespace

// ------------------------------------------------------------------ GridField

GridField::GridField(const std::string& file, int dim, const std::string& option) : d_(dim) {
  const std::string where = "grid:" + file + ": ";
  {
    FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) throw InputError(option, where + "cannot open the file (give grid:FILE.h5 written by hjbft exact/solve)");
    std::fclose(f);
  }
  auto need = [&](const std::string& name) {
    bool ok = false;
    try {
      ok = has_dataset(file, name);
    } catch (const std::exception& e) {
      throw InputError(option, where + "not a readable HDF5 field file (" + e.what() + ")");
    }
    if (!ok) throw InputError(option, where + "has no dataset " + name + " (expected the layout of DESIGN.md section 6)");
  };
  if (dim < 1 || dim > 3) throw InputError(option, where + "grid fields exist for d = 1, 2, 3 only");
  int file_dim = 0;
  try {
    while (file_dim < 8 && has_dataset(file, "/grid/x" + std::to_string(file_dim))) ++file_dim;
  } catch (const std::exception& e) {
    throw InputError(option, where + "not a readable HDF5 field file (" + e.what() + ")");
  }
  if (file_dim == 0)
    throw InputError(option, where + "not an HDF5 field file (no /grid/x0; expected the layout of DESIGN.md section 6)");
  if (file_dim != dim)
    throw InputError(option, where + "the file is " + std::to_string(file_dim) + "-dimensional but -dim is " +
                                 std::to_string(dim));
  need("/time");
  need("/control");
  for (int a = 0; a < dim; ++a) {
    const Dataset x = read_dataset(file, "/grid/x" + std::to_string(a));
    if (x.data.size() < 2) throw InputError(option, where + "axis x" + std::to_string(a) + " has fewer than 2 points");
    const double h = (x.data.back() - x.data.front()) / (x.data.size() - 1);
    for (std::size_t i = 0; i < x.data.size(); ++i)
      if (!(h > 0) || std::abs(x.data[i] - (x.data.front() + i * h)) > 1e-8 * (std::abs(h) + std::abs(x.data[i])))
        throw InputError(option, where + "axis x" + std::to_string(a) + " is not uniform and ascending");
    n_.push_back(static_cast<int>(x.data.size()));
    lo_.push_back(x.data.front());
    hi_.push_back(x.data.back());
    nspace_ *= n_.back();
  }
  time_ = read_dataset(file, "/time").data;
  if (time_.empty()) throw InputError(option, where + "/time is empty");
  for (std::size_t j = 1; j < time_.size(); ++j)
    if (!(time_[j] > time_[j - 1])) throw InputError(option, where + "/time is not strictly ascending");
  Dataset c = read_dataset(file, "/control");
  std::vector<hsize_t> want{time_.size()};
  for (int a = dim - 1; a >= 0; --a) want.push_back(n_[a]);
  want.push_back(dim);
  if (c.dims != want) throw InputError(option, where + "/control has the wrong shape for its grid and -dim");
  control_ = std::move(c.data);
  if (has_dataset(file, "/value")) {
    Dataset v = read_dataset(file, "/value");
    want.pop_back();
    if (v.dims != want) throw InputError(option, where + "/value has the wrong shape for its grid");
    value_ = std::move(v.data);
  }
  for (double v : control_)
    if (!std::isfinite(v)) throw InputError(option, where + "/control holds non-finite values");
}

GridField::Stencil GridField::stencil(double t, const Vector& y) const {
  Stencil s{};
  // time: linear between the saved slices (constant beyond the ends)
  const auto it = std::upper_bound(time_.begin(), time_.end(), t);
  if (it == time_.begin()) {
    s.j0 = s.j1 = 0;
  } else if (it == time_.end()) {
    s.j0 = s.j1 = static_cast<int>(time_.size()) - 1;
  } else {
    s.j1 = static_cast<int>(it - time_.begin());
    s.j0 = s.j1 - 1;
    s.wt = (t - time_[s.j0]) / (time_[s.j1] - time_[s.j0]);
  }
  // space: multilinear on the cell holding the (clamped) point
  s.inside = true;
  int i0[3] = {0, 0, 0};
  double fr[3] = {0, 0, 0};
  for (int a = 0; a < d_; ++a) {
    const double h = (hi_[a] - lo_[a]) / (n_[a] - 1);
    double q = (y[a] - lo_[a]) / h;
    if (!(q >= 0 && q <= n_[a] - 1)) {  // also catches NaN
      s.inside = false;
      q = std::isnan(q) ? 0.0 : std::clamp(q, 0.0, double(n_[a] - 1));
    }
    i0[a] = std::min(static_cast<int>(std::floor(q)), n_[a] - 2);
    fr[a] = q - i0[a];
  }
  s.ncorner = 1 << d_;
  for (int c = 0; c < s.ncorner; ++c) {
    long idx = 0, stride = 1;
    double w = 1;
    for (int a = 0; a < d_; ++a) {
      const int bit = (c >> a) & 1;
      idx += stride * (i0[a] + bit);
      stride *= n_[a];
      w *= bit ? fr[a] : 1 - fr[a];
    }
    s.base[c] = idx;
    s.w[c] = w;
  }
  return s;
}

bool GridField::control(double t, const Vector& y, Vector& u) const {
  const Stencil s = stencil(t, y);
  u.setZero(d_);
  for (int c = 0; c < s.ncorner; ++c) {
    const double* a0 = &control_[(s.j0 * nspace_ + s.base[c]) * d_];
    const double* a1 = &control_[(s.j1 * nspace_ + s.base[c]) * d_];
    for (int a = 0; a < d_; ++a) u[a] += s.w[c] * ((1 - s.wt) * a0[a] + s.wt * a1[a]);
  }
  return s.inside;
}

bool GridField::value(double t, const Vector& y, double& V) const {
  const Stencil s = stencil(t, y);
  V = 0;
  for (int c = 0; c < s.ncorner; ++c)
    V += s.w[c] * ((1 - s.wt) * value_[s.j0 * nspace_ + s.base[c]] + s.wt * value_[s.j1 * nspace_ + s.base[c]]);
  return s.inside;
}

// ------------------------------------------------------------------ factories

std::unique_ptr<ControlSource> make_zero_control(int) { return std::make_unique<ZeroControl>(); }
std::unique_ptr<ControlSource> make_exact_control(const Problem& p) { return std::make_unique<ExactControl>(p); }
std::unique_ptr<ControlSource> make_grid_control(const Problem& p, const std::string& file) {
  return std::make_unique<GridControl>(p, file);
}

std::unique_ptr<ControlSource> make_control_source(const Problem& p, const std::string& spec) {
  if (spec == "none") return make_zero_control(p.dim);
  if (spec == "exact") return make_exact_control(p);
  if (spec.rfind("grid:", 0) == 0) {
    const std::string file = spec.substr(5);
    if (file.empty()) throw InputError("-control", "grid: needs a file name (grid:FILE.h5)");
    return make_grid_control(p, file);
  }
  if (spec.rfind("neural:", 0) == 0) {
    const std::string file = spec.substr(7);
    if (file.empty()) throw InputError("-control", "neural: needs a file name (neural:FILE.h5)");
    return make_neural_control(p, file);
  }
  throw InputError("-control",
                   "unknown control source '" + spec + "' (allowed: none, exact, grid:FILE.h5, neural:FILE.h5)");
}

}  // namespace hjbft
