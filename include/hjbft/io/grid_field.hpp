#pragma once
// A grid result file (hjbft exact / solve / bellman, the layout of DESIGN.md
// section 6) read back as a field on the whole box and horizon, and as a
// control source (the sampler's -control grid:FILE.h5, neural PI-FT's grid
// reference).
#include <memory>
#include <string>
#include <vector>

#include "hjbft/simulation/control_source.hpp"

namespace hjbft {

// Multilinear (space) x linear (time) interpolation of a field file in the
// layout of DESIGN.md section 6.  Public for tests and other solvers.
class GridField {
public:
  // Reads /grid/x*, /time, /control (and /value when present).  Throws
  // InputError(option, ...) when the file is missing, not in the layout, or
  // its dimension differs from `dim`.
  GridField(const std::string& file, int dim, const std::string& option = "-control");
  int dim() const { return d_; }
  double lo(int a) const { return lo_[a]; }
  double hi(int a) const { return hi_[a]; }
  int n(int a) const { return n_[a]; }
  const std::vector<double>& times() const { return time_; }
  bool has_value() const { return !value_.empty(); }
  // Returns false when y is outside the box (the field is then evaluated at the clamped point).
  bool control(double t, const Vector& y, Vector& u) const;
  bool value(double t, const Vector& y, double& V) const;

private:
  struct Stencil {
    int j0, j1;
    double wt;                 // weight of time slice j1
    long base[8];              // flat spatial indices of the 2^d corners
    double w[8];
    int ncorner;
    bool inside;
  };
  Stencil stencil(double t, const Vector& y) const;
  int d_;
  std::vector<int> n_;
  std::vector<double> lo_, hi_;
  std::vector<double> time_;
  std::vector<double> control_, value_;
  long nspace_ = 1;
};

// GridField of `file` as a control source; InputError("-control") when the
// file does not cover the whole horizon [0, T].
std::unique_ptr<ControlSource> make_grid_control(const Problem& p, const std::string& file);

}  // namespace hjbft
