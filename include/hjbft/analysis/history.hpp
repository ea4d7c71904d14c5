#pragma once
// Per-outer-iteration measurements of any iterative solver (grid PI, Howard,
// the Bellman PI, neural PI-FT, policy gradient): named columns, written to
// /history/<name> (DESIGN.md section 6), one entry per iteration.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace hjbft {

struct History {
  std::vector<std::string> order;                         // column names in the order first added
  std::map<std::string, std::vector<double>> columns;
  void add(const std::string& name, double v);
  std::size_t rows() const;                               // the longest column's length
  double last(const std::string& name) const;             // NaN when the column is missing or empty
  // The last entry of a column over the one before it: the observed contraction
  // rate of an iteration.  NaN (undefined) with fewer than two entries or a
  // previous entry that is not positive.
  double ratio_to_previous(const std::string& name) const;
};

// The errors of a grid solver's iterate against its reference (sup on the mass
// region, L2 weighted by the reference law), as the columns error_value_sup,
// error_value_l2, error_control_sup, error_control_l2, and error_ratio, the
// rate of the sup control error (the grid PI and Bellman PI histories).
void add_field_errors(History& h, double value_sup, double value_l2, double control_sup, double control_l2);

}  // namespace hjbft
