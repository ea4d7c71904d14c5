#include "hjbft/grid/grid.hpp"

#include <cmath>
#include <sstream>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"

namespace hjbft {

PetscErrorCode ReadGridOptions(MPI_Comm comm, int dim, GridOptions* o) {
  PetscFunctionBeginUser;
  PetscReal buf[3];
  PetscInt n;
  PetscBool set;
  PetscOptionsBegin(comm, nullptr, "Grid options (-da_grid_x/y/z set the points per axis)", nullptr);
  n = 3;
  PetscCall(PetscOptionsRealArray("-grid_lo", "Lower corner of the box (d values or 1; default: automatic)", nullptr,
                                  buf, &n, &set));
  if (set) o->lo.assign(buf, buf + n);
  n = 3;
  PetscCall(PetscOptionsRealArray("-grid_hi", "Upper corner of the box (d values or 1; default: automatic)", nullptr,
                                  buf, &n, &set));
  if (set) o->hi.assign(buf, buf + n);
  PetscCall(PetscOptionsInt("-nt", "Number of time steps on [0, T]", nullptr, o->nt, &o->nt, nullptr));
  PetscCall(PetscOptionsInt("-save_every", "Save every N-th time step (0: nt/10); t = 0 and T always", nullptr,
                            o->save_every, &o->save_every, nullptr));
  PetscCall(PetscOptionsReal("-grid_mass_tol", "Largest reference mass allowed outside the box", nullptr, o->mass_tol,
                             &o->mass_tol, nullptr));
  (void)dim;
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

std::pair<std::vector<double>, std::vector<double>> automatic_box(const Problem& p) {
  const int d = p.dim;
  std::vector<double> lo(d, INFINITY), hi(d, -INFINITY);
  for (int j = 0; j <= 64; ++j) {
    const double tau = p.T() * j / 64.0;
    const double m = p.sde.m(tau), v = p.sde.v(tau);
    for (int k = 0; k < p.data().size(); ++k) {
      const auto& c = p.data().component(k);
      for (int a = 0; a < d; ++a) {
        const double sd = std::sqrt(m * m * c.cov(a, a) + v);
        lo[a] = std::min(lo[a], m * c.mean[a] - 6 * sd);
        hi[a] = std::max(hi[a], m * c.mean[a] + 6 * sd);
      }
    }
  }
  return {lo, hi};
}

double mass_outside_box(const Problem& p, const std::vector<double>& lo, const std::vector<double>& hi, double t) {
  const double tau = p.T() - t;
  const double m = p.sde.m(tau), v = p.sde.v(tau);
  double out = 0;
  for (int k = 0; k < p.data().size(); ++k) {
    const auto& c = p.data().component(k);
    for (int a = 0; a < p.dim; ++a) {  // union bound over axes
      const double mu = m * c.mean[a], sd = std::sqrt(m * m * c.cov(a, a) + v);
      const double below = 0.5 * std::erfc((mu - lo[a]) / (sd * std::sqrt(2.0)));
      const double above = 0.5 * std::erfc((hi[a] - mu) / (sd * std::sqrt(2.0)));
      out += c.weight * (below + above);
    }
  }
  return out;
}

Grid::Grid(MPI_Comm comm, const Problem& problem, const GridOptions& o)
    : comm_(comm), dim_(problem.dim), nt_(o.nt), T_(problem.T()) {
  if (dim_ < 1 || dim_ > 3) throw InputError("-dim", "grid commands support d = 1, 2 or 3 (got " + std::to_string(dim_) + ")");
  if (o.nt < 1) throw InputError("-nt", "must be >= 1 (got " + std::to_string(o.nt) + ")");
  if (o.save_every < 0) throw InputError("-save_every", "must be >= 0 (0: nt/10)");
  if (!(o.mass_tol > 0 && o.mass_tol < 1)) throw InputError("-grid_mass_tol", "must be in (0, 1)");
  auto [alo, ahi] = automatic_box(problem);
  lo_ = o.lo.empty() ? alo : broadcast(o.lo, dim_, "-grid_lo");
  hi_ = o.hi.empty() ? ahi : broadcast(o.hi, dim_, "-grid_hi");
  for (int a = 0; a < dim_; ++a)
    if (!std::isfinite(lo_[a]) || !std::isfinite(hi_[a]) || !(hi_[a] > lo_[a]))
      throw InputError("-grid_hi", "each upper bound must be finite and greater than -grid_lo (axis " +
                                       std::to_string(a) + ")");

  try {
    setup(o, alo, ahi, problem);
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    DMDestroy(&dab_);
    DMDestroy(&dav_);
    DMDestroy(&da_);
    throw;
  }
}

void Grid::setup(const GridOptions& o, const std::vector<double>& alo, const std::vector<double>& ahi,
                 const Problem& problem) {
  const MPI_Comm comm = comm_;
  const PetscInt default_n = dim_ == 1 ? 201 : dim_ == 2 ? 65 : 33;
  HJBFT_PETSC(DMDACreate(comm, &da_));
  HJBFT_PETSC(DMSetDimension(da_, dim_));
  auto size = [&](int a) { return a >= dim_ ? 1 : o.n[a] > 0 ? o.n[a] : default_n; };
  HJBFT_PETSC(DMDASetSizes(da_, size(0), size(1), size(2)));
  HJBFT_PETSC(DMDASetDof(da_, 1));
  HJBFT_PETSC(DMDASetStencilWidth(da_, 1));
  HJBFT_PETSC(DMDASetStencilType(da_, DMDA_STENCIL_STAR));
  HJBFT_PETSC(DMSetFromOptions(da_));
  if (o.exact_sizes) HJBFT_PETSC(DMDASetSizes(da_, size(0), size(1), size(2)));
  HJBFT_PETSC(DMSetUp(da_));
  PetscInt M, N, P;
  HJBFT_PETSC(DMDAGetInfo(da_, nullptr, &M, &N, &P, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                          nullptr, nullptr));
  n_ = {M, N, P};
  const char* names[3] = {"-da_grid_x", "-da_grid_y", "-da_grid_z"};
  for (int a = 0; a < dim_; ++a)
    if (n_[a] < 5) throw InputError(names[a], "the grid needs at least 5 points per axis (got " + std::to_string(n_[a]) + ")");
  HJBFT_PETSC(DMDASetUniformCoordinates(da_, lo_[0], hi_[0], dim_ > 1 ? lo_[1] : 0, dim_ > 1 ? hi_[1] : 1,
                                        dim_ > 2 ? lo_[2] : 0, dim_ > 2 ? hi_[2] : 1));
  HJBFT_PETSC(DMDACreateCompatibleDMDA(da_, dim_, &dav_));
  create_box_twin();
  PetscInt xs, ys, zs, xm, ym, zm;
  HJBFT_PETSC(DMDAGetCorners(da_, &xs, &ys, &zs, &xm, &ym, &zm));
  s_ = {xs, ys, zs};
  w_ = {xm, ym, zm};

  const PetscInt every = o.save_every > 0 ? o.save_every : std::max<PetscInt>(1, nt_ / 10);
  for (PetscInt j = 0; j <= nt_; j += every) saved_.push_back(j);
  if (saved_.back() != nt_) saved_.push_back(nt_);

  if (!o.lo.empty() || !o.hi.empty()) check_box_mass(o, alo, ahi, problem);
}

// A twin of the DMDA with a box stencil and the same ownership, for the mixed
// derivatives of Hessians.
void Grid::create_box_twin() {
  const MPI_Comm comm = comm_;
  const PetscInt *lx, *ly, *lz;
  PetscInt px, py, pz;
  HJBFT_PETSC(DMDAGetInfo(da_, nullptr, nullptr, nullptr, nullptr, &px, &py, &pz, nullptr, nullptr, nullptr, nullptr,
                          nullptr, nullptr));
  HJBFT_PETSC(DMDAGetOwnershipRanges(da_, &lx, &ly, &lz));
  HJBFT_PETSC(DMDACreate(comm, &dab_));
  HJBFT_PETSC(DMSetDimension(dab_, dim_));
  HJBFT_PETSC(DMDASetSizes(dab_, n_[0], n_[1], n_[2]));
  HJBFT_PETSC(DMDASetNumProcs(dab_, px, py, pz));
  HJBFT_PETSC(DMDASetOwnershipRanges(dab_, lx, dim_ > 1 ? ly : nullptr, dim_ > 2 ? lz : nullptr));
  HJBFT_PETSC(DMDASetDof(dab_, 1));
  HJBFT_PETSC(DMDASetStencilWidth(dab_, 1));
  HJBFT_PETSC(DMDASetStencilType(dab_, DMDA_STENCIL_BOX));
  HJBFT_PETSC(DMSetUp(dab_));
}

// A user box (-grid_lo / -grid_hi) must hold the reference marginal at every
// saved time up to -grid_mass_tol: the domain truncation is then a known error.
void Grid::check_box_mass(const GridOptions& o, const std::vector<double>& alo, const std::vector<double>& ahi,
                          const Problem& problem) const {
  for (PetscInt j : saved_) {
    const double mass = mass_outside_box(problem, lo_, hi_, time(j));
    if (mass > o.mass_tol) {
      std::ostringstream s;
      s << "the box misses up to " << mass << " of the reference mass at t = " << time(j) << " (allowed "
        << o.mass_tol << ", -grid_mass_tol); widen it (the automatic box is";
      for (int a = 0; a < dim_; ++a) s << " [" << alo[a] << ", " << ahi[a] << "]";
      s << ")";
      throw InputError(o.lo.empty() ? "-grid_hi" : "-grid_lo", s.str());
    }
  }
}

Grid::~Grid() {
  DMDestroy(&dab_);
  DMDestroy(&dav_);
  DMDestroy(&da_);
}

PetscInt Grid::n_total() const { return n_[0] * n_[1] * n_[2]; }

std::vector<double> Grid::axis_coords(int axis) const {
  std::vector<double> c(n_[axis]);
  for (PetscInt i = 0; i < n_[axis]; ++i) c[i] = coord(axis, i);
  return c;
}

GridOptions Grid::options() const {
  GridOptions o;
  o.n = n_;
  o.lo = lo_;
  o.hi = hi_;
  o.nt = nt_;
  o.save_every = saved_.size() > 1 ? saved_[1] - saved_[0] : nt_;
  o.exact_sizes = true;
  return o;
}

int Grid::saved_index(PetscInt j) const {
  for (std::size_t i = 0; i < saved_.size(); ++i)
    if (saved_[i] == j) return static_cast<int>(i);
  return -1;
}

std::string Grid::describe() const {
  std::ostringstream s;
  s << "grid";
  for (int a = 0; a < dim_; ++a) s << (a ? " x " : " ") << n_[a];
  s << " on";
  for (int a = 0; a < dim_; ++a) s << " [" << lo_[a] << ", " << hi_[a] << "]";
  s << ", nt=" << nt_ << ", " << saved_.size() << " saved times";
  return s.str();
}

}  // namespace hjbft
