// The control-source specifications of the command line (see sample.hpp).
#include "hjbft/core/errors.hpp"
#include "hjbft/io/grid_field.hpp"
#include "hjbft/solvers/neural.hpp"
#include "hjbft/solvers/sample.hpp"

namespace hjbft {

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
