#pragma once
// Finite-difference pieces of the grid HJB solver (private header):
// the operator A = I - theta dt L_u(t) with its cost c_u(t), the control
// u = gain grad_h V, and Hessian norms, all on the owned box of a DMDA.
#include <petscmat.h>

#include <array>
#include <vector>

#include "hjbft/grid/grid_fields.hpp"

namespace hjbft {

class HjbOperator {
public:
  HjbOperator(const Problem& p, const Grid& g, bool upwind_only);
  // The reference drift b(t, x) = lin(t) x + sfac(t) s(x, T - t) at the owned points
  // (B has dof d).  It holds the score, the costly part of the operator, and does
  // not depend on the control: the solver computes it once per time step and
  // reuses it across policy-iteration sweeps and Howard iterations.
  void reference_drift(double t, ::Vec B) const;
  // Gives A (from DMCreateMatrix) the operator's nonzero pattern in COO form:
  // per owned row, in for_each_local order, the diagonal and then, axis by
  // axis, the lower and upper neighbour where they exist.  assemble() then
  // writes the values in that order with one MatSetValuesCOO (no per-row
  // insertion; a CUDA matrix takes them in one copy).
  // axis >= 0: the pattern of that axis alone (diagonal, lower, upper), for the
  // factors I - theta dt L_a of the Douglas splitting (hjb_douglas.hpp).
  void set_pattern(Mat A, int axis = -1) const;
  // A = I - theta dt L_u(t), cost = c_u(t) = -beta/2 Lambda |u|^2 (may be null).
  // drift: reference_drift(t) (global, dof d).
  // ctrl: ghosted local vector of the value that defines u = gain grad_h V, or null (u = 0).
  void assemble(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, Mat A, ::Vec cost) const;
  // The same as d one-axis factors M[a] = I - theta dt L_a, L_a the part of L
  // along axis a (L = sum_a L_a, each with zero row sums), M[a] with
  // set_pattern(M[a], a); the control is computed once for all of them.
  void assemble_axes(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, Mat* M, ::Vec cost) const;
  // u = gain grad_h V at time t; V given as a ghosted local vector; U has dof d.
  void control(double t, ::Vec Vlocal, ::Vec U) const;
  // grad_h V at an owned point (central inside, one-sided at the box edge).
  void gradient(const GhostedArray& v, const std::array<PetscInt, 3>& g, double* grad) const;
  // Spectral norm of the central-difference Hessian at an interior point.
  double hessian_norm(const GhostedArray& v, const std::array<PetscInt, 3>& g) const;
  bool interior(const std::array<PetscInt, 3>& g) const;

private:
  const Problem& p_;
  const Grid& g_;
  bool upwind_only_;
  mutable std::vector<PetscScalar> coo_values_;  // assemble()'s work array, in set_pattern()'s order
  mutable std::vector<std::vector<PetscScalar>> coo_axis_values_;  // the same per axis factor
  void assemble_into(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, Mat* M, bool per_axis,
                     ::Vec cost) const;
};

}  // namespace hjbft
