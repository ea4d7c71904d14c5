#pragma once
// Small helpers for messages and timings.
#include <petsctime.h>

#include <cstdio>
#include <string>

#include "hjbft/core/errors.hpp"

namespace hjbft {

// printf-style formatting into a std::string (messages of at most 511 characters).
template <class... A>
std::string format(const char* fmt, A... a) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, a...);
  return buf;
}

// Wall-clock seconds (PETSc's timer, the one -log_view uses).
inline double now() {
  PetscLogDouble t;
  HJBFT_PETSC(PetscTime(&t));
  return t;
}

}  // namespace hjbft
