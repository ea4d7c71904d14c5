#pragma once
// The Douglas (alternating-direction) step of the grid HJB solver,
// -hjb_splitting douglas (private to solvers/hjb/).
//
// The theta-scheme's step from W = V^{j+1} to V^j solves A V = R with
// A = I - theta dt L^j and R from build_rhs.  The scheme has no mixed
// derivatives (the diffusion is isotropic), so L = L_1 + ... + L_d with L_a
// the diffusion and advection along axis a, each with zero row sums.  In
// delta form V = W + delta, A delta = R - A W; Douglas replaces A by the
// product of its one-axis factors M_a = I - theta dt L_a:
//
//   M_1 M_2 ... M_d delta = R - A W,   V = W + delta,
//
// solved factor by factor, each a set of independent tridiagonal systems, one
// per grid line.  The product is A + theta^2 dt^2 (L_1 L_2 + ...) + ..., and
// delta = O(dt), so the change is O(dt^3) per step: second order in time under
// Crank-Nicolson (theta = 1/2), first under backward Euler, as the unsplit
// scheme, and in 1-D it is the unsplit scheme.  The residual R - A W is the
// unsplit one, so a steady solution of the unsplit scheme is one of Douglas.
// Unlike the unsplit backward-Euler step it is not monotone for every dt: the
// factors are M-matrices, but the residual carries an explicit step.  Order,
// monotonicity and agreement with the unsplit scheme are measured in
// docs/validation_douglas.md.
//
// Line solves: one KSP per axis, options prefix -hjb_adi_.  ILU(0) of a
// one-axis factor in the natural ordering has no fill (an unknown has at most
// one later neighbour on its line), so on one rank it is the exact LU and the
// default is one application of it (preonly + ILU); on several ranks block
// Jacobi cuts the lines where the partition does, and the default is GMRES
// with block-Jacobi ILU(0), which couples the pieces in a few iterations.
// The factors are refactored at every solve: a tridiagonal factorization
// costs about as much as one solve.
#include <petscksp.h>

#include <vector>

#include "hjb_operator.hpp"

namespace hjbft {

class DouglasSplit {
public:
  DouglasSplit(const HjbOperator& op, const Grid& g, double rtol);
  ~DouglasSplit();
  DouglasSplit(const DouglasSplit&) = delete;
  DouglasSplit& operator=(const DouglasSplit&) = delete;
  // The factors M_a of step t (prev: of the step before, t_{j+1}), and the cost
  // c_u there when cost is not null; arguments as HjbOperator::assemble.
  void assemble(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, bool prev, ::Vec cost);
  // y = A x = sum_a M_a x - (d - 1) x, with the factors of this step or of the one before.
  void mult(bool prev, ::Vec x, ::Vec y) const;
  // V = W + delta, M_1 ... M_d delta = R - A W; returns the line-solve iterations
  // (summed over the axes).  Throws SolverError when a line solve fails.
  PetscInt solve(::Vec R, ::Vec W, ::Vec V, double t);
  // The factors of this step become those of the step before (after a step).
  // Copied, not swapped: each line solve keeps its operator Mat, so PETSc
  // reuses the symbolic factorization (same pattern) instead of redoing it.
  void make_previous();
  // Sets the line solves' relative tolerance unless -hjb_adi_ksp_rtol was given.
  void set_rtol_unless_given(double rtol);

private:
  const HjbOperator& op_;
  int d_;
  std::vector<Mat> M_, Mprev_;
  std::vector<KSP> ksp_;
  ::Vec r_ = nullptr, delta_ = nullptr;
};

}  // namespace hjbft
