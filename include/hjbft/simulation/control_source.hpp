#pragma once
// "A control": u(t, y) for batches of points, the interface every sampler,
// initial law and solver uses for the control it simulates or compares with.
// This layer provides none and the closed form; io/grid_field.hpp a grid
// result file, solvers/neural.hpp a neural result file, and
// solvers/sample.hpp the command line's spelling of all four.
#include <memory>
#include <string>
#include <vector>

#include "hjbft/core/linalg.hpp"
#include "hjbft/model/problem.hpp"

namespace hjbft {

// `outside[j]` is set to 1 (never cleared) when column j lies outside the
// domain where the source is defined (a grid box): the control is then
// evaluated at the clamped point and the caller counts and reports such paths.
class ControlSource {
public:
  virtual ~ControlSource() = default;
  virtual void eval(double t, const Matrix& Y, Matrix& U, std::vector<char>& outside) const = 0;
  // V(t, y) for every column when the source knows the value (exact, grid with
  // /value); returns false when it does not.
  virtual bool value(double t, const Matrix& Y, Vector& V, std::vector<char>& outside) const;
  // Hint: the times at which eval will be called (fixed-step schemes).
  virtual void prepare(const std::vector<double>& /*times*/) const {}
  virtual std::string name() const = 0;
  virtual bool zero() const { return false; }
};

std::unique_ptr<ControlSource> make_zero_control(int dim);
// u* = gain grad V* of the closed form; InputError("-control") when none applies.
std::unique_ptr<ControlSource> make_exact_control(const Problem& p);

}  // namespace hjbft
