// Set-up, options, diagnostics and the outer loop of the grid HJB solver.
// The sweeps themselves (evaluation, Howard, Cole-Hopf) are in hjb_sweeps.cpp.
#include <petsctime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "hjb_operator.hpp"
#include "hjb_solver_internal.hpp"
#include "hjb_memory.hpp"
#include "hjb_step_solver.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/text.hpp"
#include "hjbft/solvers/hjb.hpp"

namespace hjbft {

// -hjb_pc_refresh under -hjb_tolerance auto: rebuild the preconditioner every
// 10th step (benchmark_grid.py compares it with rebuilding at every solve).
constexpr PetscInt kAutoPcRefresh = 10;

PetscErrorCode ReadHjbOptions(MPI_Comm comm, HjbOptions* o) {
  char method[64], split[64], adv[64], em[64], fp[64], every[64] = "", ckfile[PETSC_MAX_PATH_LEN], restart[PETSC_MAX_PATH_LEN] = "";
  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(method, o->method.c_str(), sizeof method));
  PetscCall(PetscStrncpy(adv, o->advection.c_str(), sizeof adv));
  PetscCall(PetscStrncpy(split, o->splitting.c_str(), sizeof split));
  PetscCall(PetscStrncpy(em, o->exact_method.c_str(), sizeof em));
  PetscCall(PetscStrncpy(fp, o->fp_init.c_str(), sizeof fp));
  PetscCall(PetscStrncpy(ckfile, o->checkpoint_file.c_str(), sizeof ckfile));
  PetscBool mon = o->monitor ? PETSC_TRUE : PETSC_FALSE, dcache = o->drift_cache ? PETSC_TRUE : PETSC_FALSE;
  PetscOptionsBegin(comm, nullptr, "Grid HJB solver (hjbft solve)", nullptr);
  PetscCall(PetscOptionsString("-hjb_method", "pi (global policy iteration) | howard (per time step) | colehopf",
                               nullptr, method, method, sizeof method, nullptr));
  PetscCall(PetscOptionsString("-hjb_advection", "auto (central where monotone, else upwind) | upwind", nullptr, adv,
                               adv, sizeof adv, nullptr));
  PetscCall(PetscOptionsReal("-hjb_theta", "Time stepping: 1 backward Euler, 0.5 Crank-Nicolson", nullptr, o->theta,
                             &o->theta, nullptr));
  PetscCall(PetscOptionsString("-hjb_splitting",
                               "none (one Krylov solve per step) | douglas (alternating-direction factors, tridiagonal "
                               "line solves; -hjb_adi_ksp_type, -hjb_adi_pc_type)",
                               nullptr, split, split, sizeof split, nullptr));
  PetscCall(PetscOptionsInt("-hjb_startup_steps", "Backward-Euler steps before Crank-Nicolson", nullptr,
                            o->startup_steps, &o->startup_steps, nullptr));
  char tol[16];
  PetscCall(PetscStrncpy(tol, o->tolerance.c_str(), sizeof tol));
  PetscCall(PetscOptionsString("-hjb_tolerance",
                               "auto (from the discretization error of companion solves at 2h, 4h) | tight (-pi_tol, "
                               "-howard_tol, -ksp_rtol as given)",
                               nullptr, tol, tol, sizeof tol, nullptr));
  o->tolerance = tol;
  PetscCall(PetscOptionsReal("-hjb_solver_fraction",
                             "auto tolerances: solver error as this fraction of the estimated discretization error",
                             nullptr, o->solver_fraction, &o->solver_fraction, nullptr));
  PetscBool given;
  PetscCall(PetscOptionsReal("-pi_tol", "PI: stop when sup |u^{k+1} - u^k| < tol (auto tolerances: set unless given)",
                             nullptr, o->pi_tol, &o->pi_tol, &given));
  o->pi_tol_given = given;
  PetscCall(PetscOptionsInt("-pi_max_it", "PI: maximum outer iterations", nullptr, o->pi_max_it, &o->pi_max_it, nullptr));
  PetscCall(PetscOptionsReal("-howard_tol", "Howard: per-step control tolerance (auto tolerances: set unless given)",
                             nullptr, o->howard_tol, &o->howard_tol, &given));
  o->howard_tol_given = given;
  PetscCall(PetscOptionsInt("-howard_max_it", "Howard: maximum iterations per step", nullptr, o->howard_max_it,
                            &o->howard_max_it, nullptr));
  PetscCall(PetscOptionsBool("-hjb_drift_cache",
                             "PI: keep the reference drift of every step (nt+1 x N x d numbers) instead of "
                             "recomputing the score in every sweep",
                             nullptr, dcache, &dcache, nullptr));
  PetscCall(PetscOptionsInt("-hjb_pc_refresh",
                            "Rebuild the preconditioner at every N-th time step only, keep it in between (1: at every "
                            "solve; 0: 10 under -hjb_tolerance auto, 1 under tight)",
                            nullptr, o->pc_refresh, &o->pc_refresh, nullptr));
  PetscCall(PetscOptionsReal("-memory_limit",
                             "Refuse to start when the estimated memory need per rank exceeds this many MiB (0: none)",
                             nullptr, o->memory_limit, &o->memory_limit, nullptr));
  PetscCall(PetscOptionsString("-checkpoint_every",
                               "Howard, Cole-Hopf: checkpoint every N time steps (e.g. 50) or minutes (e.g. 30min)",
                               nullptr, every, every, sizeof every, nullptr));
  PetscCall(PetscOptionsString("-checkpoint_file", "Checkpoint file (default: the output's name, .checkpoint.h5)",
                               nullptr, ckfile, ckfile, sizeof ckfile, nullptr));
  PetscCall(PetscOptionsString("-restart", "Continue the run from this checkpoint file", nullptr, restart, restart,
                               sizeof restart, nullptr));
  PetscCall(PetscOptionsInt("-hjb_stop_after",
                            "Checkpoint and stop after this many time steps (0: run to t = 0), e.g. to fit a job's "
                            "time slot",
                            nullptr, o->stop_after, &o->stop_after, nullptr));
  PetscCall(PetscOptionsReal("-colehopf_trust",
                             "Cole-Hopf: smallest phi/max(phi) trusted inside the mass region (else an error)", nullptr,
                             o->colehopf_trust, &o->colehopf_trust, nullptr));
  PetscCall(PetscOptionsReal("-error_mass", "Error norms on the region holding this reference mass", nullptr, o->mass,
                             &o->mass, nullptr));
  PetscCall(PetscOptionsString("-exact_method", "Closed form to compare with: auto|gmm|riccati", nullptr, em, em,
                               sizeof em, nullptr));
  PetscCall(PetscOptionsString("-fp_init", "Forward Fokker-Planck from: none|exact (p_T)|gaussian (N(0,v(T)I))|tilted",
                               nullptr, fp, fp, sizeof fp, nullptr));
  PetscCall(PetscOptionsBool("-hjb_monitor", "Print progress", nullptr, mon, &mon, nullptr));
  PetscOptionsEnd();
  o->method = method;
  o->advection = adv;
  o->splitting = split;
  o->exact_method = em;
  o->fp_init = fp;
  o->monitor = mon;
  o->drift_cache = dcache;
  o->checkpoint_file = ckfile;
  o->restart_file = restart;
  o->checkpoint_every = every;
  PetscFunctionReturn(0);
}

namespace {
// -checkpoint_every: "N" time steps or "Xmin" (also "Xm") minutes of wall time.
void parse_checkpoint_every(HjbOptions* o) {
  const std::string& s = o->checkpoint_every;
  if (s.empty()) return;
  const InputError bad("-checkpoint_every",
                       "'" + s + "' is neither a number of time steps (e.g. 50) nor of minutes (e.g. 30min)");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  const std::string unit = end;
  if (end == s.c_str() || !(v > 0) || !std::isfinite(v)) throw bad;
  if (unit == "min" || unit == "m") {
    o->checkpoint_minutes = v;
  } else if (unit.empty() && v == std::floor(v) && v < 1e9) {
    o->checkpoint_steps = static_cast<PetscInt>(v);
  } else {
    throw bad;
  }
}

void validate(const Problem& p, HjbOptions& o) {
  parse_checkpoint_every(&o);
  if (o.method != "pi" && o.method != "howard" && o.method != "colehopf")
    throw InputError("-hjb_method", "unknown method '" + o.method + "' (allowed: pi, howard, colehopf)");
  if (o.method == "colehopf" && !p.control.cole_hopf_applies())
    throw InputError("-hjb_method", "colehopf needs eta > 0 and a constant beta (no -beta_end); use pi or howard");
  if (o.advection != "auto" && o.advection != "upwind")
    throw InputError("-hjb_advection", "unknown scheme '" + o.advection + "' (allowed: auto, upwind)");
  if (o.splitting != "none" && o.splitting != "douglas")
    throw InputError("-hjb_splitting", "unknown splitting '" + o.splitting + "' (allowed: none, douglas)");
  if (!(o.theta >= 0.5 && o.theta <= 1)) throw InputError("-hjb_theta", "must be in [0.5, 1] (stability)");
  if (o.startup_steps < 0) throw InputError("-hjb_startup_steps", "must be >= 0");
  if (!(o.pi_tol > 0)) throw InputError("-pi_tol", "must be > 0");
  if (o.pi_max_it < 1) throw InputError("-pi_max_it", "must be >= 1");
  if (!(o.howard_tol > 0)) throw InputError("-howard_tol", "must be > 0");
  if (o.howard_max_it < 1) throw InputError("-howard_max_it", "must be >= 1");
  if (o.pc_refresh < 0)
    throw InputError("-hjb_pc_refresh", "must be >= 0 (1: a new preconditioner every solve; 0: by -hjb_tolerance)");
  // Auto tolerances accept solver errors of solver_fraction of the discretization
  // error, and a kept preconditioner changes the iterates within the linear
  // tolerance only: keep it there.  Tight keeps the numbers of earlier versions.
  if (o.pc_refresh == 0) o.pc_refresh = o.tolerance == "auto" ? kAutoPcRefresh : 1;
  if (o.tolerance != "auto" && o.tolerance != "tight")
    throw InputError("-hjb_tolerance", "unknown mode '" + o.tolerance + "' (allowed: auto, tight)");
  if (!(o.solver_fraction > 0 && o.solver_fraction <= 0.5))
    throw InputError("-hjb_solver_fraction", "must be in (0, 0.5]");
  if (o.stop_after < 0) throw InputError("-hjb_stop_after", "must be >= 0 (0: run to the end)");
  const bool per_step = o.method == "howard" || o.method == "colehopf";
  if (!per_step && (o.checkpoint_steps > 0 || o.checkpoint_minutes > 0 || !o.restart_file.empty() || o.stop_after > 0))
    throw InputError(o.restart_file.empty() ? (o.stop_after > 0 ? "-hjb_stop_after" : "-checkpoint_every") : "-restart",
                     "checkpoints are for the per-step methods (howard, colehopf); global PI ('" + o.method +
                         "') sweeps the whole horizon in every iteration");
  if (!(o.memory_limit >= 0)) throw InputError("-memory_limit", "must be >= 0 MiB (0: no limit)");
  if (!(o.colehopf_trust > 0 && o.colehopf_trust < 1)) throw InputError("-colehopf_trust", "must be in (0, 1)");
  if (!(o.mass > 0 && o.mass < 1)) throw InputError("-error_mass", "must be in (0, 1)");
  if (o.fp_init != "none" && o.fp_init != "exact" && o.fp_init != "gaussian" && o.fp_init != "tilted")
    throw InputError("-fp_init", "unknown initial law '" + o.fp_init + "' (allowed: none, exact, gaussian, tilted)");
}
}  // namespace

HjbGridSolver::HjbGridSolver(const Problem& problem, const Grid& grid, const HjbOptions& opt)
    : p_(problem), g_(grid), o_(opt) {
  try {
    init();
  } catch (...) {
    release();  // the destructor does not run for a constructor that throws
    throw;
  }
}

void HjbGridSolver::init() {
  validate(p_, o_);
  if (o_.with_exact) exact_ = make_exact_solution(p_, o_.exact_method);
  check_memory();
  if (p_.eta() == 0 && o_.advection != "upwind" && o_.monitor)
    HJBFT_PETSC(PetscPrintf(g_.comm(), "  note: eta = 0 has no diffusion, so the scheme is upwind everywhere\n"));
  op_ = std::make_unique<Operator>(p_, g_, o_.advection == "upwind");
  HJBFT_PETSC(DMCreateMatrix(g_.da(), &op_->A));
  HJBFT_PETSC(DMCreateMatrix(g_.da(), &op_->Aprev));
  op_->op.set_pattern(op_->A);
  op_->op.set_pattern(op_->Aprev);
  HJBFT_PETSC(DMCreateGlobalVector(g_.da(), &op_->cost));
  HJBFT_PETSC(VecDuplicate(op_->cost, &op_->costprev));
  HJBFT_PETSC(VecDuplicate(op_->cost, &op_->rhs));
  HJBFT_PETSC(VecDuplicate(op_->cost, &op_->work));
  HJBFT_PETSC(VecDuplicate(op_->cost, &op_->policy));
  HJBFT_PETSC(DMCreateGlobalVector(g_.da_vector(), &op_->U));
  HJBFT_PETSC(VecDuplicate(op_->U, &op_->U2));
  for (::Vec& b : op_->drift_slot) HJBFT_PETSC(VecDuplicate(op_->U, &b));
  if (o_.method == "pi" && o_.drift_cache) op_->drift_all.assign(g_.nt() + 1, nullptr);
  HJBFT_PETSC(DMCreateLocalVector(g_.da(), &loc_));
  HJBFT_PETSC(VecDuplicate(loc_, &loc2_));
  HJBFT_PETSC(DMCreateLocalVector(g_.da_box(), &locbox_));

  step_ = std::make_unique<StepSolver>(g_, o_.ksp_rtol, o_.pc_refresh);
  if (o_.splitting == "douglas") op_->split = std::make_unique<DouglasSplit>(op_->op, g_, o_.ksp_rtol);

  V_.resize(g_.nt() + 1);
  for (auto& v : V_) HJBFT_PETSC(VecDuplicate(op_->cost, &v));
  if (o_.method == "pi") {
    Vold_.resize(g_.nt() + 1);
    for (auto& v : Vold_) HJBFT_PETSC(VecDuplicate(op_->cost, &v));
  }
  // Terminal condition, and the check that the reward is finite on the grid.
  PetscScalar* a;
  HJBFT_PETSC(VecGetArray(V_[g_.nt()], &a));
  int finite = 1;
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
    a[idx] = p_.reward->value(x);
    if (!std::isfinite(a[idx])) finite = 0;
  });
  HJBFT_PETSC(VecRestoreArray(V_[g_.nt()], &a));
  MPI_Allreduce(MPI_IN_PLACE, &finite, 1, MPI_INT, MPI_LAND, g_.comm());
  if (!finite) throw InputError("-reward", "the reward is not finite at some grid point of the box");
  if (!Vold_.empty()) HJBFT_PETSC(VecCopy(V_[g_.nt()], Vold_[g_.nt()]));
  setup_reference();
}

HjbGridSolver::~HjbGridSolver() { release(); }

void HjbGridSolver::release() noexcept {
  for (auto* vs : {&V_, &Vold_, &exV_, &exU_, &weight_, &mask_, &iterU_}) {
    for (auto& v : *vs) VecDestroy(&v);
    vs->clear();
  }
  VecDestroy(&loc_);
  VecDestroy(&loc2_);
  VecDestroy(&locbox_);
  step_.reset();
  op_.reset();
}

HjbGridSolver::Operator::~Operator() {
  split.reset();
  MatDestroy(&A);
  MatDestroy(&Aprev);
  for (::Vec* v : {&cost, &costprev, &rhs, &work, &policy, &U, &U2, &drift_slot[0], &drift_slot[1]}) VecDestroy(v);
  for (::Vec& v : drift_all) VecDestroy(&v);
}

// The estimated need, reported before anything large is allocated, and the
// -memory_limit refusal.
void HjbGridSolver::check_memory() {
  const MemoryEstimate m = estimate_memory(g_, o_, exact_ != nullptr);
  summary_["memory_estimate_mib"] = m.total_mib();
  if (o_.monitor) HJBFT_PETSC(PetscPrintf(g_.comm(), "  memory: %s\n", m.describe().c_str()));
  if (o_.memory_limit > 0 && m.total_mib() > o_.memory_limit)
    throw InputError("-memory_limit",
                     format("this solve needs %s, more than the limit of %g MiB; %s", m.describe().c_str(),
                            o_.memory_limit,
                            o_.method == "pi" ? "global PI stores the whole horizon twice: use -hjb_method howard or "
                                                "colehopf (one step at a time), -hjb_drift_cache 0, fewer points or "
                                                "time steps, or more ranks"
                                              : "use fewer points or time steps, or more ranks"));
}

double HjbGridSolver::theta_at(PetscInt j) const {
  const PetscInt from_end = g_.nt() - 1 - j;
  return from_end < o_.startup_steps ? 1.0 : o_.theta;
}

void HjbGridSolver::assemble_step(PetscInt j, double theta, ::Vec ctrl, bool prev, ::Vec cost) {
  const double t = g_.time(j);
  if (op_->split) op_->split->assemble(t, theta, g_.dt(), drift(j), ctrl, prev, cost);
  else op_->op.assemble(t, theta, g_.dt(), drift(j), ctrl, prev ? op_->Aprev : op_->A, cost);
}

PetscInt HjbGridSolver::solve_step(::Vec W, ::Vec x, double t) {
  if (op_->split) return op_->split->solve(op_->rhs, W, x, t);
  return step_->solve(op_->A, op_->rhs, x, t);
}

void HjbGridSolver::swap_steps() {
  std::swap(op_->A, op_->Aprev);
  std::swap(op_->cost, op_->costprev);
  if (op_->split) op_->split->make_previous();
}

void HjbGridSolver::to_local(::Vec global, ::Vec local) const {
  HJBFT_PETSC(DMGlobalToLocalBegin(g_.da(), global, INSERT_VALUES, local));
  HJBFT_PETSC(DMGlobalToLocalEnd(g_.da(), global, INSERT_VALUES, local));
}

void HjbGridSolver::control(PetscInt j, ::Vec u) const {
  to_local(V_[j], loc_);
  op_->op.control(g_.time(j), loc_, u);
}

// Reference mass weights and the region holding o_.mass of it, at every saved
// step; the exact value and control there when a closed form applies.
void HjbGridSolver::setup_reference() {
  for (PetscInt j : g_.saved_steps()) {
    const double t = g_.time(j);
    ::Vec w, m;
    HJBFT_PETSC(VecDuplicate(op_->cost, &w));
    HJBFT_PETSC(VecDuplicate(op_->cost, &m));
    // Both vectors are owned by the solver from here on (released on any error).
    weight_.push_back(w);
    mask_.push_back(m);
    grid_law(g_, FastGmmScore(p_.score.at_tau(p_.T() - t).marginal(), ScoreError{}), nullptr, 1.0, w);
    PetscScalar* wa;
    HJBFT_PETSC(VecGetArray(w, &wa));
    const double level = mass_level(g_.comm(), wa, g_.n_local(), o_.mass);
    PetscScalar* ma;
    HJBFT_PETSC(VecGetArray(m, &ma));
    for (PetscInt i = 0; i < g_.n_local(); ++i) ma[i] = wa[i] >= level ? 1.0 : 0.0;
    HJBFT_PETSC(VecRestoreArray(m, &ma));
    HJBFT_PETSC(VecRestoreArray(w, &wa));
    if (exact_) {
      ::Vec ev, eu;
      HJBFT_PETSC(VecDuplicate(op_->cost, &ev));
      HJBFT_PETSC(VecDuplicate(op_->U, &eu));
      exV_.push_back(ev);
      exU_.push_back(eu);
      evaluate_on_grid(*exact_, p_.control, g_, t, ev, eu);
    }
  }
  if (exact_) {
    const Regularity r = regularity(exV_);
    summary_["exact_sup_hess_v"] = r.sup_hess_v;
    summary_["exact_sup_grad_u"] = r.sup_grad_u;
  }
}

HjbGridSolver::Regularity HjbGridSolver::regularity(const std::vector<::Vec>& Vsaved) const {
  Regularity r;
  const auto& steps = g_.saved_steps();
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const double gain = p_.control.coefficients(g_.time(steps[s])).gain();
    HJBFT_PETSC(DMGlobalToLocalBegin(g_.da_box(), Vsaved[s], INSERT_VALUES, locbox_));
    HJBFT_PETSC(DMGlobalToLocalEnd(g_.da_box(), Vsaved[s], INSERT_VALUES, locbox_));
    const PetscScalar *va, *ma;
    HJBFT_PETSC(VecGetArrayRead(locbox_, &va));
    HJBFT_PETSC(VecGetArrayRead(mask_[s], &ma));
    const GhostedArray v = ghosted_view(g_.da_box(), va);
    g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>& gi, const Vector&) {
      if (ma[idx] == 0 || !op_->op.interior(gi)) return;
      const double hn = op_->op.hessian_norm(v, gi);
      r.sup_hess_v = std::max(r.sup_hess_v, hn);
      r.sup_grad_u = std::max(r.sup_grad_u, gain * hn);
    });
    HJBFT_PETSC(VecRestoreArrayRead(locbox_, &va));
    HJBFT_PETSC(VecRestoreArrayRead(mask_[s], &ma));
  }
  MPI_Allreduce(MPI_IN_PLACE, &r.sup_hess_v, 1, MPI_DOUBLE, MPI_MAX, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, &r.sup_grad_u, 1, MPI_DOUBLE, MPI_MAX, g_.comm());
  return r;
}

// Errors of V (the given step-indexed field) and of u = gain grad V against
// the closed form, at the saved steps: sup on the mass region, and L2 with
// the reference mass as weight (averaged over saved times).
HjbGridSolver::Errors HjbGridSolver::errors(const std::vector<::Vec>& V) {
  Errors e;
  const auto& steps = g_.saved_steps();
  const int d = g_.dim();
  for (std::size_t s = 0; s < steps.size(); ++s) {
    to_local(V[steps[s]], loc_);
    op_->op.control(g_.time(steps[s]), loc_, op_->U);
    const PetscScalar *va, *ua, *eva, *eua, *wa, *ma;
    HJBFT_PETSC(VecGetArrayRead(V[steps[s]], &va));
    HJBFT_PETSC(VecGetArrayRead(op_->U, &ua));
    HJBFT_PETSC(VecGetArrayRead(exV_[s], &eva));
    HJBFT_PETSC(VecGetArrayRead(exU_[s], &eua));
    HJBFT_PETSC(VecGetArrayRead(weight_[s], &wa));
    HJBFT_PETSC(VecGetArrayRead(mask_[s], &ma));
    for (PetscInt i = 0; i < g_.n_local(); ++i) {
      const double ev = std::abs(va[i] - eva[i]);
      double eu2 = 0;
      for (int a = 0; a < d; ++a) eu2 += std::pow(ua[i * d + a] - eua[i * d + a], 2);
      if (ma[i] != 0) {
        e.value_sup = std::max(e.value_sup, ev);
        e.control_sup = std::max(e.control_sup, std::sqrt(eu2));
      }
      e.value_l2 += wa[i] * ev * ev;
      e.control_l2 += wa[i] * eu2;
      e.value_sup_box = std::max(e.value_sup_box, ev);
    }
    HJBFT_PETSC(VecRestoreArrayRead(V[steps[s]], &va));
    HJBFT_PETSC(VecRestoreArrayRead(op_->U, &ua));
    HJBFT_PETSC(VecRestoreArrayRead(exV_[s], &eva));
    HJBFT_PETSC(VecRestoreArrayRead(exU_[s], &eua));
    HJBFT_PETSC(VecRestoreArrayRead(weight_[s], &wa));
    HJBFT_PETSC(VecRestoreArrayRead(mask_[s], &ma));
  }
  double mx[3] = {e.value_sup, e.control_sup, e.value_sup_box}, sm[2] = {e.value_l2, e.control_l2};
  MPI_Allreduce(MPI_IN_PLACE, mx, 3, MPI_DOUBLE, MPI_MAX, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, sm, 2, MPI_DOUBLE, MPI_SUM, g_.comm());
  const double ns = static_cast<double>(steps.size());
  return {mx[0], std::sqrt(sm[0] / ns), mx[1], std::sqrt(sm[1] / ns), mx[2]};
}

void HjbGridSolver::record(int k, PetscInt lin_its, double seconds, double change, double value_change,
                           double hjb_res) {
  // Howard and Cole-Hopf have no outer iteration: no change columns for them.
  const bool outer = std::isfinite(change);
  hist_.add("iteration", k);
  if (outer) {
    hist_.add("control_change", change);
    hist_.add("value_change", value_change);
    hist_.add("hjb_residual", hjb_res);
    hist_.add("change_ratio", hist_.ratio_to_previous("control_change"));  // NaN at the first iteration
  }
  std::vector<::Vec> saved;
  for (PetscInt j : g_.saved_steps()) saved.push_back(V_[j]);
  const Regularity r = regularity(saved);
  hist_.add("sup_hess_v", r.sup_hess_v);
  hist_.add("sup_grad_u", r.sup_grad_u);
  Errors e;
  if (exact_) {
    e = errors(V_);
    add_field_errors(hist_, e.value_sup, e.value_l2, e.control_sup, e.control_l2);
    last_errors_ = e;
  }
  hist_.add("linear_iterations", static_cast<double>(lin_its));
  hist_.add("wall_time", seconds);
  if (o_.monitor) {
    if (outer)
      HJBFT_PETSC(PetscPrintf(g_.comm(), "  %s it %2d: |du| %.3e  |dV| %.3e  HJB res %.2e  |Hess V| %.3g",
                              o_.method.c_str(), k, change, value_change, hjb_res, r.sup_hess_v));
    else
      HJBFT_PETSC(PetscPrintf(g_.comm(), "  %s: |Hess V| %.3g", o_.method.c_str(), r.sup_hess_v));
    if (exact_) HJBFT_PETSC(PetscPrintf(g_.comm(), "  err V %.3e u %.3e", e.value_sup, e.control_sup));
    HJBFT_PETSC(PetscPrintf(g_.comm(), "  lin its %" PetscInt_FMT "  %.2fs\n", lin_its, seconds));
  }
}

void HjbGridSolver::solve() {
  PetscLogDouble t0, t1;
  HJBFT_PETSC(PetscTime(&t0));
  if (o_.tolerance == "auto") set_tolerances_from_estimate();  // also on a restart: the same tolerances
  if (o_.method == "pi") {
    policy_iteration();
  } else {  // one sweep, no outer iteration
    SweepState st;
    st.next = g_.nt() - 1;
    last_checkpoint_time_ = t0;
    if (!o_.restart_file.empty()) restart_sweep(&st);
    if (o_.method == "howard") howard_sweep(st);
    else cole_hopf_sweep(st);
    if (stopped_) return;
    if (o_.method == "howard") hist_.add("howard_iterations", static_cast<double>(st.howard_its));
    HJBFT_PETSC(PetscTime(&t1));
    record(0, st.lin_its, t1 - t0, NAN, NAN, NAN);
  }
  HJBFT_PETSC(PetscTime(&t1));
  summary_["wall_time"] = t1 - t0;
  report_error_estimate();
  summary_["peak_rss_mib"] = peak_rss_mib(g_.comm());
  if (exact_) {  // the final fields are the last ones record() measured
    const Errors& e = last_errors_;
    summary_["error_value_sup"] = e.value_sup;
    summary_["error_value_l2"] = e.value_l2;
    summary_["error_control_sup"] = e.control_sup;
    summary_["error_control_l2"] = e.control_l2;
    summary_["error_value_sup_box"] = e.value_sup_box;
  }
}

// Global policy iteration (PI-FT): u^0 = 0, evaluate, improve, repeat.
void HjbGridSolver::policy_iteration() {
  for (PetscInt k = 0; k < o_.pi_max_it; ++k) {
    PetscLogDouble t0, t1;
    HJBFT_PETSC(PetscTime(&t0));
    PetscInt lin = 0;
    // V_ <- value of the control gain grad Vold_ (u = 0 at k = 0).
    evaluate_sweep(k == 0 ? nullptr : &Vold_, V_, &lin);
    double dv = 0, hjb = 0;
    const double du = control_change(V_, k == 0 ? nullptr : &Vold_, &dv, &hjb);
    HJBFT_PETSC(PetscTime(&t1));
    // Keep the improved control's saved slices, to measure the rate against the limit.
    for (PetscInt j : g_.saved_steps()) {
      ::Vec u;
      HJBFT_PETSC(VecDuplicate(op_->U, &u));
      control(j, u);
      iterU_.push_back(u);
    }
    record(static_cast<int>(k), lin, t1 - t0, du, dv, hjb);
    std::swap(V_, Vold_);
    if (du < o_.pi_tol) break;
    if (!std::isfinite(du) || (k > 3 && du > 1e6 * hist_.columns["control_change"][0]))
      throw SolverError(format("policy iteration diverged (control change %g at iteration %d); try more time steps "
                               "(-nt), -hjb_theta 1 or -hjb_method howard",
                               du, static_cast<int>(k)));
    if (k == o_.pi_max_it - 1)
      throw SolverError(format("policy iteration did not reach -pi_tol %g in %d iterations (-pi_max_it; last change %g)",
                               o_.pi_tol, static_cast<int>(o_.pi_max_it), du));
  }
  std::swap(V_, Vold_);  // the newest evaluation back in V_
  // Control error against the converged control, per iteration: the linear rate.
  const std::size_t ns = g_.saved_steps().size(), iters = iterU_.size() / ns;
  double prev = NAN;
  for (std::size_t k = 0; k < iters; ++k) {
    double err = 0;
    for (std::size_t s = 0; s < ns; ++s) {
      HJBFT_PETSC(VecWAXPY(op_->U2, -1.0, iterU_[(iters - 1) * ns + s], iterU_[k * ns + s]));
      const PetscScalar *ua, *ma;
      HJBFT_PETSC(VecGetArrayRead(op_->U2, &ua));
      HJBFT_PETSC(VecGetArrayRead(mask_[s], &ma));
      for (PetscInt i = 0; i < g_.n_local(); ++i) {
        if (ma[i] == 0) continue;
        double e2 = 0;
        for (int a = 0; a < g_.dim(); ++a) e2 += ua[i * g_.dim() + a] * ua[i * g_.dim() + a];
        err = std::max(err, std::sqrt(e2));
      }
      HJBFT_PETSC(VecRestoreArrayRead(op_->U2, &ua));
      HJBFT_PETSC(VecRestoreArrayRead(mask_[s], &ma));
    }
    MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPI_DOUBLE, MPI_MAX, g_.comm());
    hist_.add("error_control_vs_converged", err);
    hist_.add("rate_vs_converged", k > 0 && prev > 0 ? err / prev : NAN);
    prev = err;
  }
}

// sup over all steps of |gain grad (Vnew - Vold)| (Vold null: of gain grad Vnew),
// sup |Vnew - Vold|, and the HJB residual sup beta Lambda/2 |u^{k+1} - u^k|^2:
// exactly the gap H(u^{k+1}) - H(u^k) of the Hamiltonian at grad V^k.
double HjbGridSolver::control_change(const std::vector<::Vec>& Vnew, const std::vector<::Vec>* Vold, double* dv,
                                     double* hjb) {
  double du = 0;
  *dv = 0;
  *hjb = 0;
  for (PetscInt j = 0; j <= g_.nt(); ++j) {
    if (Vold) {
      HJBFT_PETSC(VecWAXPY(op_->work, -1.0, (*Vold)[j], Vnew[j]));
      PetscReal n;
      HJBFT_PETSC(VecNorm(op_->work, NORM_INFINITY, &n));
      *dv = std::max(*dv, static_cast<double>(n));
    } else {
      HJBFT_PETSC(VecCopy(Vnew[j], op_->work));
    }
    to_local(op_->work, loc_);
    op_->op.control(g_.time(j), loc_, op_->U);
    const PetscScalar* ua;
    HJBFT_PETSC(VecGetArrayRead(op_->U, &ua));
    const ControlCoefficients cc = p_.control.coefficients(g_.time(j));
    double local = 0;
    for (PetscInt i = 0; i < g_.n_local(); ++i) {
      double e2 = 0;
      for (int a = 0; a < g_.dim(); ++a) e2 += ua[i * g_.dim() + a] * ua[i * g_.dim() + a];
      local = std::max(local, e2);
    }
    HJBFT_PETSC(VecRestoreArrayRead(op_->U, &ua));
    du = std::max(du, std::sqrt(local));
    *hjb = std::max(*hjb, 0.5 * cc.beta * cc.Lambda * local);
  }
  double m[3] = {du, *dv, *hjb};
  MPI_Allreduce(MPI_IN_PLACE, m, 3, MPI_DOUBLE, MPI_MAX, g_.comm());
  *dv = m[1];
  *hjb = m[2];
  return m[0];
}

}  // namespace hjbft
