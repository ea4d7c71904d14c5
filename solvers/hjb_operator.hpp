#pragma once
// Finite-difference pieces of the grid HJB solver (internal header):
// the operator A = I - theta dt L_u(t) with its cost c_u(t), the control
// u = gain grad_h V, and Hessian norms, all on the owned box of a DMDA.
#include <petscmat.h>

#include <array>
#include <vector>

#include "hjbft/grid.hpp"

namespace hjbft {

// Score of a GMM marginal at d <= 3 without heap allocation (the hot loop of
// every assembly): per component log(pi_k) - 1/2 log det(2 pi S_k), mean, precision.
class FastGmmScore {
public:
  FastGmmScore(const Gmm& g, const ScoreError& err);
  void operator()(const double* x, double* s) const;
  double log_density(const double* x) const;

private:
  int d_, K_;
  std::vector<double> logc_, mean_, prec_;
  mutable std::vector<double> work_;
  mutable double work_sum_ = 1;
  ScoreError err_;
};

// Read access to a ghosted local DMDA vector with 1-3 D indexing.
struct GhostedArray {
  const PetscScalar* a = nullptr;
  std::array<PetscInt, 3> gs{0, 0, 0}, gw{1, 1, 1};
  PetscInt stride(int axis) const { return axis == 0 ? 1 : axis == 1 ? gw[0] : gw[0] * gw[1]; }
  PetscInt index(const std::array<PetscInt, 3>& g) const {
    return ((g[2] - gs[2]) * gw[1] + (g[1] - gs[1])) * gw[0] + (g[0] - gs[0]);
  }
};
// The ghosted box of this rank; `a` (optional) is the array of a local vector of `da`.
GhostedArray ghosted_view(DM da, const PetscScalar* a = nullptr);

// Law on the grid proportional to law(x) exp(shift(x) / beta), normalised to
// mass one, evaluated in log space (no under- or overflow however peaked).
// shift: owned-point array (e.g. V(0, .)) or null for none.
void grid_law(const Grid& g, const FastGmmScore& law, const PetscScalar* shift, double beta, ::Vec out);

// The level whose superlevel set {w >= level} holds at least `mass` of the
// weights w (owned points of every rank; mass one in total): the region
// where error norms are taken.  Collective.
double mass_level(MPI_Comm comm, const PetscScalar* w, PetscInt n, double mass);

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
