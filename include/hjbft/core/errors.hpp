#pragma once
// Error types shared by every part of hjbft.
//
// Bad user input is an InputError: it names the option, what was wrong and
// what is allowed; the CLI prints it and exits with status 1.  Failures of
// PETSc calls are turned into exceptions by HJBFT_PETSC so that C++ code can
// keep value-returning signatures and RAII cleanup (e.g. of half-written files).
#include <petscsys.h>
#include <sstream>
#include <stdexcept>
#include <string>

namespace hjbft {

class InputError : public std::runtime_error {
public:
  InputError(const std::string& option, const std::string& what)
      : std::runtime_error("option " + option + ": " + what), option_(option) {}
  const std::string& option() const { return option_; }

private:
  std::string option_;
};

class SolverError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class PetscCallError : public std::runtime_error {
public:
  PetscCallError(PetscErrorCode code, const char* call, const char* file, int line)
      : std::runtime_error(make(code, call, file, line)), code_(code) {}
  PetscErrorCode code() const { return code_; }

private:
  static std::string make(PetscErrorCode code, const char* call, const char* file, int line) {
    std::ostringstream s;
    s << "PETSc error " << static_cast<int>(code) << " in " << call << " (" << file << ":" << line << ")";
    return s.str();
  }
  PetscErrorCode code_;
};

}  // namespace hjbft

#define HJBFT_PETSC(call)                                                        \
  do {                                                                           \
    PetscErrorCode hjbft_ierr_ = (call);                                         \
    if (PetscUnlikely(hjbft_ierr_ != 0))                                         \
      throw ::hjbft::PetscCallError(hjbft_ierr_, #call, __FILE__, __LINE__);     \
  } while (0)
