#pragma once
// Space-time grids: a PETSc DMDA on the box [lo, hi] (1-3 D, vertex-centred,
// n points per axis including both ends) and a uniform time grid
// t_j = j T / nt, j = 0..nt, of which every save_every-th (and the last) is saved.
//
// Options: -da_grid_x/y/z (PETSc's own), -grid_lo, -grid_hi (d values or one
// for all axes; default: a box holding +-6 standard deviations of every
// reference marginal), -nt, -save_every, -grid_mass_tol.
#include <petscdmda.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "hjbft/model/problem.hpp"

namespace hjbft {

struct GridOptions {
  std::array<PetscInt, 3> n{0, 0, 0};  // points per axis (0: default); -da_grid_x/y/z override
  std::vector<double> lo, hi;  // empty: automatic box
  PetscInt nt = 200;
  PetscInt save_every = 0;  // 0: nt / 10
  double mass_tol = 1e-3;
  bool check_mass = true;
  // n is final: -da_grid_x/y/z do not override it (companion grids of another
  // size than the run's; the other DM options, e.g. -dm_vec_type, still apply).
  bool exact_sizes = false;
};

PetscErrorCode ReadGridOptions(MPI_Comm comm, int dim, GridOptions* o);

// Automatic box: +-6 standard deviations of every reference marginal p_tau.
std::pair<std::vector<double>, std::vector<double>> automatic_box(const Problem& p);
// Upper bound on the reference mass outside the box at generation time t.
double mass_outside_box(const Problem& p, const std::vector<double>& lo, const std::vector<double>& hi, double t);

class Grid {
public:
  Grid(MPI_Comm comm, const Problem& problem, const GridOptions& o);  // throws InputError
  ~Grid();
  Grid(const Grid&) = delete;
  Grid& operator=(const Grid&) = delete;

  MPI_Comm comm() const { return comm_; }
  int dim() const { return dim_; }
  DM da() const { return da_; }            // one dof: the value
  DM da_vector() const { return dav_; }    // d dofs: the control
  DM da_box() const { return dab_; }       // one dof, box stencil (mixed derivatives); same layout as da()
  PetscInt n(int axis) const { return n_[axis]; }
  PetscInt n_total() const;
  double lo(int axis) const { return lo_[axis]; }
  double hi(int axis) const { return hi_[axis]; }
  double h(int axis) const { return (hi_[axis] - lo_[axis]) / (n_[axis] - 1); }
  double coord(int axis, PetscInt i) const { return lo_[axis] + i * h(axis); }
  std::vector<double> axis_coords(int axis) const;
  // The options this grid was built from (box, sizes and steps filled in).
  GridOptions options() const;

  // Owned box of this rank: start and width per axis (unused axes: 0, 1).
  std::array<PetscInt, 3> start() const { return s_; }
  std::array<PetscInt, 3> width() const { return w_; }
  PetscInt n_local() const { return w_[0] * w_[1] * w_[2]; }
  // Calls fn(local index, global index triple, coordinates) over owned points, x fastest.
  // A template, so that the per-point work of the assembly and the diagnostics is
  // inlined into the loop (a std::function call per point cost as much as the work).
  template <class Fn>
  void for_each_local(Fn&& fn) const {
    Vector x(dim_);
    PetscInt idx = 0;
    for (PetscInt k = s_[2]; k < s_[2] + w_[2]; ++k)
      for (PetscInt j = s_[1]; j < s_[1] + w_[1]; ++j)
        for (PetscInt i = s_[0]; i < s_[0] + w_[0]; ++i, ++idx) {
          const std::array<PetscInt, 3> g{i, j, k};
          for (int a = 0; a < dim_; ++a) x[a] = coord(a, g[a]);
          fn(idx, g, static_cast<const Vector&>(x));
        }
  }

  // Time grid.
  PetscInt nt() const { return nt_; }
  double dt() const { return T_ / nt_; }
  double time(PetscInt j) const { return j * T_ / nt_; }
  const std::vector<PetscInt>& saved_steps() const { return saved_; }  // ascending
  // Position of step j among the saved steps, or -1.
  int saved_index(PetscInt j) const;
  std::string describe() const;

private:
  void setup(const GridOptions& o, const std::vector<double>& alo, const std::vector<double>& ahi,
             const Problem& problem);
  void create_box_twin();
  void check_box_mass(const GridOptions& o, const std::vector<double>& alo, const std::vector<double>& ahi,
                      const Problem& problem) const;
  MPI_Comm comm_;
  int dim_;
  DM da_ = nullptr, dav_ = nullptr, dab_ = nullptr;
  std::array<PetscInt, 3> n_{1, 1, 1}, s_{0, 0, 0}, w_{1, 1, 1};
  std::vector<double> lo_, hi_;
  PetscInt nt_;
  double T_;
  std::vector<PetscInt> saved_;
};

}  // namespace hjbft
