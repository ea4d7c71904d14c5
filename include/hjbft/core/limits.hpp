#pragma once
// Numeric limits every layer agrees on.

namespace hjbft {

// Largest magnitude a field may hold: below sqrt(DBL_MAX) = 1.3e154, so that the
// squares every cost |u|^2 takes of it stay finite (a control of 1e300 from -beta 1e-300
// is finite but useless).  The field writer refuses larger values like NaN; so does
// the measurement against a reference control (analysis/reference.hpp).
inline constexpr double kLargestField = 1e150;
inline constexpr const char* kLargestFieldText = "1e150";  // kLargestField as messages spell it

}  // namespace hjbft
