#include "hjbft/options_util.hpp"

#include "hjbft/errors.hpp"

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

bool help_requested() {
  PetscBool h = PETSC_FALSE, h2 = PETSC_FALSE;
  HJBFT_PETSC(PetscOptionsHasName(nullptr, nullptr, "-help", &h));
  HJBFT_PETSC(PetscOptionsHasName(nullptr, nullptr, "-h", &h2));
  return h || h2;
}

}  // namespace hjbft
