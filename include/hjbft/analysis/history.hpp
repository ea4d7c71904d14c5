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
};

}  // namespace hjbft
