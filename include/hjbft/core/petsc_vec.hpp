#pragma once
// Ownership of a PETSc vector: destroyed with its scope, also when an
// exception passes (the catch blocks that destroyed vectors by hand go).
#include <petscdm.h>
#include <petscvec.h>

#include "hjbft/core/errors.hpp"

namespace hjbft {

class OwnedVec {
public:
  OwnedVec() = default;
  // A global vector of `dm` (its layout, its type: -dm_vec_type applies).
  explicit OwnedVec(DM dm) { HJBFT_PETSC(DMCreateGlobalVector(dm, &v_)); }
  // A vector of the layout and type of v (its values are not copied).
  static OwnedVec like(::Vec v) {
    OwnedVec o;
    HJBFT_PETSC(VecDuplicate(v, &o.v_));
    return o;
  }
  ~OwnedVec() {
    if (v_) VecDestroy(&v_);
  }
  OwnedVec(const OwnedVec&) = delete;
  OwnedVec& operator=(const OwnedVec&) = delete;
  OwnedVec(OwnedVec&& o) noexcept : v_(o.v_) { o.v_ = nullptr; }
  OwnedVec& operator=(OwnedVec&& o) noexcept {
    if (this != &o) {
      if (v_) VecDestroy(&v_);
      v_ = o.v_;
      o.v_ = nullptr;
    }
    return *this;
  }
  operator ::Vec() const { return v_; }

private:
  ::Vec v_ = nullptr;
};

}  // namespace hjbft
