// Policy-gradient training of the control network (hjbft pg): neural PI-FT's
// outer loop with the improvement step replaced by one Adam ascent step along
// a policy-gradient estimator (include/hjbft/policy_gradient.hpp).
#include <cmath>
#include <cstdio>

#include "../neural/pift_internal.hpp"
#include "hjbft/errors.hpp"
#include "hjbft/policy_gradient.hpp"

namespace hjbft {

void NeuralControlPolicy::vjp(double t, const Matrix& Y, const Matrix& W, Vector& grad) const {
  Matrix In, U;
  nn::MlpTape tape;
  f_.inputs(t, Y, In);
  f_.control_net().forward(In, U, tape);
  f_.control_net().backward(tape, W, grad);
}

PetscErrorCode ReadPgOptions(MPI_Comm comm, PgOptions* o, NeuralOptions* no) {
  char est[32], ref[PETSC_MAX_PATH_LEN];
  std::snprintf(est, sizeof est, "%s", o->estimator_name.c_str());
  std::snprintf(ref, sizeof ref, "%s", o->reference.c_str());
  PetscInt paths = no->paths;
  PetscBool causal = o->causal ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "Policy gradient (hjbft pg; the value network and its fit: -neural_* options)",
                    nullptr);
  PetscCall(PetscOptionsString("-pg_estimator", "lr (likelihood ratio, DDPO-style) | td (TD advantages) | pathwise",
                               nullptr, est, est, sizeof est, nullptr));
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
  if (!(o->adam.lr > 0) || !std::isfinite(o->adam.lr))
    throw InputError("-pg_lr", "must be a positive number, got " + std::to_string(o->adam.lr));
  if (!p.control.kl_case() && o->estimator != PgEstimator::pathwise)
    throw InputError("-pg_estimator", "eta = 0 (the ODE sampler) has no transition density: only pathwise is valid");
  if (o->causal && o->estimator != PgEstimator::lr) throw InputError("-pg_causal", "applies to -pg_estimator lr only");
}

namespace {
NeuralOptions checked(NeuralOptions no, PgOptions& po, const Problem& p, MPI_Comm comm) {
  int size;
  MPI_Comm_size(comm, &size);
  validate(&po, no, p, size);
  return no;
}
}  // namespace

PgSolver::PgSolver(MPI_Comm comm, const Problem& p, const Grid& g, NeuralOptions no, PgOptions po,
                   const ControlSource* reference)
    : NeuralPiftSolver(comm, p, g, checked(std::move(no), po, p, comm), reference),
      po_(std::move(po)),
      adam_(fields_->control_net().n_params(), po_.adam) {}

double PgSolver::fit_control(int k, const Paths& P) {
  const int K = P.nsteps(), d = p_.dim;
  // The paths of u^k in the estimators' form: controls recomputed (the control
  // network has not changed since the simulation), the standardized noise
  // recovered from the increments (eta > 0).
  PgPaths Q;
  Q.times = times_;
  Q.Y = P.Y;
  Q.cost = P.cost;
  Q.reward = P.reward;
  Q.U.resize(K);
  Q.xi.resize(K);
  Matrix S;
  for (int i = 0; i < K; ++i) {
    const double t = times_[i], dt = times_[i + 1] - t;
    fields_->control(t, P.Y[i], Q.U[i]);
    const ControlCoefficients c = p_.control.coefficients(t);
    if (c.Sigma > 0) {
      batch_score(p_.score.at_tau(p_.T() - t), p_.score.error(), P.Y[i], S);
      const Matrix mean = P.Y[i] + (p_.control.drift_linear(t) * P.Y[i] + p_.control.drift_score_factor(t) * S +
                                    c.B * Q.U[i]) * dt;
      Q.xi[i] = (P.Y[i + 1] - mean) / (c.Sigma * std::sqrt(dt));
    } else {
      Q.xi[i].setZero(d, P.n());
    }
  }
  PgEstimatorOptions eo;
  eo.kind = po_.estimator;
  eo.causal = po_.causal;
  eo.baseline = baseline_;
  const NeuralValue V(*fields_);
  const std::vector<Matrix> W = estimator_weights(p_, Q, &V, eo);
  NeuralControlPolicy policy(*fields_);
  Vector grad = Vector::Zero(policy.n_params());
  for (int i = 0; i < K; ++i) policy.vjp(times_[i], Q.Y[i], W[i], grad);
  double ret = Q.n() ? Q.returns().sum() : 0.0;
  allreduce_sum(comm_, grad.data(), static_cast<int>(grad.size()));
  allreduce_sum(comm_, &ret, 1);
  grad /= static_cast<double>(o_.paths);
  const double gnorm = grad.norm();
  if (!std::isfinite(gnorm)) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "policy gradient: the gradient is non-finite at outer iteration %d", k);
    throw SolverError(buf);
  }
  adam_.step(policy.params(), -grad);  // ascent on J
  hist_.add("pg_grad_norm", gnorm);
  hist_.add("pg_baseline", baseline_);
  baseline_ = ret / static_cast<double>(o_.paths);  // the next iteration's lr baseline
  return gnorm;
}

}  // namespace hjbft
