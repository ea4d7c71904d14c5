#include "hjbft/grid/grid_fields.hpp"

#include <algorithm>
#include <cmath>

#include "hjbft/core/errors.hpp"

namespace hjbft {

GhostedArray ghosted_view(DM da, const PetscScalar* a) {
  GhostedArray v;
  v.a = a;
  PetscInt xs, ys, zs, xm, ym, zm;
  HJBFT_PETSC(DMDAGetGhostCorners(da, &xs, &ys, &zs, &xm, &ym, &zm));
  v.gs = {xs, ys, zs};
  v.gw = {xm, ym, zm};
  return v;
}

void grid_law(const Grid& g, const FastGmmScore& law, const PetscScalar* shift, double beta, ::Vec out) {
  PetscScalar* m;
  HJBFT_PETSC(VecGetArray(out, &m));
  double mx = -INFINITY;
  g.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
    m[idx] = law.log_density(x.data()) + (shift ? shift[idx] / beta : 0.0);
    mx = std::max(mx, m[idx]);
  });
  MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_DOUBLE, MPI_MAX, g.comm());
  for (PetscInt i = 0; i < g.n_local(); ++i) m[i] = std::exp(m[i] - mx);
  HJBFT_PETSC(VecRestoreArray(out, &m));
  PetscReal total;
  HJBFT_PETSC(VecSum(out, &total));
  HJBFT_PETSC(VecScale(out, 1.0 / total));
}

double mass_level(MPI_Comm comm, const PetscScalar* w, PetscInt n, double mass) {
  double wmax = 0;
  for (PetscInt i = 0; i < n; ++i) wmax = std::max(wmax, w[i]);
  MPI_Allreduce(MPI_IN_PLACE, &wmax, 1, MPI_DOUBLE, MPI_MAX, comm);
  // Bisection on log(level).
  double lo = std::log(wmax) - 80, hi = std::log(wmax);
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi), level = std::exp(mid);
    double inside = 0;
    for (PetscInt i = 0; i < n; ++i)
      if (w[i] >= level) inside += w[i];
    MPI_Allreduce(MPI_IN_PLACE, &inside, 1, MPI_DOUBLE, MPI_SUM, comm);
    (inside >= mass ? lo : hi) = mid;
  }
  return std::exp(lo);
}

void evaluate_on_grid(const ExactSolution& exact, const ControlProblem& control, const Grid& grid, double t,
                      ::Vec V, ::Vec U) {
  const int d = grid.dim();
  const double gain = control.coefficients(t).gain();
  const auto field = exact.at_time(t);
  PetscScalar *v, *u;
  HJBFT_PETSC(VecGetArray(V, &v));
  HJBFT_PETSC(VecGetArray(U, &u));
  grid.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
    const ValueAndGradient p = field(x);
    v[idx] = p.V;
    for (int a = 0; a < d; ++a) u[idx * d + a] = gain * p.grad[a];
  });
  HJBFT_PETSC(VecRestoreArray(V, &v));
  HJBFT_PETSC(VecRestoreArray(U, &u));
}

}  // namespace hjbft
