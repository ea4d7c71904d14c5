#pragma once
// Small helpers around the PETSc options database.
#include <petscsys.h>

#include <string>
#include <utility>
#include <vector>

#include "hjbft/core/errors.hpp"

namespace hjbft {

// A value given once stands for every coordinate; otherwise exactly d values.
std::vector<double> broadcast(const std::vector<double>& v, int d, const std::string& option);

// The full options database as one string (stored in every output file).
std::string all_options_string();

// True when -help / -h was given (commands then print their options and stop).
bool help_requested();

// Options that were given but that no part of the program read, as (name with its
// leading '-', value or "") pairs.
std::vector<std::pair<std::string, std::string>> unused_options();

// An option that nothing read is almost always a typo (-beat 0.1 for -beta 0.1), and a
// run that ignored it has solved another problem than the one asked for.  So before a
// result is committed (FieldWriter::commit, the sample writer) and at the end of every
// command, unused options are an error: UnusedOptionError, exit status 1, nothing
// written.  -allow_unused_options turns the error into a warning, for scripts that pass
// options meant for other programs on purpose.
class UnusedOptionError : public InputError {
public:
  explicit UnusedOptionError(std::vector<std::pair<std::string, std::string>> unused);
  const std::vector<std::pair<std::string, std::string>>& unused() const { return unused_; }

private:
  std::vector<std::pair<std::string, std::string>> unused_;
};
void require_all_options_used();

}  // namespace hjbft
