#include "hjbft/analysis/history.hpp"

#include <algorithm>
#include <cmath>

namespace hjbft {

void History::add(const std::string& name, double v) {
  // By name, not by the column's existence: a reader's columns[name] may have created it empty.
  if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  columns[name].push_back(v);
}

std::size_t History::rows() const {
  std::size_t r = 0;
  for (const auto& [k, v] : columns) r = std::max(r, v.size());
  return r;
}

double History::last(const std::string& name) const {
  auto it = columns.find(name);
  return it == columns.end() || it->second.empty() ? NAN : it->second.back();
}

}  // namespace hjbft
