// Policy-gradient training of the control network (hjbft pg): the improvement
// step of neural PI-FT's outer loop, a policy-gradient update of the control
// network (include/hjbft/solvers/pg.hpp).
#include <cmath>
#include <cstdio>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/mpi.hpp"
#include "hjbft/solvers/pg.hpp"

namespace hjbft {

void NeuralControlPolicy::vjp(double t, const Matrix& Y, const Matrix& W, Vector& grad) const {
  Matrix In, U;
  nn::MlpTape tape;
  f_.inputs(t, Y, In);
  f_.control_net().forward(In, U, tape);
  f_.control_net().backward(tape, W, grad);
}

void NeuralControlPolicy::jvp(double t, const Matrix& Y, const Vector& v, Matrix& dU) const {
  Matrix In;
  f_.inputs(t, Y, In);
  f_.control_net().jvp(In, v, dU);
}

PetscErrorCode ReadPgOptions(MPI_Comm comm, PgOptions* o, NeuralOptions* no) {
  char est[32], method[32], ref[PETSC_MAX_PATH_LEN];
  std::snprintf(est, sizeof est, "%s", o->estimator_name.c_str());
  std::snprintf(method, sizeof method, "%s", o->method_name.c_str());
  PgUpdateOptions& u = o->update;
  PetscInt epochs = u.ppo_epochs, cg = u.cg_iterations, backtracks = u.backtracks;
  std::snprintf(ref, sizeof ref, "%s", o->reference.c_str());
  PetscInt paths = no->paths;
  PetscBool causal = o->causal ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "Policy gradient (hjbft pg; the value network and its fit: -neural_* options)",
                    nullptr);
  PetscCall(PetscOptionsString("-pg_estimator", "lr (likelihood ratio, DDPO-style) | td (TD advantages) | pathwise",
                               nullptr, est, est, sizeof est, nullptr));
  PetscCall(PetscOptionsString("-pg_method",
                               "Update per iteration: adam (one Adam step along the estimator) | ppo (epochs on the "
                               "clipped transition-ratio surrogate) | trust_region (natural gradient, path-KL bound)",
                               nullptr, method, method, sizeof method, nullptr));
  PetscCall(PetscOptionsInt("-pg_ppo_epochs", "ppo: Adam steps on the clipped surrogate per batch", nullptr, epochs,
                            &epochs, nullptr));
  PetscCall(PetscOptionsReal("-pg_ppo_clip", "ppo: clip range eps of the transition ratio (1 - eps, 1 + eps)", nullptr,
                             u.ppo_clip, &u.ppo_clip, nullptr));
  PetscCall(PetscOptionsReal("-pg_kl_max", "trust_region: path KL per path allowed per update (eta = 0: L2 distance)",
                             nullptr, u.kl_max, &u.kl_max, nullptr));
  PetscCall(PetscOptionsInt("-pg_cg_iterations", "trust_region: conjugate-gradient iterations", nullptr, cg, &cg,
                            nullptr));
  PetscCall(PetscOptionsReal("-pg_cg_damping", "trust_region: damping added to the Fisher matrix", nullptr,
                             u.cg_damping, &u.cg_damping, nullptr));
  PetscCall(PetscOptionsInt("-pg_backtracks", "trust_region: step halvings before the update is rejected", nullptr,
                            backtracks, &backtracks, nullptr));
  PetscCall(PetscOptionsBool("-pg_causal", "lr: reward-to-go instead of the whole-path return", nullptr, causal,
                             &causal, nullptr));
  PetscCall(PetscOptionsInt("-pg_iterations", "Policy-gradient iterations (one Adam step each)", nullptr, no->outer,
                            &no->outer, nullptr));
  PetscCall(PetscOptionsInt("-pg_paths", "Paths per iteration (all ranks together)", nullptr, paths, &paths, nullptr));
  PetscCall(PetscOptionsInt("-pg_steps", "Euler-Maruyama steps K", nullptr, no->nsteps, &no->nsteps, nullptr));
  PetscCall(PetscOptionsReal("-pg_lr", "Adam learning rate of the control network", nullptr, o->adam.lr, &o->adam.lr,
                             nullptr));
  PetscCall(PetscOptionsString("-pg_reference", "auto | none | exact | grid:FILE.h5 (errors are measured against it)",
                               nullptr, ref, ref, sizeof ref, nullptr));
  PetscOptionsEnd();
  o->estimator_name = est;
  o->method_name = method;
  u.ppo_epochs = static_cast<int>(epochs);
  u.cg_iterations = static_cast<int>(cg);
  u.backtracks = static_cast<int>(backtracks);
  o->causal = causal;
  o->reference = ref;
  no->paths = paths;
  PetscFunctionReturn(0);
}

void validate(PgOptions* o, const NeuralOptions& no, const Problem& p, int size) {
  o->estimator = pg_estimator_from_string(o->estimator_name, "-pg_estimator");
  if (no.outer < 1) throw InputError("-pg_iterations", "must be a positive integer, got " + std::to_string(no.outer));
  if (no.nsteps < 1) throw InputError("-pg_steps", "must be a positive integer, got " + std::to_string(no.nsteps));
  if (no.paths < size)
    throw InputError("-pg_paths", "needs at least one path per MPI rank (" + std::to_string(size) + "), got " +
                                      std::to_string(no.paths));
  if (no.mode != "continuous") throw InputError("-neural_mode", "hjbft pg runs the continuous sampler only");
  if (no.control_form != "free")
    throw InputError("-neural_control_form", "hjbft pg's gradients act on the network's output as the control: "
                                             "free form only");
  if (!(o->adam.lr > 0) || !std::isfinite(o->adam.lr))
    throw InputError("-pg_lr", "must be a positive number, got " + std::to_string(o->adam.lr));
  if (!p.control.kl_case() && o->estimator != PgEstimator::pathwise)
    throw InputError("-pg_estimator", "eta = 0 (the ODE sampler) has no transition density: only pathwise is valid");
  if (o->causal && o->estimator != PgEstimator::lr) throw InputError("-pg_causal", "applies to -pg_estimator lr only");
  PgUpdateOptions& u = o->update;
  u.method = pg_method_from_string(o->method_name, "-pg_method");
  if (u.method == PgMethod::ppo && o->estimator == PgEstimator::pathwise)
    throw InputError("-pg_method", "ppo weights transition ratios by advantages: it needs -pg_estimator td or lr, "
                                   "not pathwise");
  if (u.ppo_epochs < 1)
    throw InputError("-pg_ppo_epochs", "must be a positive integer, got " + std::to_string(u.ppo_epochs));
  if (!(u.ppo_clip > 0) || !std::isfinite(u.ppo_clip))
    throw InputError("-pg_ppo_clip", "must be a positive number, got " + std::to_string(u.ppo_clip));
  if (!(u.kl_max > 0) || !std::isfinite(u.kl_max))
    throw InputError("-pg_kl_max", "must be a positive number, got " + std::to_string(u.kl_max));
  if (u.cg_iterations < 1)
    throw InputError("-pg_cg_iterations", "must be a positive integer, got " + std::to_string(u.cg_iterations));
  if (!(u.cg_damping >= 0) || !std::isfinite(u.cg_damping))
    throw InputError("-pg_cg_damping", "must be a non-negative number, got " + std::to_string(u.cg_damping));
  if (u.backtracks < 0)
    throw InputError("-pg_backtracks", "must be a non-negative integer, got " + std::to_string(u.backtracks));
}

PgControlUpdate::PgControlUpdate(MPI_Comm comm, const Problem& p, PgOptions po, long n_total)
    : comm_(comm), p_(p), po_(std::move(po)), n_total_(n_total) {}

double PgControlUpdate::update(int k, const SimulatedPaths& P, NeuralFields& fields, History& history) {
  if (!adam_) adam_ = std::make_unique<nn::Adam>(fields.control_net().n_params(), po_.adam);
  PgEstimatorOptions eo;
  eo.kind = po_.estimator;
  eo.causal = po_.causal;
  eo.baseline = baseline_;
  const NeuralValue V(fields);
  PgSurrogate s = make_surrogate(p_, P, &V, eo);
  s.clip = po_.update.method == PgMethod::ppo ? po_.update.ppo_clip : 0.0;
  NeuralControlPolicy policy(fields);
  PgUpdateReport rep;
  try {
    rep = pg_update(comm_, n_total_, p_, policy, P, s, *adam_, po_.update);
  } catch (const SolverError& e) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " at outer iteration %d", k);
    throw SolverError(e.what() + std::string(buf));
  }
  double ret = P.n() ? P.returns().sum() : 0.0;
  allreduce_sum(comm_, &ret, 1);
  history.add("pg_grad_norm", rep.grad_norm);
  history.add("pg_baseline", baseline_);
  history.add("pg_step_kl", rep.step_kl);
  history.add("pg_surrogate_gain", rep.surrogate_gain);
  history.add("pg_clip_fraction", rep.clip_fraction);
  history.add("pg_step_fraction", rep.step_fraction);
  history.add("pg_cg_residual", rep.cg_residual);
  baseline_ = ret / static_cast<double>(n_total_);  // the next iteration's lr baseline
  return rep.grad_norm;
}

}  // namespace hjbft
