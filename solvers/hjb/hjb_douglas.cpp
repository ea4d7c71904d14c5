#include "hjb_douglas.hpp"

#include <string>

#include "hjbft/core/errors.hpp"

namespace hjbft {

DouglasSplit::DouglasSplit(const HjbOperator& op, const Grid& g, double rtol) : op_(op), d_(g.dim()) {
  M_.assign(d_, nullptr);
  Mprev_.assign(d_, nullptr);
  ksp_.assign(d_, nullptr);
  PetscMPIInt size;
  MPI_Comm_size(g.comm(), &size);
  for (int a = 0; a < d_; ++a) {
    for (Mat* m : {&M_[a], &Mprev_[a]}) {
      HJBFT_PETSC(DMCreateMatrix(g.da(), m));
      op_.set_pattern(*m, a);
      // Assembled zeros: make_previous() copies into Mprev_ before a step may have assembled it.
      HJBFT_PETSC(MatZeroEntries(*m));
      HJBFT_PETSC(MatAssemblyBegin(*m, MAT_FINAL_ASSEMBLY));
      HJBFT_PETSC(MatAssemblyEnd(*m, MAT_FINAL_ASSEMBLY));
    }
    HJBFT_PETSC(KSPCreate(g.comm(), &ksp_[a]));
    HJBFT_PETSC(KSPSetOptionsPrefix(ksp_[a], "hjb_adi_"));
    // One rank: ILU(0) of a factor is its exact LU (see the header), one application
    // solves it.  Several: block Jacobi cuts the lines, GMRES couples the pieces.
    HJBFT_PETSC(KSPSetType(ksp_[a], size == 1 ? KSPPREONLY : KSPGMRES));
    HJBFT_PETSC(KSPSetTolerances(ksp_[a], rtol, 1e-50, PETSC_DEFAULT, 500));
    HJBFT_PETSC(KSPSetFromOptions(ksp_[a]));
    // Set once: the factor's values change in place, and PCSetUp refactors
    // whenever the matrix's state has changed since the last factorization.
    HJBFT_PETSC(KSPSetOperators(ksp_[a], M_[a], M_[a]));
  }
  HJBFT_PETSC(DMCreateGlobalVector(g.da(), &r_));
  HJBFT_PETSC(VecDuplicate(r_, &delta_));
}

DouglasSplit::~DouglasSplit() {
  for (Mat& m : M_) MatDestroy(&m);
  for (Mat& m : Mprev_) MatDestroy(&m);
  for (KSP& k : ksp_) KSPDestroy(&k);
  VecDestroy(&r_);
  VecDestroy(&delta_);
}

void DouglasSplit::assemble(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, bool prev, ::Vec cost) {
  std::vector<Mat>& M = prev ? Mprev_ : M_;
  op_.assemble_axes(t, theta, dt, drift, ctrl, M.data(), cost);
}

void DouglasSplit::mult(bool prev, ::Vec x, ::Vec y) const {
  const std::vector<Mat>& M = prev ? Mprev_ : M_;
  HJBFT_PETSC(MatMult(M[0], x, y));
  for (int a = 1; a < d_; ++a) HJBFT_PETSC(MatMultAdd(M[a], x, y, y));
  if (d_ > 1) HJBFT_PETSC(VecAXPY(y, -(d_ - 1.0), x));
}

PetscInt DouglasSplit::solve(::Vec R, ::Vec W, ::Vec V, double t) {
  mult(false, W, r_);
  HJBFT_PETSC(VecAYPX(r_, -1.0, R));  // r = R - A W
  PetscInt its = 0;
  for (int a = 0; a < d_; ++a) {  // delta <- M_a^{-1} r, r <- delta
    HJBFT_PETSC(KSPSolve(ksp_[a], r_, delta_));
    KSPConvergedReason reason;
    HJBFT_PETSC(KSPGetConvergedReason(ksp_[a], &reason));
    if (reason < 0)
      throw SolverError("Douglas line solve along axis " + std::to_string(a) + " failed at t = " + std::to_string(t) +
                        " (" + KSPConvergedReasons[reason] + "); try another -hjb_adi_ksp_type / -hjb_adi_pc_type");
    PetscInt n;
    HJBFT_PETSC(KSPGetIterationNumber(ksp_[a], &n));
    its += n;
    std::swap(r_, delta_);
  }
  HJBFT_PETSC(VecWAXPY(V, 1.0, W, r_));
  return its;
}

void DouglasSplit::make_previous() {
  for (int a = 0; a < d_; ++a) HJBFT_PETSC(MatCopy(M_[a], Mprev_[a], SAME_NONZERO_PATTERN));
}

void DouglasSplit::set_rtol_unless_given(double rtol) {
  PetscBool given;
  HJBFT_PETSC(PetscOptionsHasName(nullptr, "hjb_adi_", "-ksp_rtol", &given));
  if (given) return;
  for (KSP k : ksp_) HJBFT_PETSC(KSPSetTolerances(k, rtol, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT));
}

}  // namespace hjbft
