// Grid result files as fields and as a control source (see grid_field.hpp).
#include "hjbft/io/grid_field.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "hjbft/core/errors.hpp"
#include "hjbft/io/field_io.hpp"

namespace hjbft {

namespace {

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

namespace {

// The dimension of the field file (its /grid/x0, x1, ... axes); InputError(option)
// when the file cannot be opened or read, or is not in the layout.
int field_file_dimension(const std::string& file, const std::string& option, const std::string& where) {
  FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) throw InputError(option, where + "cannot open the file (give grid:FILE.h5 written by hjbft exact/solve)");
  std::fclose(f);
  int file_dim = 0;
  try {
    while (file_dim < 8 && has_dataset(file, "/grid/x" + std::to_string(file_dim))) ++file_dim;
  } catch (const std::exception& e) {
    throw InputError(option, where + "not a readable HDF5 field file (" + e.what() + ")");
  }
  if (file_dim == 0)
    throw InputError(option, where + "not an HDF5 field file (no /grid/x0; expected the layout of DESIGN.md section 6)");
  return file_dim;
}

// Axis a of the file's grid: its points, checked to be uniform and ascending.
std::vector<double> uniform_axis(const std::string& file, int a, const std::string& option, const std::string& where) {
  const Dataset x = read_dataset(file, "/grid/x" + std::to_string(a));
  if (x.data.size() < 2) throw InputError(option, where + "axis x" + std::to_string(a) + " has fewer than 2 points");
  const double h = (x.data.back() - x.data.front()) / (x.data.size() - 1);
  for (std::size_t i = 0; i < x.data.size(); ++i)
    if (!(h > 0) || std::abs(x.data[i] - (x.data.front() + i * h)) > 1e-8 * (std::abs(h) + std::abs(x.data[i])))
      throw InputError(option, where + "axis x" + std::to_string(a) + " is not uniform and ascending");
  return x.data;
}

}  // namespace

GridField::GridField(const std::string& file, int dim, const std::string& option) : d_(dim) {
  const std::string where = "grid:" + file + ": ";
  auto need = [&](const std::string& name) {
    bool ok = false;
    try {
      ok = has_dataset(file, name);
    } catch (const std::exception& e) {
      throw InputError(option, where + "not a readable HDF5 field file (" + e.what() + ")");
    }
    if (!ok) throw InputError(option, where + "has no dataset " + name + " (expected the layout of DESIGN.md section 6)");
  };
  const int file_dim = field_file_dimension(file, option, where);
  if (dim < 1 || dim > 3) throw InputError(option, where + "grid fields exist for d = 1, 2, 3 only");
  if (file_dim != dim)
    throw InputError(option, where + "the file is " + std::to_string(file_dim) + "-dimensional but -dim is " +
                                 std::to_string(dim));
  need("/time");
  need("/control");
  for (int a = 0; a < dim; ++a) {
    const std::vector<double> x = uniform_axis(file, a, option, where);
    n_.push_back(static_cast<int>(x.size()));
    lo_.push_back(x.front());
    hi_.push_back(x.back());
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

std::unique_ptr<ControlSource> make_grid_control(const Problem& p, const std::string& file) {
  return std::make_unique<GridControl>(p, file);
}

}  // namespace hjbft
