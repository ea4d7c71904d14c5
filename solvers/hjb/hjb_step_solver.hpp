#pragma once
// The linear solve of each implicit time step, (I - theta dt L_u) V^j = rhs
// (private to solvers/hjb/).
//
// One KSP for the whole run, configured from the options database.  Its PC
// gets the grid's DMDA, so geometric multigrid works from the options alone:
// -pc_type mg coarsens the DMDA (-pc_mg_levels, by default as many levels as
// the grid halves to a coarsest grid of 9 to 17 points per axis) and builds
// the coarse operators by Galerkin products P^T A P (the KSP has no callback
// that could assemble them on coarse grids).
//
// The operator changes slowly from one step (and one Howard iteration) to the
// next, so the preconditioner may be kept: with -hjb_pc_refresh R > 1 it is
// rebuilt at the first solve of the steps k = 0, R, 2R, ... of each sweep
// (k counts the steps the sweep has done) and reused for every other solve;
// the Krylov method absorbs the difference at the price of a few iterations.
// Tying the rebuilds to step numbers, not to a count of solves, lets a restart
// from a checkpoint at such a step repeat the uninterrupted run bit for bit.
// R = 1 rebuilds it at every solve.
#include <petscksp.h>

#include "hjbft/grid/grid.hpp"

namespace hjbft {

class StepSolver {
public:
  // rtol: relative residual tolerance (the options database may override it).
  StepSolver(const Grid& g, double rtol, PetscInt pc_refresh);
  ~StepSolver();
  StepSolver(const StepSolver&) = delete;
  StepSolver& operator=(const StepSolver&) = delete;
  // x <- A^{-1} rhs (A^{-T} rhs when transpose: the Fokker-Planck adjoint), with x
  // the initial guess; returns the iterations.  Throws SolverError when the
  // Krylov method fails (t only for the message).
  PetscInt solve(Mat A, ::Vec rhs, ::Vec x, double t, bool transpose = false);
  // Called before the solves of step k of a sweep (k = 0 for its first step).
  void begin_step(PetscInt k) { rebuild_ = k % refresh_ == 0; }
  // True when a restart before step k rebuilds the preconditioner where the
  // uninterrupted run does (checkpoints wait for such a step).
  bool rebuilds_at(PetscInt k) const { return k % refresh_ == 0; }
  KSP ksp() const { return ksp_; }
  // Sets the relative tolerance unless -ksp_rtol was given; returns the one in use.
  double set_rtol_unless_given(double rtol);

private:
  void configure_multigrid(const Grid& g);
  KSP ksp_ = nullptr;
  PetscInt refresh_;
  bool rebuild_ = true;  // rebuild at the next solve
};

// Levels for -pc_type mg on this grid: 1 + how often every axis halves,
// (n - 1) / 2 even, down to 9..17 points.
PetscInt multigrid_levels(const Grid& g);

}  // namespace hjbft
