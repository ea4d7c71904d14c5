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

double History::ratio_to_previous(const std::string& name) const {
  auto it = columns.find(name);
  if (it == columns.end()) return NAN;
  const auto& c = it->second;
  return c.size() > 1 && c[c.size() - 2] > 0 ? c.back() / c[c.size() - 2] : NAN;
}

void add_field_errors(History& h, double value_sup, double value_l2, double control_sup, double control_l2) {
  h.add("error_value_sup", value_sup);
  h.add("error_value_l2", value_l2);
  h.add("error_control_sup", control_sup);
  h.add("error_control_l2", control_l2);
  h.add("error_ratio", h.ratio_to_previous("error_control_sup"));
}

}  // namespace hjbft
