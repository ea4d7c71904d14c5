// The discrete-time Bellman recursion on a grid (include/hjbft/solvers/bellman.hpp):
// the optimum by a per-point Newton solve of the first-order condition, and
// the exact PI-FT iteration measured against it.
#include "hjbft/solvers/bellman.hpp"

#include <petsctime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/text.hpp"
#include "hjbft/grid/grid_fields.hpp"

namespace hjbft {

namespace {

const Problem& validated(const Problem& p, const BellmanOptions& o) {
  validate_bellman_options(p, o);
  return p;
}

}  // namespace

PetscErrorCode ReadBellmanOptions(MPI_Comm comm, BellmanOptions* o) {
  char method[64], expect[64];
  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(method, o->method.c_str(), sizeof method));
  PetscCall(PetscStrncpy(expect, o->expectation.c_str(), sizeof expect));
  PetscBool mon = o->monitor ? PETSC_TRUE : PETSC_FALSE;
  PetscOptionsBegin(comm, nullptr, "Discrete-time Bellman solver (hjbft bellman; DESIGN.md section 5)", nullptr);
  PetscCall(PetscOptionsInt("-ddpm_steps", "Number K of DDPM steps (the time grid: -nt is set to K)", nullptr, o->K,
                            &o->K, nullptr));
  PetscCall(PetscOptionsString("-bellman_method", "optimum (per-point first-order condition) | pi (exact PI-FT)",
                               nullptr, method, method, sizeof method, nullptr));
  PetscCall(PetscOptionsString("-bellman_expectation",
                               "E over the step noise: auto (exact in 1-D, quadrature in 2-D) | exact (1-D: the "
                               "Gaussian integral of the cubic spline) | quadrature (Gauss-Hermite)",
                               nullptr, expect, expect, sizeof expect, nullptr));
  PetscCall(PetscOptionsInt("-bellman_quad", "Gauss-Hermite nodes per axis (quadrature; objectives)", nullptr,
                            o->quad, &o->quad, nullptr));
  PetscCall(PetscOptionsReal("-bellman_tol", "Optimum: per-point tolerance on the Newton step of the control",
                             nullptr, o->tol, &o->tol, nullptr));
  PetscCall(PetscOptionsInt("-bellman_max_it", "Optimum: maximum Newton iterations per point", nullptr, o->max_it,
                            &o->max_it, nullptr));
  PetscCall(PetscOptionsInt("-bellman_pi_max", "PI: maximum iterations", nullptr, o->pi_max, &o->pi_max, nullptr));
  PetscCall(PetscOptionsReal("-bellman_pi_tol", "PI: stop when sup |u^{m+1} - u^m| < tol", nullptr, o->pi_tol,
                             &o->pi_tol, nullptr));
  PetscCall(PetscOptionsReal("-error_mass", "Error norms on the region holding this reference mass", nullptr, o->mass,
                             &o->mass, nullptr));
  PetscCall(PetscOptionsBool("-bellman_monitor", "Print progress", nullptr, mon, &mon, nullptr));
  PetscOptionsEnd();
  o->method = method;
  o->expectation = expect;
  o->monitor = mon;
  PetscFunctionReturn(0);
}

void validate_bellman_options(const Problem& p, const BellmanOptions& o) {
  if (o.K < 1) throw InputError("-ddpm_steps", "must be a positive number of steps, got " + std::to_string(o.K));
  if (p.dim < 1 || p.dim > 2)
    throw InputError("-dim", "hjbft bellman solves d = 1 or 2 (tensor quadrature: n^d nodes at each of the grid's "
                             "points and steps); got d = " + std::to_string(p.dim));
  if (p.eta() != 1.0)
    throw InputError("-eta", "the discrete-time (DDPM) chain is the eta = 1 sampler; got eta = " +
                                 std::to_string(p.eta()));
  if (o.method != "optimum" && o.method != "pi")
    throw InputError("-bellman_method", "unknown method '" + o.method + "' (allowed: optimum, pi)");
  if (o.expectation != "auto" && o.expectation != "exact" && o.expectation != "quadrature")
    throw InputError("-bellman_expectation",
                     "unknown method '" + o.expectation + "' (allowed: auto, exact, quadrature)");
  if (o.expectation == "exact" && p.dim != 1)
    throw InputError("-bellman_expectation", "exact Gaussian integrals of the spline are 1-D only; use quadrature");
  if (o.quad < 1 || o.quad > 100)
    throw InputError("-bellman_quad", "needs 1 to 100 Gauss-Hermite nodes per axis, got " + std::to_string(o.quad));
  if (!(o.tol > 0)) throw InputError("-bellman_tol", "must be > 0");
  if (o.max_it < 1) throw InputError("-bellman_max_it", "must be >= 1");
  if (o.pi_max < 1) throw InputError("-bellman_pi_max", "must be >= 1");
  if (!(o.pi_tol > 0)) throw InputError("-bellman_pi_tol", "must be > 0");
  if (!(o.mass > 0 && o.mass < 1)) throw InputError("-error_mass", "must be in (0, 1)");
}

BellmanGridSolver::BellmanGridSolver(const Problem& problem, const Grid& grid, const BellmanOptions& o)
    : p_(validated(problem, o)), g_(grid), o_(o), chain_(problem, static_cast<int>(o.K)), d_(problem.dim) {
  if (grid.nt() != o.K)
    throw InputError("-nt", "the time grid of hjbft bellman is the chain's: -nt must equal -ddpm_steps " +
                                std::to_string(o.K) + " (or be omitted), got " + std::to_string(grid.nt()));
  if (grid.dim() != d_) throw InputError("-dim", "grid and problem dimensions differ");
  N_ = static_cast<std::size_t>(grid.n_total());
  for (int a = 0; a < d_; ++a) {
    lo_[a] = grid.lo(a);
    h_[a] = grid.h(a);
    n_[a] = static_cast<int>(grid.n(a));
  }
  X_.resize(N_ * d_);
  for (std::size_t i = 0; i < N_; ++i) {
    const std::size_t i0 = i % n_[0], i1 = i / n_[0];
    X_[i * d_] = grid.coord(0, static_cast<PetscInt>(i0));
    if (d_ == 2) X_[i * d_ + 1] = grid.coord(1, static_cast<PetscInt>(i1));
  }
  // Contiguous blocks of the natural ordering, one per rank.
  int size, rank;
  MPI_Comm_size(grid.comm(), &size);
  MPI_Comm_rank(grid.comm(), &rank);
  counts_.resize(size);
  displs_.resize(size);
  for (int r = 0; r < size; ++r) {
    displs_[r] = static_cast<int>(N_ * r / size);
    counts_[r] = static_cast<int>(N_ * (r + 1) / size) - displs_[r];
  }
  own_lo_ = displs_[rank];
  own_hi_ = own_lo_ + counts_[rank];
  // Tensor Gauss-Hermite rule.
  const GaussHermite gh = gauss_hermite(static_cast<int>(o.quad));
  const int n = static_cast<int>(o.quad);
  if (d_ == 1) {
    zx_ = gh.x;
    zw_ = gh.w;
  } else {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        zx_.push_back(gh.x[i]);
        zx_.push_back(gh.x[j]);
        zw_.push_back(gh.w[i] * gh.w[j]);
      }
  }
  exact_expectation_ = o.expectation == "exact" || (o.expectation == "auto" && d_ == 1);
  exact_ = make_exact_solution(p_, "auto");
  const std::size_t ns = g_.saved_steps().size();
  optV_.resize(ns);
  optU_.resize(ns);
  setup_reference();
}

void BellmanGridSolver::gather(std::vector<double>& field, int dof) const {
  std::vector<int> c(counts_.size()), s(counts_.size());
  for (std::size_t r = 0; r < counts_.size(); ++r) {
    c[r] = counts_[r] * dof;
    s[r] = displs_[r] * dof;
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, field.data(), c.data(), s.data(), MPI_DOUBLE, g_.comm());
}

void BellmanGridSolver::to_vec(const std::vector<double>& field, int dof, ::Vec v) const {
  PetscScalar* a;
  HJBFT_PETSC(VecGetArray(v, &a));
  const std::size_t n0 = n_[0], n1 = n_[1];
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>& gi, const Vector&) {
    const std::size_t nat = gi[0] + n0 * (gi[1] + n1 * gi[2]);
    for (int k = 0; k < dof; ++k) a[idx * dof + k] = field[nat * dof + k];
  });
  HJBFT_PETSC(VecRestoreArray(v, &a));
}

void BellmanGridSolver::terminal(std::vector<double>& V, std::vector<double>& U) const {
  V.assign(N_, 0);
  U.assign(N_ * d_, 0);
  const double beta = p_.control.beta()(p_.T());
  Vector x(d_);
  for (std::size_t i = 0; i < N_; ++i) {
    for (int a = 0; a < d_; ++a) x[a] = X_[i * d_ + a];
    V[i] = p_.reward->value(x);
    const Vector g = p_.reward->gradient(x);
    for (int a = 0; a < d_; ++a) U[i * d_ + a] = g[a] / beta;
  }
  for (double v : V)
    if (!std::isfinite(v)) throw InputError("-reward", "the reward is not finite at some grid point of the box");
}

void BellmanGridSolver::mean_at_points(int t, std::vector<double>& mu) const {
  const DdpmStep& st = chain_.step(t);
  const FastGmmScore score(chain_.score(t).marginal(), p_.score.error());
  mu.resize((own_hi_ - own_lo_) * d_);
  double s[2];
  for (std::size_t i = own_lo_; i < own_hi_; ++i) {
    const double* x = &X_[i * d_];
    score(x, s);
    for (int a = 0; a < d_; ++a) mu[(i - own_lo_) * d_ + a] = st.a * x[a] + st.b * s[a];
  }
}

double BellmanGridSolver::objective(const SplineField& V0) const {
  const double sd = std::sqrt(chain_.initial_variance());
  if (exact_expectation_) {
    double J;
    V0.gauss_expect(0.0, sd, &J, nullptr, nullptr);
    return J;
  }
  const std::size_t nq = zw_.size();
  double J = 0, x[2];
  for (std::size_t q = 0; q < nq; ++q) {
    for (int a = 0; a < d_; ++a) x[a] = sd * zx_[q * d_ + a];
    J += zw_[q] * V0.value(x);
  }
  return J;
}

// Mass weights of the reference marginal p_tau at the grid points (sum 1) and
// the region {w >= level} holding o_.mass of them.
void BellmanGridSolver::reference_law(double tau, std::vector<double>& w, std::vector<char>& region) const {
  const FastGmmScore law(p_.score.at_tau(tau).marginal(), ScoreError{});
  w.resize(N_);
  double mx = -INFINITY;
  for (std::size_t i = 0; i < N_; ++i) {
    w[i] = law.log_density(&X_[i * d_]);
    mx = std::max(mx, w[i]);
  }
  double total = 0;
  for (double& v : w) total += (v = std::exp(v - mx));
  for (double& v : w) v /= total;
  // Every rank holds all N_ points (X_ is the whole grid): the level is a rank-local computation.
  const double level = mass_level(PETSC_COMM_SELF, w.data(), static_cast<PetscInt>(N_), o_.mass);
  region.resize(N_);
  for (std::size_t i = 0; i < N_; ++i) region[i] = w[i] >= level;
}

// The reference law at every saved step t: p_{T-t}.
void BellmanGridSolver::setup_reference() {
  for (PetscInt j : g_.saved_steps()) {
    std::vector<double> w;
    std::vector<char> m;
    reference_law(p_.T() - g_.time(j), w, m);
    weight_.push_back(std::move(w));
    mask_.push_back(std::move(m));
  }
}

BellmanGridSolver::Errors BellmanGridSolver::errors(const std::vector<std::vector<double>>& V,
                                                    const std::vector<std::vector<double>>& U,
                                                    const std::vector<std::vector<double>>& Vref,
                                                    const std::vector<std::vector<double>>& Uref) const {
  Errors e;
  const std::size_t ns = V.size();
  for (std::size_t s = 0; s < ns; ++s) {
    const auto& w = weight_[s];
    const auto& m = mask_[s];
    for (std::size_t i = 0; i < N_; ++i) {
      const double ev = std::abs(V[s][i] - Vref[s][i]);
      double eu2 = 0;
      for (int a = 0; a < d_; ++a) eu2 += std::pow(U[s][i * d_ + a] - Uref[s][i * d_ + a], 2);
      if (m[i]) {
        e.value_sup = std::max(e.value_sup, ev);
        e.control_sup = std::max(e.control_sup, std::sqrt(eu2));
      }
      e.value_l2 += w[i] * ev * ev;
      e.control_l2 += w[i] * eu2;
    }
  }
  e.value_l2 = std::sqrt(e.value_l2 / ns);
  e.control_l2 = std::sqrt(e.control_l2 / ns);
  return e;
}

void BellmanGridSolver::solve() {
  const double t0 = now();
  optimum();
  summary_["optimum_wall_time"] = now() - t0;
  if (exact_) compare_with_continuous();
  if (o_.method == "pi") {
    policy_iteration();
  } else {
    outV_ = optV_;
    outU_ = optU_;
  }
  summary_["wall_time"] = now() - t0;
}

// ---------------------------------------------------------------------------
// The optimum.  At step t and grid point y the control u maximizes the Bellman
// objective
//   phi(u) = -c/2 |u|^2 + E V_{t+1}(mu + b u + sigma Z),   mu = a y + b s_t(y),
// whose gradient is -c F(u) with F(u) = u - gain E grad V_{t+1}(mu + b u + sigma Z),
// gain = sigma^2/(beta b) = b/c, and whose Hessian is -c J(u) with
// J = I - gain b E Hess V_{t+1}.  The maximizer solves F(u) = 0 by Newton's
// method where J is positive definite (phi concave there) and by the
// fixed-point step u <- gain E grad V_{t+1} (PI-FT's improvement) elsewhere.

namespace {

// One grid point's objective phi at one step: the step's constants, the point's
// mean mu and V_{t+1} (its spline) with the rule for the expectation over Z.
struct PointObjective {
  const SplineField& V;           // V_{t+1}
  const double* mu;               // a y + b s_t(y), d values
  double b, sigma, c, gain, gb;   // gb = gain b
  int d;
  bool exact;                     // 1-D: the Gaussian integral of the spline; else the quadrature:
  const std::vector<double>& zx;  // nodes (nq * d)
  const std::vector<double>& zw;  // and weights

  // E, G, H of V_{t+1} at mu + b v + sigma Z; returns phi(v) = -c/2 |v|^2 + E.
  double operator()(const double* v, double* Ev, double* Gv, double* Hv) const {
    *Ev = 0;
    Gv[0] = Gv[1] = Hv[0] = Hv[1] = Hv[2] = 0;
    if (exact) {
      V.gauss_expect(mu[0] + b * v[0], sigma, Ev, Gv, Hv);
      return -0.5 * c * v[0] * v[0] + *Ev;
    }
    const std::size_t nq = zw.size();
    for (std::size_t q = 0; q < nq; ++q) {
      double x[2], f, g[2], h[3];
      for (int a = 0; a < d; ++a) x[a] = mu[a] + b * v[a] + sigma * zx[q * d + a];
      V.eval(x, &f, g, h);
      const double wq = zw[q];
      *Ev += wq * f;
      for (int a = 0; a < d; ++a) Gv[a] += wq * g[a];
      for (int a = 0; a < (d == 1 ? 1 : 3); ++a) Hv[a] += wq * h[a];
    }
    return -0.5 * c * (v[0] * v[0] + v[1] * v[1]) + *Ev;
  }
};

// A local maximum of one point's objective (or the iterate where the search
// stopped): the control w, phi(w) and E V_{t+1} there; conc, the smallest
// eigenvalue of J(w) (> 0: phi strictly concave at w); rho, the spectral
// radius of gain b E Hess V_{t+1} = I - J (the rate at which PI-FT's
// fixed-point step contracts near w); du, the length of the last step.
struct LocalMax {
  double w[2] = {0, 0}, phi = 0, E = 0, conc = 1, rho = 0, du = INFINITY;
  int it = 0;
};

// The step dw from L.w for the residual r = F(w): Newton's, dw = -J^{-1} r, where
// J = I - gb H is safely positive definite (smallest eigenvalue > 1e-3), else the
// fixed-point step dw = -r, which still ascends (-r is grad phi / c).  Sets
// L.conc, L.rho and L.du.  In 2-D the eigenvalues of the symmetric J are
// (j00 + j11)/2 -+ disc.
void ascent_step(const PointObjective& phi, const double* r, const double* H, double* dw, LocalMax& L) {
  if (phi.d == 1) {
    const double J = 1 - phi.gb * H[0];
    L.conc = J;
    // |gb| |H| is |gb H| exactly; written so because the product in J must stay J's own: the
    // compiler contracts 1 - gb H into one fused multiply-add, as in the code before the split
    // (a shared product would round twice, and the results would change in the last bit).
    L.rho = std::abs(phi.gb) * std::abs(H[0]);
    dw[0] = J > 1e-3 ? -r[0] / J : -r[0];
    L.du = std::abs(dw[0]);
    return;
  }
  const double gb = phi.gb, j00 = 1 - gb * H[0], j01 = -gb * H[1], j11 = 1 - gb * H[2];
  const double disc = std::sqrt(0.25 * (j00 - j11) * (j00 - j11) + j01 * j01);
  L.conc = 0.5 * (j00 + j11) - disc;
  L.rho = std::max(std::abs(1 - L.conc), std::abs(1 - (0.5 * (j00 + j11) + disc)));
  if (L.conc > 1e-3) {
    const double det = j00 * j11 - j01 * j01;
    dw[0] = -(j11 * r[0] - j01 * r[1]) / det;
    dw[1] = -(-j01 * r[0] + j00 * r[1]) / det;
  } else {
    dw[0] = -r[0];
    dw[1] = -r[1];
  }
  L.du = std::hypot(dw[0], dw[1]);
}

// Backtracking (Armijo) along dw: the first of the steps 1, 1/2, ..., 2^-39 that
// raises phi by 1e-4 of its linear prediction (slope = grad phi . dw, less a
// rounding allowance), or the last of them; moves L and E grad, E Hess (G, H) there.
void backtrack(const PointObjective& phi, const double* dw, double slope, LocalMax& L, double* G, double* H) {
  double step = 1, wn[2] = {L.w[0], L.w[1]}, En = L.E, Gn[2], Hn[3], phin = L.phi;
  for (int ls = 0; ls < 40; ++ls, step *= 0.5) {
    for (int a = 0; a < phi.d; ++a) wn[a] = L.w[a] + step * dw[a];
    phin = phi(wn, &En, Gn, Hn);
    if (phin >= L.phi + 1e-4 * step * slope - 1e-13 * (1 + std::abs(L.phi))) break;
  }
  L.w[0] = wn[0];
  L.w[1] = wn[1];
  L.phi = phin;
  L.E = En;
  std::copy(Gn, Gn + 2, G);
  std::copy(Hn, Hn + 3, H);
}

// Local maximization of phi from w0: Newton where phi is concave, a gradient step (the
// fixed-point step) elsewhere, both with backtracking, until the step is < tol (or is
// not finite, or max_it iterations were taken: L.du tells which).
LocalMax maximize(const PointObjective& phi, const double* w0, double tol, PetscInt max_it) {
  LocalMax L;
  L.w[0] = w0[0];
  L.w[1] = w0[1];
  double G[2], H[3];
  L.phi = phi(L.w, &L.E, G, H);
  while (true) {
    ++L.it;
    // r = w - gain G: the gradient of phi is -c r; its Hessian is -c J, J = I - gain b H.
    double dw[2] = {0, 0}, r[2] = {0, 0};
    for (int a = 0; a < phi.d; ++a) r[a] = L.w[a] - phi.gain * G[a];
    ascent_step(phi, r, H, dw, L);
    if (L.du < tol || !std::isfinite(L.du) || L.it >= max_it) break;
    const double slope = -phi.c * (r[0] * dw[0] + r[1] * dw[1]);  // grad phi . dw >= 0
    backtrack(phi, dw, slope, L, G, H);
  }
  return L;
}

}  // namespace

// State of the optimum's backward sweep: the fields of steps t+1 (Vn, Un) and t
// (Vt, Ut), per-step work, and what the summary reports over all steps.
struct BellmanGridSolver::OptimumSweep {
  std::vector<double> Vn, Un, Vt, Ut, mu;
  std::vector<double> R, wt;              // per point: spectral radius of (sigma^2/beta) E Hess V_{t+1}
  std::vector<char> region, region_next;  // mass regions of the laws of Y_t and Y_{t+1}
  int max_its = 0;
  double min_conc = INFINITY, rate = 0, rate_t = 0, margin = INFINITY;
  long multi = 0, switched = 0;  // points with two different local maxima; where the start u = 0 won
};

// The discrete optimum (optV_, optU_ at the saved steps) and J* = E V_0(Y_0): one
// backward sweep from V_K = r, u_K = grad r / beta, each step's objectives
// built on the spline of the values of the step after it.
void BellmanGridSolver::optimum() {
  const double t_start = now();
  const int K = chain_.K();
  OptimumSweep sw;
  sw.Vt.resize(N_);
  sw.Ut.resize(N_ * d_);
  terminal(sw.Vn, sw.Un);
  if (int s = g_.saved_index(K); s >= 0) {
    optV_[s] = sw.Vn;
    optU_[s] = sw.Un;
  }
  SplineField S(d_, lo_, h_, n_);
  sw.R.resize(N_);
  reference_law(0.0, sw.wt, sw.region_next);
  for (int t = K - 1; t >= 0; --t) optimum_step(t, S, sw);
  MPI_Allreduce(MPI_IN_PLACE, &sw.max_its, 1, MPI_INT, MPI_MAX, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, &sw.multi, 1, MPI_LONG, MPI_SUM, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, &sw.switched, 1, MPI_LONG, MPI_SUM, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, &sw.min_conc, 1, MPI_DOUBLE, MPI_MIN, g_.comm());
  S.fit(sw.Vn.data());
  J_opt_ = objective(S);
  report_optimum(sw, t_start);
}

// Step t of the optimum's sweep: V_{t+1}, u_{t+1} (sw.Vn, sw.Un) -> V_t, u_t (then
// in sw.Vn, sw.Un).  Also tracks the largest rho over the mass region of Y_t: the
// predicted linear rate of PI-FT near the optimum.
void BellmanGridSolver::optimum_step(int t, SplineField& S, OptimumSweep& sw) {
  S.fit(sw.Vn.data());
  const DdpmStep& st = chain_.step(t);
  mean_at_points(t, sw.mu);
  const double margin_t = concavity_margin(S, st.improvement_gain() * st.b, sw.region_next);
  sw.margin = std::min(sw.margin, margin_t);
  double bad_du = 0;
  const long bad = optimum_points(st, S, margin_t, sw, &bad_du);
  throw_unless_converged(t, bad, bad_du);
  gather(sw.Vt, 1);
  gather(sw.Ut, d_);
  gather(sw.R, 1);
  reference_law(st.tau, sw.wt, sw.region);  // p at tau = T - t T/K: the law of Y_t
  for (std::size_t i = 0; i < N_; ++i)
    if (sw.region[i] && sw.R[i] > sw.rate) {
      sw.rate = sw.R[i];
      sw.rate_t = chain_.time(t);
    }
  std::swap(sw.region, sw.region_next);
  std::swap(sw.Vn, sw.Vt);
  std::swap(sw.Un, sw.Ut);
  if (int s = g_.saved_index(t); s >= 0) {
    optV_[s] = sw.Vn;
    optU_[s] = sw.Un;
  }
}

// Concavity margin of a step: 1 - gain b sup lambda_max(Hess V_{t+1}) over the grid points of
// the mass region of Y_{t+1}; > 0: every per-point objective is strictly concave there.
double BellmanGridSolver::concavity_margin(const SplineField& S, double gb,
                                           const std::vector<char>& region_next) const {
  double hmax = -INFINITY;
  for (std::size_t i = 0; i < N_; ++i) {
    if (!region_next[i]) continue;
    double h[3];
    S.eval(&X_[i * d_], nullptr, nullptr, h);
    // the larger eigenvalue of the Hessian [h0 h1; h1 h2] in 2-D
    const double lmax =
        d_ == 1 ? h[0] : 0.5 * (h[0] + h[2]) + std::sqrt(0.25 * (h[0] - h[2]) * (h[0] - h[2]) + h[1] * h[1]);
    hmax = std::max(hmax, lmax);
  }
  return 1 - gb * hmax;
}

// The optimum at this rank's points of one step into sw.Vt, sw.Ut, sw.R, each
// warm-started from u_{t+1}(y).  Where the step is not certified concave
// (margin_t <= 0) phi may have several local maxima: every point is also
// solved from u = 0 and the larger local maximum kept.  Returns the first
// point that did not converge, its last step in *bad_du; -1 when all did.
long BellmanGridSolver::optimum_points(const DdpmStep& st, const SplineField& S, double margin_t, OptimumSweep& sw,
                                       double* bad_du) const {
  const double b = st.b, sg = st.sigma, c = st.c(), gain = st.improvement_gain(), gb = gain * b;
  for (std::size_t i = own_lo_; i < own_hi_; ++i) {
    const PointObjective phi{S, &sw.mu[(i - own_lo_) * d_], b, sg, c, gain, gb, d_, exact_expectation_, zx_, zw_};
    const double warm[2] = {sw.Un[i * d_], d_ == 2 ? sw.Un[i * d_ + 1] : 0.0}, zero[2] = {0, 0};
    LocalMax L = maximize(phi, warm, o_.tol, o_.max_it);
    if (margin_t <= 0 && L.du < o_.tol) {
      const LocalMax L0 = maximize(phi, zero, o_.tol, o_.max_it);
      if (L0.du < o_.tol && std::hypot(L0.w[0] - L.w[0], L0.w[1] - L.w[1]) > 1e-6) {
        ++sw.multi;
        if (L0.phi > L.phi) {
          ++sw.switched;
          L = L0;
        }
      }
    }
    if (!(L.du < o_.tol)) {
      *bad_du = L.du;
      return static_cast<long>(i);
    }
    sw.max_its = std::max(sw.max_its, L.it);
    sw.min_conc = std::min(sw.min_conc, L.conc);
    sw.Vt[i] = L.phi;
    for (int a = 0; a < d_; ++a) sw.Ut[i * d_ + a] = L.w[a];
    sw.R[i] = L.rho;
  }
  return -1;
}

// Failure is collective: every rank throws the same error (for the point of the
// highest index reported by any rank, bad < 0 meaning none on this rank).
void BellmanGridSolver::throw_unless_converged(int t, long bad, double bad_du) const {
  long worst = bad;
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_LONG, MPI_MAX, g_.comm());
  if (worst < 0) return;
  double du = bad == worst ? bad_du : 0;
  MPI_Allreduce(MPI_IN_PLACE, &du, 1, MPI_DOUBLE, MPI_MAX, g_.comm());
  std::string where = format("x = (%g", X_[worst * d_]);
  if (d_ == 2) where += format(", %g", X_[worst * d_ + 1]);
  throw SolverError(format("the first-order condition of the optimum did not converge at step t = %d (time %g), ",
                           t, chain_.time(t)) +
                    where + format("): last Newton step %g after %d iterations (-bellman_tol %g, -bellman_max_it "
                                   "%d); try a larger -ddpm_steps, beta or -bellman_max_it",
                                   du, static_cast<int>(o_.max_it), o_.tol, static_cast<int>(o_.max_it)));
}

// The optimum's summary attributes and, with -bellman_monitor, its report line.
void BellmanGridSolver::report_optimum(const OptimumSweep& sw, double t_start) {
  summary_["K"] = chain_.K();
  summary_["quad_nodes"] = static_cast<double>(o_.quad);
  summary_["objective"] = J_opt_;
  summary_["newton_max_iterations"] = sw.max_its;
  summary_["min_concavity"] = sw.min_conc;
  summary_["concavity_margin"] = sw.margin;
  summary_["multiple_maxima_points"] = static_cast<double>(sw.multi);
  summary_["multiple_maxima_switched"] = static_cast<double>(sw.switched);
  summary_["pi_rate_predicted"] = sw.rate;
  summary_["pi_rate_predicted_time"] = sw.rate_t;
  if (!o_.monitor) return;
  HJBFT_PETSC(PetscPrintf(g_.comm(),
                          "  optimum: J* = E V_0(Y_0) = %.10g; Newton <= %d iterations per point; "
                          "concavity at the solution >= %.3g, margin %.3g; predicted PI-FT rate %.3g (at t = %g); "
                          "%.2fs\n",
                          J_opt_, sw.max_its, sw.min_conc, sw.margin, sw.rate, sw.rate_t, now() - t_start));
  if (sw.margin <= 0)
    HJBFT_PETSC(PetscPrintf(g_.comm(),
                            "  note: concavity margin <= 0: at some steps the per-point objectives need not be "
                            "concave; there each point was also solved from u = 0: %ld (point, step) pairs had two "
                            "local maxima, at %ld of them the start u = 0 gave the larger one\n",
                            sw.multi, sw.switched));
}

void BellmanGridSolver::compare_with_continuous() {
  const auto& saved = g_.saved_steps();
  std::vector<std::vector<double>> V(saved.size()), U(saved.size());
  Vector x(d_);
  for (std::size_t s = 0; s < saved.size(); ++s) {
    const double t = g_.time(saved[s]);
    const auto field = exact_->at_time(t);
    const double gain = p_.control.coefficients(t).gain();
    V[s].assign(N_, 0);
    U[s].assign(N_ * d_, 0);
    for (std::size_t i = own_lo_; i < own_hi_; ++i) {
      for (int a = 0; a < d_; ++a) x[a] = X_[i * d_ + a];
      const ValueAndGradient vg = field(x);
      V[s][i] = vg.V;
      for (int a = 0; a < d_; ++a) U[s][i * d_ + a] = gain * vg.grad[a];
    }
    gather(V[s], 1);
    gather(U[s], d_);
  }
  const Errors e = errors(optV_, optU_, V, U);
  summary_["continuous_error_value_sup"] = e.value_sup;
  summary_["continuous_error_value_l2"] = e.value_l2;
  summary_["continuous_error_control_sup"] = e.control_sup;
  summary_["continuous_error_control_l2"] = e.control_l2;
  const auto f0 = exact_->at_time(0);
  const double sd = std::sqrt(chain_.initial_variance());
  double J = 0;
  for (std::size_t q = 0; q < zw_.size(); ++q) {
    for (int a = 0; a < d_; ++a) x[a] = sd * zx_[q * d_ + a];
    J += zw_[q] * f0(x).V;
  }
  summary_["continuous_objective"] = J;
  if (o_.monitor)
    HJBFT_PETSC(PetscPrintf(g_.comm(),
                            "  vs continuous time (%s closed form), %.1f%% mass region: sup|V-V*| %.3e, "
                            "sup|u-u*| %.3e, J* - J*_cont %.3e\n",
                            exact_->name().c_str(), 100 * o_.mass, e.value_sup, e.control_sup, J_opt_ - J));
}

// One backward sweep of PI: V^m of the control u^m (u == null: u^0 = 0) and
// the improvement u^{m+1}_t = gain E grad V^m_{t+1}(mu + b u^m_t + sigma Z).
void BellmanGridSolver::pi_sweep(const std::vector<std::vector<double>>* u, std::vector<std::vector<double>>& unew,
                                 std::vector<std::vector<double>>& Vsaved, std::vector<std::vector<double>>& Vall,
                                 double* J) {
  const int K = chain_.K();
  std::vector<double> Vn, Un, Vt(N_), mu;
  terminal(Vn, Un);
  Vall[K] = Vn;
  if (int s = g_.saved_index(K); s >= 0) Vsaved[s] = Vn;
  SplineField S(d_, lo_, h_, n_);
  const std::size_t nq = zw_.size();
  for (int t = K - 1; t >= 0; --t) {
    S.fit(Vn.data());
    const DdpmStep& st = chain_.step(t);
    mean_at_points(t, mu);
    const double b = st.b, sg = st.sigma, c = st.c(), gain = st.improvement_gain();
    unew[t].assign(N_ * d_, 0);
    for (std::size_t i = own_lo_; i < own_hi_; ++i) {
      const double* m = &mu[(i - own_lo_) * d_];
      double w[2] = {0, 0};
      if (u)
        for (int a = 0; a < d_; ++a) w[a] = (*u)[t][i * d_ + a];
      double E = 0, G[2] = {0, 0};
      if (exact_expectation_) {
        S.gauss_expect(m[0] + b * w[0], sg, &E, G, nullptr);
      } else {
        for (std::size_t q = 0; q < nq; ++q) {
          double x[2], f, g[2];
          for (int a = 0; a < d_; ++a) x[a] = m[a] + b * w[a] + sg * zx_[q * d_ + a];
          S.eval(x, &f, g, nullptr);
          E += zw_[q] * f;
          for (int a = 0; a < d_; ++a) G[a] += zw_[q] * g[a];
        }
      }
      Vt[i] = -0.5 * c * (w[0] * w[0] + w[1] * w[1]) + E;
      for (int a = 0; a < d_; ++a) unew[t][i * d_ + a] = gain * G[a];
    }
    gather(Vt, 1);
    gather(unew[t], d_);
    Vall[t] = Vt;
    std::swap(Vn, Vt);
    if (int s = g_.saved_index(t); s >= 0) Vsaved[s] = Vn;
  }
  S.fit(Vn.data());
  *J = objective(S);
}

// ---------------------------------------------------------------------------
// PI-FT, exactly: from u^0 = 0, each iteration one backward sweep evaluates
// u^m (V^m) and improves it (u^{m+1} = gain E grad V^m_{t+1}); stops when
// sup |u^{m+1} - u^m| < -bellman_pi_tol.  Near the optimum the error
// contracts by about pi_rate_predicted per iteration (a fixed-point
// iteration, not Newton's), so PI-FT diverges where that rate exceeds 1.
void BellmanGridSolver::policy_iteration() {
  const int K = chain_.K();
  const auto& saved = g_.saved_steps();
  const std::size_t ns = saved.size();
  Fields u(K, std::vector<double>(N_ * d_, 0.0)), unew(K), Vall(K + 1), Vprev(K + 1);
  Fields Vsaved(ns), Usaved(ns);
  std::vector<double> Vr, Ur;
  terminal(Vr, Ur);
  bool converged = false;
  int m = 0;
  Errors e;
  double J = 0;
  for (; m < o_.pi_max; ++m) {
    const double t0 = now();
    pi_sweep(m == 0 ? nullptr : &u, unew, Vsaved, Vall, &J);
    const double du = control_change(u, unew);
    const double dv = m > 0 ? value_change(Vall, Vprev) : 0;
    for (std::size_t s = 0; s < ns; ++s) Usaved[s] = saved[s] == K ? Ur : u[saved[s]];
    e = errors(Vsaved, Usaved, optV_, optU_);
    record_pi_iteration(m, du, dv, e, J, now() - t0);
    outV_ = Vsaved;
    outU_ = Usaved;
    throw_if_diverged(m, du, J);
    std::swap(u, unew);
    std::swap(Vall, Vprev);
    if (du < o_.pi_tol) {
      converged = true;
      break;
    }
  }
  report_pi(converged ? m + 1 : m, converged, J, e);
}

// sup over steps and points of |u^{m+1} - u^m| (Euclidean norm per point).
double BellmanGridSolver::control_change(const Fields& u, const Fields& unew) const {
  double du = 0;
  for (std::size_t t = 0; t < u.size(); ++t)
    for (std::size_t i = 0; i < N_; ++i) {
      double d2 = 0;
      for (int a = 0; a < d_; ++a) d2 += std::pow(unew[t][i * d_ + a] - u[t][i * d_ + a], 2);
      du = std::max(du, std::sqrt(d2));
    }
  return du;
}

// sup over steps (terminal one included) and points of |V^m - V^{m-1}|.
double BellmanGridSolver::value_change(const Fields& V, const Fields& Vprev) const {
  double dv = 0;
  for (std::size_t t = 0; t < V.size(); ++t)
    for (std::size_t i = 0; i < N_; ++i) dv = std::max(dv, std::abs(V[t][i] - Vprev[t][i]));
  return dv;
}

// One row of /history per iteration: the changes, their ratio to the previous
// iteration's (the observed linear rate), the errors against the optimum and
// their ratio, the objective E V^m_0(Y_0) and its gap to J*.
void BellmanGridSolver::record_pi_iteration(int m, double du, double dv, const Errors& e, double J, double wall) {
  hist_.add("iteration", m);
  hist_.add("control_change", du);
  hist_.add("value_change", dv);
  hist_.add("change_ratio", hist_.ratio_to_previous("control_change"));
  add_field_errors(hist_, e.value_sup, e.value_l2, e.control_sup, e.control_l2);
  hist_.add("objective", J);
  hist_.add("objective_gap", J_opt_ - J);
  hist_.add("wall_time", wall);
  if (o_.monitor)
    HJBFT_PETSC(PetscPrintf(g_.comm(),
                            "  pi it %2d: |u^{m+1}-u^m| %.3e  |dV| %.3e  vs optimum: err u %.3e  err V %.3e  "
                            "J %.10g  J*-J %.3e  %.2fs\n",
                            m, du, dv, e.control_sup, e.value_sup, J, J_opt_ - J, wall));
}

// Divergence: a non-finite change or objective, or a control change grown a
// millionfold over the first iteration's (after the first four).
void BellmanGridSolver::throw_if_diverged(int m, double du, double J) {
  if (!std::isfinite(du) || !std::isfinite(J) || (m > 3 && du > 1e6 * hist_.columns["control_change"][0]))
    throw SolverError(format("policy iteration diverged (control change %g at iteration %d; the predicted "
                             "linear rate near the optimum is %.3g, summary attribute pi_rate_predicted); try a "
                             "larger -ddpm_steps or beta",
                             du, m, summary_["pi_rate_predicted"]));
}

// The summary attributes of PI-FT (its last iterate's errors) and, when it did not
// converge, a note that the fields written are the last iterate's.
void BellmanGridSolver::report_pi(int iterations, bool converged, double J, const Errors& e) {
  summary_["pi_iterations"] = iterations;
  summary_["pi_converged"] = converged ? 1 : 0;
  summary_["pi_objective"] = J;
  summary_["error_value_sup"] = e.value_sup;
  summary_["error_value_l2"] = e.value_l2;
  summary_["error_control_sup"] = e.control_sup;
  summary_["error_control_l2"] = e.control_l2;
  if (o_.monitor && !converged)
    HJBFT_PETSC(PetscPrintf(g_.comm(),
                            "  note: PI stopped after -bellman_pi_max %d iterations without reaching -bellman_pi_tol "
                            "%g (attribute pi_converged = 0); the fields written are the last iterate's\n",
                            static_cast<int>(o_.pi_max), o_.pi_tol));
}

}  // namespace hjbft
