// Checkpoints of the per-step sweeps (Howard, Cole-Hopf) and the restart from
// one.  A checkpoint taken after step j holds V at steps j..nt, the sweep's
// state (HjbGridSolver::SweepState) and one field: Howard's policy of the last
// iteration at step j (the operator of step j was assembled from it) or
// Cole-Hopf's phi at step j.  The restart rebuilds the operator of step j from
// that field with the same assembly, so the continued run repeats the
// uninterrupted one bit for bit.  A kept preconditioner (-hjb_pc_refresh R > 1)
// is rebuilt at the restart, so checkpoints (and -hjb_stop_after) wait for the
// next step at which the uninterrupted run rebuilds it too: every R-th step.
#include <petsctime.h>

#include <cmath>

#include "hjb_solver_internal.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/text.hpp"
#include "hjbft/io/checkpoint.hpp"

namespace hjbft {

namespace {
std::string vname(PetscInt k) { return "V_" + std::to_string(k); }
}  // namespace

// What a checkpoint must match to be continued by this run: the method, the
// problem, the grid and the options that change the discrete solution.
std::string HjbGridSolver::checkpoint_key() const {
  return format("%s; %s; %s; theta %g, startup %d, advection %s, howard_tol %g%s", o_.method.c_str(),
                p_.describe().c_str(), g_.describe().c_str(), o_.theta, static_cast<int>(o_.startup_steps),
                o_.advection.c_str(), o_.howard_tol, o_.splitting == "none" ? "" : ", splitting douglas");
}

bool HjbGridSolver::after_step(const SweepState& st, ::Vec aux) {
  ++steps_this_run_;
  stop_due_ = stop_due_ || (o_.stop_after > 0 && steps_this_run_ >= o_.stop_after);
  checkpoint_due_ = checkpoint_due_ || (o_.checkpoint_steps > 0 && steps_this_run_ % o_.checkpoint_steps == 0);
  if (!checkpoint_due_ && o_.checkpoint_minutes > 0) {
    PetscLogDouble now;
    HJBFT_PETSC(PetscTime(&now));
    int late = now - last_checkpoint_time_ >= 60 * o_.checkpoint_minutes;
    MPI_Bcast(&late, 1, MPI_INT, 0, g_.comm());  // rank 0's clock decides for every rank
    checkpoint_due_ = late;
  }
  // A restart builds a new preconditioner; with a kept one (-hjb_pc_refresh R)
  // the checkpoint waits for a step where the uninterrupted run builds one too.
  if (!(checkpoint_due_ || stop_due_) || !step_->rebuilds_at(g_.nt() - 1 - st.next)) return false;
  write_checkpoint(st, aux);
  checkpoint_due_ = false;
  HJBFT_PETSC(PetscTime(&last_checkpoint_time_));
  if (o_.monitor)
    HJBFT_PETSC(PetscPrintf(g_.comm(), "  checkpoint: steps %" PetscInt_FMT "..%" PetscInt_FMT " done, wrote %s\n",
                            st.next + 1, g_.nt(), o_.checkpoint_file.c_str()));
  stopped_ = stop_due_;
  return stopped_;
}

void HjbGridSolver::write_checkpoint(const SweepState& st, ::Vec aux) {
  // The trust counts summed (minimum) over the ranks: a restart on another
  // number of ranks gives them to rank 0 (every rank).
  double sums[2] = {st.untrusted, st.untrusted_region}, lowest = st.min_log10_region;
  MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, g_.comm());
  MPI_Allreduce(MPI_IN_PLACE, &lowest, 1, MPI_DOUBLE, MPI_MIN, g_.comm());
  CheckpointWriter w(g_.comm(), o_.checkpoint_file);
  w.set_attribute("checkpoint_of", checkpoint_key());
  w.set_attribute("next_step", static_cast<double>(st.next));
  w.set_attribute("theta_prev", st.theta_prev);
  w.set_attribute("lin_its", static_cast<double>(st.lin_its));
  w.set_attribute("howard_its", static_cast<double>(st.howard_its));
  w.set_attribute("shift", st.shift);
  w.set_attribute("untrusted", sums[0]);
  w.set_attribute("untrusted_region", sums[1]);
  w.set_attribute("min_log10_region", lowest);
  for (PetscInt k = st.next + 1; k <= g_.nt(); ++k) w.write_vec(vname(k), V_[k]);
  w.write_vec("aux", aux);
  w.commit();
}

void HjbGridSolver::restart_sweep(SweepState* st) {
  const std::string& file = o_.restart_file;
  CheckpointReader r(g_.comm(), file);
  const std::string key = r.text("checkpoint_of");
  if (key != checkpoint_key())
    throw InputError("-restart", "'" + file + "' is a checkpoint of another run (" + key + "); this run is " +
                                     checkpoint_key());
  const double next = r.number("next_step");
  if (!(next >= 0 && next < g_.nt() - 1 && next == std::floor(next)))
    throw InputError("-restart", format("'%s': step %g is not a step this run can continue from", file.c_str(), next));
  st->next = static_cast<PetscInt>(next);
  st->theta_prev = r.number("theta_prev");
  st->have_prev = true;
  st->lin_its = static_cast<PetscInt>(r.number("lin_its"));
  st->howard_its = static_cast<PetscInt>(r.number("howard_its"));
  st->shift = r.number("shift");
  int rank;
  MPI_Comm_rank(g_.comm(), &rank);
  st->untrusted = rank == 0 ? r.number("untrusted") : 0;
  st->untrusted_region = rank == 0 ? r.number("untrusted_region") : 0;
  st->min_log10_region = r.number("min_log10_region");
  // The terminal field must be this run's reward on this grid, to the last bit.
  r.read_vec(vname(g_.nt()), op_->work);
  PetscBool same;
  HJBFT_PETSC(VecEqual(op_->work, V_[g_.nt()], &same));
  if (!same) throw InputError("-restart", "'" + file + "' holds another terminal reward V(T) than this run's");
  for (PetscInt k = st->next + 1; k < g_.nt(); ++k) r.read_vec(vname(k), V_[k]);
  r.read_vec("aux", op_->work);
  // The operator of the last step done, as the sweep had assembled it.
  const PetscInt j = st->next + 1;
  const bool howard = o_.method == "howard";
  if (howard) to_local(op_->work, loc2_);
  assemble_step(j, theta_at(j), howard ? loc2_ : nullptr, true, howard ? op_->costprev : nullptr);
  if (o_.monitor)
    HJBFT_PETSC(PetscPrintf(g_.comm(), "  restart: steps %" PetscInt_FMT "..%" PetscInt_FMT " from %s\n", j, g_.nt(),
                            file.c_str()));
}

}  // namespace hjbft
