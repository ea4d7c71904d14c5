// The three backward sweeps of the grid HJB solver: policy evaluation (the
// inner step of global PI), Howard's iteration on each implicit step, and the
// linear Cole-Hopf solve.  All share HjbOperator's assembly and build_rhs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "hjb_solver_internal.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/petsc_vec.hpp"

namespace hjbft {

// The reference drift of step j: computed on first use, then kept (see Operator).
::Vec HjbGridSolver::drift(PetscInt j) {
  Operator& o = *op_;
  if (!o.drift_all.empty()) {
    if (!o.drift_all[j]) {
      HJBFT_PETSC(VecDuplicate(o.U, &o.drift_all[j]));
      o.op.reference_drift(g_.time(j), o.drift_all[j]);
    }
    return o.drift_all[j];
  }
  const int k = static_cast<int>(j % 2);  // a sweep's steps j and j+1 land in different slots
  if (o.drift_slot_step[k] != j) {
    o.op.reference_drift(g_.time(j), o.drift_slot[k]);
    o.drift_slot_step[k] = j;
  }
  return o.drift_slot[k];
}

void HjbGridSolver::build_rhs(::Vec Vnext, double theta, double theta_prev, bool with_cost) {
  const double dt = g_.dt();
  HJBFT_PETSC(VecCopy(Vnext, op_->rhs));
  if (with_cost) HJBFT_PETSC(VecAXPY(op_->rhs, dt * theta, op_->cost));
  if (theta < 1) {
    // (1-theta) dt L^{j+1} V^{j+1} = (1-theta)/theta_prev (V^{j+1} - A_{j+1} V^{j+1})
    if (op_->split) op_->split->mult(true, Vnext, op_->work);
    else HJBFT_PETSC(MatMult(op_->Aprev, Vnext, op_->work));
    HJBFT_PETSC(VecAYPX(op_->work, -1.0, Vnext));
    HJBFT_PETSC(VecAXPY(op_->rhs, (1 - theta) / theta_prev, op_->work));
    if (with_cost) HJBFT_PETSC(VecAXPY(op_->rhs, dt * (1 - theta), op_->costprev));
  }
}

void HjbGridSolver::evaluate_sweep(const std::vector<::Vec>* Vprev, std::vector<::Vec>& Vout, PetscInt* lin_its) {
  bool have_prev = false;
  double theta_prev = 1;
  for (PetscInt j = g_.nt() - 1; j >= 0; --j) {
    const double t = g_.time(j), theta = theta_at(j);
    if (theta < 1 && !have_prev) {  // Crank-Nicolson from the first step: operator at t_{j+1} too
      if (Vprev) to_local((*Vprev)[j + 1], loc_);
      assemble_step(j + 1, 1.0, Vprev ? loc_ : nullptr, true, op_->costprev);
    }
    if (Vprev) to_local((*Vprev)[j], loc_);
    assemble_step(j, theta, Vprev ? loc_ : nullptr, false, op_->cost);
    step_->begin_step(g_.nt() - 1 - j);
    build_rhs(Vout[j + 1], theta, theta_prev, true);
    HJBFT_PETSC(VecCopy(Vout[j + 1], Vout[j]));
    *lin_its += solve_step(Vout[j + 1], Vout[j], t);
    swap_steps();
    theta_prev = theta;
    have_prev = true;
  }
}

// out <- V^j extrapolated in time from the later steps with polynomials of
// `points` - 1 (or fewer, near t = T) degrees: V^{j+1}; 2 V^{j+1} - V^{j+2};
// 3 V^{j+1} - 3 V^{j+2} + V^{j+3}.
void HjbGridSolver::extrapolate(PetscInt j, int points, ::Vec out) const {
  const int n = static_cast<int>(std::min<PetscInt>(points, g_.nt() - j));
  if (n >= 3) {
    HJBFT_PETSC(VecWAXPY(out, -1.0, V_[j + 2], V_[j + 1]));
    HJBFT_PETSC(VecScale(out, 3.0));
    HJBFT_PETSC(VecAXPY(out, 1.0, V_[j + 3]));
  } else if (n == 2) {
    HJBFT_PETSC(VecWAXPY(out, -1.0, V_[j + 2], V_[j + 1]));
    HJBFT_PETSC(VecAXPY(out, 1.0, V_[j + 1]));
  } else {
    HJBFT_PETSC(VecCopy(V_[j + 1], out));
  }
}

// Howard's iteration on each implicit step, from st.next down to t = 0.  A
// checkpoint (hjb_checkpoint.cpp) holds st, V at the steps done, and the
// policy the operator of the last step was assembled with (op_->policy), from
// which restart_sweep() rebuilds that operator bit for bit.
void HjbGridSolver::howard_sweep(SweepState& st) {
  PetscLogDouble t0, tnow;
  HJBFT_PETSC(PetscTime(&t0));
  for (PetscInt j = st.next; j >= 0; --j) {
    const double t = g_.time(j), theta = theta_at(j);
    if (theta < 1 && !st.have_prev) {
      to_local(V_[j + 1], loc_);
      assemble_step(j + 1, 1.0, loc_, true, op_->costprev);
    }
    // First policy: V extrapolated linearly in time from the two later steps,
    // 2 V^{j+1} - V^{j+2}; Krylov initial guess: quadratically, 3 V^{j+1} - 3 V^{j+2}
    // + V^{j+3} (closer to V^j, but its gradient amplifies the later steps' errors
    // more: as a policy it costs Howard iterations, as a guess it saves GMRES ones).
    // Near t = T, with fewer later steps, the lower orders.
    extrapolate(j, 2, op_->policy);
    extrapolate(j, 3, V_[j]);
    step_->begin_step(g_.nt() - 1 - j);
    for (PetscInt it = 0;; ++it) {
      to_local(op_->policy, loc2_);
      assemble_step(j, theta, loc2_, false, op_->cost);
      build_rhs(V_[j + 1], theta, st.theta_prev, true);
      st.lin_its += solve_step(V_[j + 1], V_[j], t);
      ++st.howard_its;
      HJBFT_PETSC(VecWAXPY(op_->rhs, -1.0, op_->policy, V_[j]));  // V_new - V_policy (rhs is free now)
      to_local(op_->rhs, loc_);
      op_->op.control(t, loc_, op_->U);
      PetscReal du;
      HJBFT_PETSC(VecNorm(op_->U, NORM_INFINITY, &du));
      if (du < o_.howard_tol) break;  // op_->policy: what A was assembled from (the checkpoint's aux)
      if (!std::isfinite(du) || it + 1 >= o_.howard_max_it)
        throw SolverError("Howard iteration did not converge at t = " + std::to_string(t) + " (control change " +
                          std::to_string(du) + " after " + std::to_string(it + 1) + " iterations; -howard_max_it)");
      HJBFT_PETSC(VecCopy(V_[j], op_->policy));
    }
    swap_steps();
    st.theta_prev = theta;
    st.have_prev = true;
    st.next = j - 1;
    if (o_.monitor && j % std::max<PetscInt>(1, g_.nt() / 4) == 0 && j > 0) {
      HJBFT_PETSC(PetscTime(&tnow));
      HJBFT_PETSC(PetscPrintf(g_.comm(), "  howard: t = %.3f, %" PetscInt_FMT " Howard its so far, %.2fs\n", t,
                              st.howard_its, tnow - t0));
    }
    if (j > 0 && after_step(st, op_->policy)) return;  // checkpointed and told to stop
  }
}

namespace {

constexpr double kPhiFloor = 1e-300;  // keeps log finite where phi underflowed

// V = beta log phi + shift at the owned points, counting the points where phi is
// below the trust level (all of them, and those in the mass region `mask`, which
// may be null) and the smallest log10 phi on the region.
struct PhiToValue {
  double trust, untrusted = 0, untrusted_region = 0, min_log10_region = 0;
  void apply(const PetscScalar* ph, const PetscScalar* mask, PetscInt n, double beta, double shift, PetscScalar* v) {
    for (PetscInt i = 0; i < n; ++i) {
      const bool bad = !(ph[i] >= trust);
      v[i] = beta * std::log(ph[i] > kPhiFloor ? ph[i] : kPhiFloor) + shift;
      if (bad) untrusted += 1;
      if (mask && mask[i] != 0) {
        if (bad) untrusted_region += 1;
        min_log10_region = std::min(min_log10_region, ph[i] > kPhiFloor ? std::log10(ph[i]) : -300.0);
      }
    }
  }
};

}  // namespace

// phi = exp((V - shift_j)/beta) with max phi = 1 after every step, so phi never
// overflows.  But the discretization and linear-solver errors of phi are
// absolute (relative to max phi = 1), so where phi << 1 the error of
// V = beta log phi is beta times that error divided by phi: V is trustworthy only
// where phi >= -colehopf_trust.  Points below it (or non-positive: Crank-Nicolson
// is not positivity preserving) are counted; inside the region holding the
// reference mass they are an error (beta too small for Cole-Hopf on this grid).
void HjbGridSolver::cole_hopf_sweep(SweepState& st) {
  const double beta = p_.control.beta()(0);
  OwnedVec next = OwnedVec::like(op_->work), cur = OwnedVec::like(op_->work);
  if (st.next == g_.nt() - 1) {  // phi(T) = exp((r - max r)/beta)
    PetscReal rmax;
    HJBFT_PETSC(VecMax(V_[g_.nt()], nullptr, &rmax));
    st.shift = rmax;
    const PetscScalar* r;
    PetscScalar* ph;
    HJBFT_PETSC(VecGetArrayRead(V_[g_.nt()], &r));
    HJBFT_PETSC(VecGetArray(next, &ph));
    for (PetscInt i = 0; i < g_.n_local(); ++i) ph[i] = std::exp((r[i] - st.shift) / beta);
    HJBFT_PETSC(VecRestoreArrayRead(V_[g_.nt()], &r));
    HJBFT_PETSC(VecRestoreArray(next, &ph));
  } else {  // restarted: phi of the last step done was checkpointed
    HJBFT_PETSC(VecCopy(op_->work, next));
  }
  PhiToValue to_value{o_.colehopf_trust, st.untrusted, st.untrusted_region, st.min_log10_region};
  for (PetscInt j = st.next; j >= 0; --j) {
    const double t = g_.time(j), theta = theta_at(j);
    if (theta < 1 && !st.have_prev) assemble_step(j + 1, 1.0, nullptr, true, nullptr);
    assemble_step(j, theta, nullptr, false, nullptr);
    step_->begin_step(g_.nt() - 1 - j);
    build_rhs(next, theta, st.theta_prev, false);
    HJBFT_PETSC(VecCopy(next, cur));
    st.lin_its += solve_step(next, cur, t);
    PetscReal mx;
    HJBFT_PETSC(VecMax(cur, nullptr, &mx));
    if (!(mx > 0) || !std::isfinite(mx))
      throw SolverError("Cole-Hopf: phi lost positivity at t = " + std::to_string(t) + "; use -hjb_method pi");
    HJBFT_PETSC(VecScale(cur, 1.0 / mx));
    st.shift += beta * std::log(mx);
    const int s = g_.saved_index(j);
    const PetscScalar *ph, *ma = nullptr;
    PetscScalar* v;
    HJBFT_PETSC(VecGetArrayRead(cur, &ph));
    HJBFT_PETSC(VecGetArray(V_[j], &v));
    if (s >= 0) HJBFT_PETSC(VecGetArrayRead(mask_[s], &ma));
    to_value.apply(ph, ma, g_.n_local(), beta, st.shift, v);
    HJBFT_PETSC(VecRestoreArrayRead(cur, &ph));
    HJBFT_PETSC(VecRestoreArray(V_[j], &v));
    if (ma) HJBFT_PETSC(VecRestoreArrayRead(mask_[s], &ma));
    std::swap(next, cur);
    swap_steps();  // the cost vectors, unused here, swap too
    st.theta_prev = theta;
    st.have_prev = true;
    st.next = j - 1;
    st.untrusted = to_value.untrusted;
    st.untrusted_region = to_value.untrusted_region;
    st.min_log10_region = to_value.min_log10_region;
    if (j > 0 && after_step(st, next)) return;  // checkpointed and told to stop
  }
  cole_hopf_check_trust(to_value.untrusted, to_value.untrusted_region, to_value.min_log10_region);
}

// Reduces the Cole-Hopf trust counts over the ranks, records and reports them,
// and fails when phi fell below the trust level inside the mass region.
void HjbGridSolver::cole_hopf_check_trust(double untrusted, double untrusted_region, double min_log10_region) {
  const double trust = o_.colehopf_trust;
  double sums[2] = {untrusted, untrusted_region};
  MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, &min_log10_region, 1, MPI_DOUBLE, MPI_MIN, g_.comm());
  summary_["colehopf_untrusted_points"] = sums[0];
  summary_["colehopf_min_log10_phi_region"] = min_log10_region;
  if (o_.monitor)
    HJBFT_PETSC(PetscPrintf(g_.comm(),
                            "  colehopf: min log10 phi on the mass region %.1f; %.0f space-time points below "
                            "-colehopf_trust %.0e\n",
                            min_log10_region, sums[0], trust));
  if (sums[1] > 0) {
    char msg[512];
    std::snprintf(msg, sizeof msg,
                  "Cole-Hopf lost precision: phi = exp(V/beta) fell below -colehopf_trust %g of its maximum (lowest "
                  "1e%.1f) at %.0f space-time points inside the region holding the reference mass, where "
                  "V = beta log phi is no longer accurate (beta too small); use -hjb_method pi or howard",
                  trust, min_log10_region, sums[1]);
    throw SolverError(msg);
  }
}

}  // namespace hjbft
