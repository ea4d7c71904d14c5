#include "hjb_step_solver.hpp"

#include <string>

#include "hjbft/core/errors.hpp"

namespace hjbft {

PetscInt multigrid_levels(const Grid& g) {
  PetscInt levels = 1;
  std::array<PetscInt, 3> n{g.n(0), g.n(1), g.n(2)};
  for (;;) {
    bool halves = true;
    for (int a = 0; a < g.dim(); ++a) halves = halves && (n[a] - 1) % 2 == 0 && (n[a] - 1) / 2 >= 8;
    if (!halves) return levels;
    for (int a = 0; a < g.dim(); ++a) n[a] = (n[a] - 1) / 2 + 1;
    ++levels;
  }
}

StepSolver::StepSolver(const Grid& g, double rtol, PetscInt pc_refresh) : refresh_(pc_refresh) {
  HJBFT_PETSC(KSPCreate(g.comm(), &ksp_));
  // The PC sees the DMDA (multigrid coarsens it); the KSP does not compute
  // operators from it: they are set before every solve.
  HJBFT_PETSC(KSPSetDM(ksp_, g.da()));
  HJBFT_PETSC(KSPSetDMActive(ksp_, PETSC_FALSE));
  HJBFT_PETSC(KSPSetType(ksp_, KSPGMRES));
  HJBFT_PETSC(KSPSetTolerances(ksp_, rtol, 1e-50, PETSC_DEFAULT, 2000));
  HJBFT_PETSC(KSPSetInitialGuessNonzero(ksp_, PETSC_TRUE));
  HJBFT_PETSC(KSPSetFromOptions(ksp_));
  configure_multigrid(g);
}

double StepSolver::set_rtol_unless_given(double rtol) {
  const char* prefix;
  PetscBool given;
  HJBFT_PETSC(KSPGetOptionsPrefix(ksp_, &prefix));
  HJBFT_PETSC(PetscOptionsHasName(nullptr, prefix, "-ksp_rtol", &given));
  if (!given) HJBFT_PETSC(KSPSetTolerances(ksp_, rtol, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT));
  PetscReal r;
  HJBFT_PETSC(KSPGetTolerances(ksp_, &r, nullptr, nullptr, nullptr));
  return r;
}

StepSolver::~StepSolver() { KSPDestroy(&ksp_); }

void StepSolver::configure_multigrid(const Grid& g) {
  PC pc;
  PetscBool is_mg, has_levels, has_galerkin;
  HJBFT_PETSC(KSPGetPC(ksp_, &pc));
  HJBFT_PETSC(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(pc), PCMG, &is_mg));
  if (!is_mg) return;
  const char* prefix;
  HJBFT_PETSC(KSPGetOptionsPrefix(ksp_, &prefix));
  HJBFT_PETSC(PetscOptionsHasName(nullptr, prefix, "-pc_mg_levels", &has_levels));
  HJBFT_PETSC(PetscOptionsHasName(nullptr, prefix, "-pc_mg_galerkin", &has_galerkin));
  if (!has_levels) HJBFT_PETSC(PCMGSetLevels(pc, multigrid_levels(g), nullptr));
  if (!has_galerkin) HJBFT_PETSC(PCMGSetGalerkin(pc, PC_MG_GALERKIN_BOTH));
  // Smoothers: A is an M-matrix (the scheme is monotone), for which Gauss-Seidel
  // (SOR, Richardson) smooths robustly; PETSc's default, Chebyshev, estimates
  // eigenvalues as if A were symmetric and broke down on large steps (-nt 1).
  // -mg_levels_ksp_type / -mg_levels_pc_type still override.
  PetscInt levels;
  HJBFT_PETSC(PCMGGetLevels(pc, &levels));
  for (PetscInt l = 1; l < levels; ++l) {
    KSP smoother;
    PC spc;
    HJBFT_PETSC(PCMGGetSmoother(pc, l, &smoother));
    HJBFT_PETSC(KSPSetType(smoother, KSPRICHARDSON));
    HJBFT_PETSC(KSPGetPC(smoother, &spc));
    HJBFT_PETSC(PCSetType(spc, PCSOR));
  }
  // Level smoothers and coarse solver from the options (-mg_levels_*, -mg_coarse_*).
  HJBFT_PETSC(PCSetFromOptions(pc));
}

PetscInt StepSolver::solve(Mat A, ::Vec rhs, ::Vec x, double t, bool transpose) {
  // Rebuild the preconditioner at every solve (refresh_ 1) or at the first solve
  // of a step begin_step() marked; PCSetUp builds it anyway if it has none.
  HJBFT_PETSC(KSPSetReusePreconditioner(ksp_, refresh_ == 1 || rebuild_ ? PETSC_FALSE : PETSC_TRUE));
  rebuild_ = false;
  HJBFT_PETSC(KSPSetOperators(ksp_, A, A));
  if (transpose) HJBFT_PETSC(KSPSolveTranspose(ksp_, rhs, x));
  else HJBFT_PETSC(KSPSolve(ksp_, rhs, x));
  KSPConvergedReason reason;
  HJBFT_PETSC(KSPGetConvergedReason(ksp_, &reason));
  if (reason < 0)
    throw SolverError(std::string(transpose ? "Fokker-Planck: transpose" : "linear") + " solve failed at t = " +
                      std::to_string(t) + " (" + KSPConvergedReasons[reason] +
                      "); try another -ksp_type / -pc_type");
  PetscInt its;
  HJBFT_PETSC(KSPGetIterationNumber(ksp_, &its));
  return its;
}

}  // namespace hjbft
