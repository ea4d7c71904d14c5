#include "hjbft/core/options.hpp"

#include "hjbft/core/errors.hpp"

namespace hjbft {

std::vector<double> broadcast(const std::vector<double>& v, int d, const std::string& option) {
  if (static_cast<int>(v.size()) == d) return v;
  if (v.size() == 1) return std::vector<double>(d, v[0]);
  throw InputError(option, "needs 1 or " + std::to_string(d) + " values (one per coordinate), got " +
                               std::to_string(v.size()));
}

std::string all_options_string() {
  char* s = nullptr;
  HJBFT_PETSC(PetscOptionsGetAll(nullptr, &s));
  std::string out(s ? s : "");
  HJBFT_PETSC(PetscFree(s));
  return out;
}

std::vector<std::pair<std::string, std::string>> unused_options() {
  PetscInt n = 0;
  char **names = nullptr, **values = nullptr;
  HJBFT_PETSC(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  std::vector<std::pair<std::string, std::string>> out;
  for (PetscInt i = 0; i < n; ++i) {
    std::string name(1, '-');  // (not "-" + std::string: a GCC 12 -Wrestrict false positive)
    name += names[i];
    out.emplace_back(name, values[i] ? values[i] : "");
  }
  HJBFT_PETSC(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
  return out;
}

namespace {
std::string describe_unused(const std::vector<std::pair<std::string, std::string>>& unused) {
  std::string s = "given but not used by any part of the program";
  if (unused.size() > 1) s += " (and " + std::to_string(unused.size() - 1) + " more)";
  return s + "; nothing was written (-allow_unused_options makes this a warning)";
}
}  // namespace

UnusedOptionError::UnusedOptionError(std::vector<std::pair<std::string, std::string>> unused)
    : InputError(unused.at(0).first, describe_unused(unused)), unused_(std::move(unused)) {}

void require_all_options_used() {
  PetscBool allow = PETSC_FALSE;
  HJBFT_PETSC(PetscOptionsGetBool(nullptr, nullptr, "-allow_unused_options", &allow, nullptr));
  auto unused = unused_options();
  if (unused.empty()) return;
  if (!allow) throw UnusedOptionError(std::move(unused));
  static bool warned = false;  // once per run, although every commit and the end of the run check
  if (warned) return;
  warned = true;
  for (const auto& [name, value] : unused)
    HJBFT_PETSC(PetscPrintf(PETSC_COMM_WORLD, "hjbft: warning: option %s%s%s was given but not used (allowed by "
                                              "-allow_unused_options)\n", name.c_str(), value.empty() ? "" : " ",
                            value.c_str()));
}

bool help_requested() {
  PetscBool h = PETSC_FALSE, h2 = PETSC_FALSE;
  HJBFT_PETSC(PetscOptionsHasName(nullptr, nullptr, "-help", &h));
  HJBFT_PETSC(PetscOptionsHasName(nullptr, nullptr, "-h", &h2));
  return h || h2;
}

}  // namespace hjbft
