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
  // A = I - theta dt L_u(t), cost = c_u(t) = -beta/2 Lambda |u|^2 (may be null).
  // ctrl: ghosted local vector of the value that defines u = gain grad_h V, or null (u = 0).
  void assemble(double t, double theta, double dt, ::Vec ctrl, Mat A, ::Vec cost) const;
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
};

}  // namespace hjbft
