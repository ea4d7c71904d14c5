#pragma once
// Fields on the owned points of a DMDA grid that several solvers and the
// analysis need: ghosted read access, laws on the grid (reference marginal,
// value-tilted law), the mass region where error norms are taken, and the
// closed form evaluated on the grid.
#include <petscdmda.h>

#include <array>

#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/grid/grid.hpp"
#include "hjbft/model/score.hpp"

namespace hjbft {

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

// V*(t, .) into V (dof 1) and u* = gain(t) grad V*(t, .) into U (dof d) on the
// owned points of the grid.
void evaluate_on_grid(const ExactSolution& exact, const ControlProblem& control, const Grid& grid, double t,
                      ::Vec V, ::Vec U);

}  // namespace hjbft
