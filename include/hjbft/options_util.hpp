#pragma once
// Small helpers around the PETSc options database.
#include <petscsys.h>

#include <string>
#include <vector>

namespace hjbft {

// A value given once stands for every coordinate; otherwise exactly d values.
std::vector<double> broadcast(const std::vector<double>& v, int d, const std::string& option);

// The full options database as one string (stored in every output file).
std::string all_options_string();

// True when -help / -h was given (commands then print their options and stop).
bool help_requested();

}  // namespace hjbft
