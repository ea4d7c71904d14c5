#pragma once
// Continuous-time policy gradient, "scores as actions" (issue 6): the policy
// is the score a = s_pre + u_theta of the eta-sampler (DESIGN.md section 2),
// the objective that of section 3 on its Euler-Maruyama discretization with
// K steps t_0 = 0 < ... < t_K = T, dt_i = t_{i+1} - t_i:
//
//   Y_{i+1} = Y_i + (b_i(Y_i) + B_i u_i) dt_i + Sigma_i sqrt(dt_i) xi_i,   u_i = u_theta(t_i, Y_i),
//   J(theta) = E[ r(Y_K) - sum_i c_i ],   c_i = beta_i/2 Lambda_i |u_i|^2 dt_i.
//
// Every estimator here has the form  g = (1/n) sum_paths sum_i (du_i/dtheta)^T W_i
// for per-step weights W_i (d x n), so a policy only needs a
// vector-Jacobian product (PgPolicy::vjp).  docs/policy_gradient.md derives
// each one and says when it is exactly unbiased for the discretized J:
//
//   lr       (DDPO-style) W_i = B_i sqrt(dt_i)/Sigma_i xi_i (R - b) - beta_i Lambda_i dt_i u_i,
//            R = r(Y_K) - sum_j c_j the whole-path return (or, causal, r(Y_K) - sum_{j>i} c_j),
//            b a constant baseline.  Unbiased for any constant b.  eta > 0 only.
//   td       W_i = B_i sqrt(dt_i)/Sigma_i xi_i A_i - beta_i Lambda_i dt_i u_i,
//            A_i = V_{i+1}(Y_{i+1}) - c_i - V_i(Y_i).  Unbiased when V_{i+1} is the exact
//            value of the current policy on the K-step chain (V_i may be any function: a baseline).
//   pathwise W_i = B_i dt_i grad V_{i+1}(Y_{i+1}) - beta_i Lambda_i dt_i u_i.  Unbiased under the
//            same condition; the only one defined for eta = 0 (Sigma = 0, the ODE sampler).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hjbft/model/problem.hpp"
#include "hjbft/simulation/paths.hpp"
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

// ---------------------------------------------------------------- policies
// u_theta(t, y) for batches of points (columns) with a parameter vector.
class PgPolicy {
public:
  virtual ~PgPolicy() = default;
  virtual int n_params() const = 0;
  virtual Vector& params() = 0;
  virtual void control(double t, const Matrix& Y, Matrix& U) const = 0;  // Y, U: d x n
  // grad += sum_j (d u(t, Y_j) / d theta)^T W_j  (W: d x n).
  virtual void vjp(double t, const Matrix& Y, const Matrix& W, Vector& grad) const = 0;
  // dU_j = (d u(t, Y_j) / d theta) v  (d x n): the directional derivative.
  virtual void jvp(double t, const Matrix& Y, const Vector& v, Matrix& dU) const = 0;
};

// u = theta_0 * e: a constant score shift (one parameter, du/dtheta = e).
class ConstantShiftPolicy final : public PgPolicy {
public:
  ConstantShiftPolicy(Vector e, double theta);
  int n_params() const override { return 1; }
  Vector& params() override { return theta_; }
  void control(double t, const Matrix& Y, Matrix& U) const override;
  void vjp(double t, const Matrix& Y, const Matrix& W, Vector& grad) const override;
  void jvp(double t, const Matrix& Y, const Vector& v, Matrix& dU) const override;

private:
  Vector e_, theta_;
};

// ---------------------------------------------------------------- values
// The value of the current policy on the time grid (index i <-> t_i).
class PgValue {
public:
  virtual ~PgValue() = default;
  virtual void value(int i, double t, const Matrix& Y, Vector& V) const = 0;
  virtual void gradient(int i, double t, const Matrix& Y, Matrix& G) const = 0;  // d x n
};

// The exact value of a policy that is constant in y (e.g. ConstantShiftPolicy)
// on the K-step chain, when the reference drift is affine in y (one Gaussian
// data component, exact score) and the reward is linear (r = w.x):
//   V_i(y) = w . (Phi_i y + kappa_i) - sum_{j >= i} c_j,
// from the backward recursion of the conditional mean E[Y_K | Y_i = y] (no
// sampling).  Throws std::invalid_argument when the problem is not of that kind.
class AffineChainValue final : public PgValue {
public:
  AffineChainValue(const Problem& p, const std::vector<double>& times, const PgPolicy& policy);
  void value(int i, double t, const Matrix& Y, Vector& V) const override;
  void gradient(int i, double t, const Matrix& Y, Matrix& G) const override;
  double objective_at(const Vector& y0) const;  // V_0(y0)

private:
  Vector w_;
  std::vector<Matrix> Phi_;  // d x d
  std::vector<Vector> kappa_;
  std::vector<double> cost_to_go_;
};

// Exact J(theta) of the K-step chain for a policy constant in y, affine drift,
// linear reward and initial mean m0: the mean recursion m_{i+1} = m_i + (b_i(m_i)
// + B_i u_i) dt_i (exact: the chain is linear), no sampling.
double affine_chain_objective(const Problem& p, const std::vector<double>& times, const PgPolicy& policy,
                              const Vector& m0);

// ---------------------------------------------------------------- paths
// Paths whose noise comes from per-path streams path_stream(seed, first_id + j, 7) (the
// same streams as neural PI-FT), starting from the rows of Y0 (n x d).
void simulate_pg_paths(const Problem& p, const PgPolicy& policy, const std::vector<double>& times,
                       const Matrix& Y0, std::uint64_t seed, long first_id, SimulatedPaths& P);

// ---------------------------------------------------------------- estimators
enum class PgEstimator { lr, td, pathwise };
PgEstimator pg_estimator_from_string(const std::string& s, const std::string& option);  // InputError(option)
std::string to_string(PgEstimator e);

struct PgEstimatorOptions {
  PgEstimator kind = PgEstimator::lr;
  bool causal = false;    // lr: reward-to-go r(Y_K) - sum_{j>i} c_j instead of the whole return
  double baseline = 0.0;  // lr: constant baseline (must not depend on this batch to stay unbiased)
  bool per_path = false;  // also return each path's estimate (n_params x n; for variances)
};

struct PgGradient {
  Vector mean;      // the estimate: average over the batch
  Matrix per_path;  // n_params x n when requested
};

// The gradient estimate of J at the policy that generated P.  `value` is required
// by td and pathwise.  Throws std::invalid_argument for lr/td with eta = 0 (no
// transition density) or a missing value.
PgGradient estimate_gradient(const Problem& p, const PgPolicy& policy, const SimulatedPaths& P, const PgValue* value,
                             const PgEstimatorOptions& o);

// The per-step weights W_i (d x n) of the estimators (for tests and PPO-type objectives).
std::vector<Matrix> estimator_weights(const Problem& p, const SimulatedPaths& P, const PgValue* value,
                                      const PgEstimatorOptions& o);

// ---------------------------------------------------------------- advantage rate
// Continuous-time advantage rate of the control u (action a = s_pre + u) against
// the policy's control u_pi at (t, y), for the value V of the policy
// (dV/dt + (b + B u_pi).grad V + Sigma^2/2 Lap V - beta/2 Lambda |u_pi|^2 = 0):
//   q(t, y, u) = B (u - u_pi) . grad V - beta/2 Lambda (|u|^2 - |u_pi|^2).
// It vanishes at u = u_pi and is maximal at u = B grad V / (beta Lambda) (the PI-FT improvement).
double advantage_rate(const ControlCoefficients& c, const Vector& gradV, const Vector& u, const Vector& u_pi);

// ---------------------------------------------------------------- update rules
// The local model of J around the policy pi that generated P (controls P.U), as
// a SUM over the batch (docs/policy_gradient.md section 5):
//
//   score form (lr, td; eta > 0):
//     L(theta) = sum_paths sum_i [ min(rho_i a_i, clip(rho_i, 1-eps, 1+eps) a_i) - a_i ] - (c_i(theta) - c_i),
//     log rho_i = log p_theta(Y_{i+1}|Y_i) - log p_pi(Y_{i+1}|Y_i)
//               = B_i sqrt(dt_i)/Sigma_i xi_i.du_i - B_i^2 dt_i/(2 Sigma_i^2) |du_i|^2,   du_i = u_theta,i - U_i,
//     a_i the estimator's advantage (td: A_i; lr: R - b or the reward-to-go - b);
//   pathwise form (any eta):
//     L(theta) = sum_paths sum_i B_i dt_i grad V_{i+1}(Y_{i+1}).du_i - (c_i(theta) - c_i).
//
// L(pi) = 0 and grad L(pi) = n x the estimator (every estimator, exactly), so one
// Adam step on L is the plain policy gradient.  eps = +inf: no clipping.
struct PgSurrogate {
  bool score_form = true;
  Matrix adv;              // K x n: a_i per step and path (score form)
  std::vector<Matrix> dir; // K of d x n: B_i dt_i grad V_{i+1}(Y_{i+1}) (pathwise form)
  double clip = 0;         // eps; <= 0 or infinite: no clipping
};
PgSurrogate make_surrogate(const Problem& p, const SimulatedPaths& P, const PgValue* value, const PgEstimatorOptions& o);

// Batch sums at the policy's current parameters: the surrogate, the path KL
// between the chains of pi and of theta on P's states,
//   kl = sum_paths sum_i Lambda_i dt_i |du_i|^2 / 2
// (exact: the transitions are Gaussian with the same covariance; for eta = 0 the
// L2-penalty distance with Lambda = g^2), and the number of clipped (step, path)
// pairs.  When grad is not null, ADDS dL/dtheta.
struct SurrogateSums {
  double value = 0, kl = 0, clipped = 0;
};
SurrogateSums evaluate_surrogate(const Problem& p, const PgPolicy& policy, const SimulatedPaths& P, const PgSurrogate& s,
                                 Vector* grad);

// Fv += sum_paths sum_i Lambda_i dt_i J_i^T J_i v, J_i = du(t_i, Y_i)/dtheta: the
// Hessian of kl at theta = pi (the Fisher matrix of the chain's path law).
void fisher_vector_product(const Problem& p, const PgPolicy& policy, const SimulatedPaths& P, const Vector& v, Vector& Fv);

enum class PgMethod { adam, ppo, trust_region };
PgMethod pg_method_from_string(const std::string& s, const std::string& option);  // InputError(option)
std::string to_string(PgMethod m);

struct PgUpdateOptions {
  PgMethod method = PgMethod::adam;
  int ppo_epochs = 10;      // ppo: Adam steps on the clipped surrogate per batch
  double ppo_clip = 0.2;    // ppo: eps
  double kl_max = 0.01;     // trust_region: path KL per update (per path)
  int cg_iterations = 10;   // trust_region: conjugate-gradient iterations for F s = g
  double cg_damping = 0.1;  // trust_region: F/n + damping I (as TRPO; also bounds CG's rounding amplification)
  int backtracks = 10;      // trust_region: step halvings before giving up (no update)
};

struct PgUpdateReport {
  double grad_norm = 0;       // |grad L(pi)| / n: the estimator's norm
  double step_kl = 0;         // path KL (per path) between pi and the updated policy on the batch
  double surrogate_gain = 0;  // L(updated) / n
  double clip_fraction = 0;   // ppo: clipped share of the (step, path) pairs after the last epoch
  double step_fraction = 1;   // trust_region: accepted share of the full natural-gradient step (0: rejected)
  double cg_residual = 0;     // trust_region: |g - (F/n + damping) s| / |g| after the CG iterations
};

// One update of the policy's parameters from the batch P (this rank's paths;
// all sums are reduced over comm and divided by n_total, the paths of all ranks):
//   adam:         one Adam ascent step along grad L(pi)/n (= the estimator);
//   ppo:          ppo_epochs Adam ascent steps on the clipped surrogate L/n;
//   trust_region: the natural-gradient step s = (F/n + damping)^{-1} g by conjugate
//                 gradients, scaled to the quadratic model's KL = kl_max, halved until
//                 the measured path KL <= kl_max and L > 0 (TRPO's line search).
// Throws SolverError for a non-finite gradient.
PgUpdateReport pg_update(MPI_Comm comm, long n_total, const Problem& p, PgPolicy& policy, const SimulatedPaths& P,
                         const PgSurrogate& s, nn::Adam& adam, const PgUpdateOptions& o);

// ---------------------------------------------------------------- networks
// The control network of NeuralFields as a policy (vjp: one backward pass).
class NeuralControlPolicy final : public PgPolicy {
public:
  explicit NeuralControlPolicy(NeuralFields& f) : f_(f) {}
  int n_params() const override { return f_.control_net().n_params(); }
  Vector& params() override { return f_.control_net().params(); }
  void control(double t, const Matrix& Y, Matrix& U) const override { f_.control(t, Y, U); }
  void vjp(double t, const Matrix& Y, const Matrix& W, Vector& grad) const override;
  void jvp(double t, const Matrix& Y, const Vector& v, Matrix& dU) const override;

private:
  NeuralFields& f_;
};

// The value network of NeuralFields (V(t, x) = r(x) + (1 - t/T) N) as a PgValue.
class NeuralValue final : public PgValue {
public:
  explicit NeuralValue(const NeuralFields& f) : f_(f) {}
  void value(int, double t, const Matrix& Y, Vector& V) const override { f_.value(t, Y, V); }
  void gradient(int, double t, const Matrix& Y, Matrix& G) const override { f_.value_gradient(t, Y, G); }

private:
  const NeuralFields& f_;
};

// ---------------------------------------------------------------- training
struct PgOptions {
  std::string estimator_name = "td";
  PgEstimator estimator = PgEstimator::td;  // set by validate from estimator_name
  std::string method_name = "adam";
  PgUpdateOptions update;                   // update.method set by validate from method_name
  bool causal = false;   // lr: reward-to-go
  nn::AdamOptions adam;  // the policy's optimizer (-pg_lr)
  std::string reference = "auto";  // auto | none | exact | grid:FILE.h5
};

PetscErrorCode ReadPgOptions(MPI_Comm comm, PgOptions* o, NeuralOptions* no);
// Throws InputError naming the option (-pg_estimator, -pg_method, -pg_paths, -pg_steps, -pg_iterations,
// -pg_lr, -pg_causal, -pg_ppo_*, -pg_kl_max, -pg_cg_*); sets o->estimator and o->update.method.
void validate(PgOptions* o, const NeuralOptions& no, const Problem& p, int size);

// Policy-gradient training of the control network as the improvement step of
// neural PI-FT's outer loop (NeuralPiftSolver with this ControlUpdate: the
// loop's simulation with its per-path streams, TD/MC value fit, measurement
// against the reference and /history are shared).  Each outer iteration
// simulates the current policy, fits V to it, then this update moves the
// control network by pg_update (-pg_method: one Adam ascent step along the
// chosen estimator, PPO epochs on the clipped surrogate, or a trust-region
// natural-gradient step; full batch, summed over ranks).  lr uses the previous
// iteration's mean return as its baseline (independent of the batch, so unbiased).
class PgControlUpdate final : public ControlUpdate {
public:
  // n_total: paths per iteration over all ranks.  `po` must have passed validate().
  PgControlUpdate(MPI_Comm comm, const Problem& p, PgOptions po, long n_total);
  double update(int k, const SimulatedPaths& P, NeuralFields& fields, History& history) override;

private:
  MPI_Comm comm_;
  const Problem& p_;
  PgOptions po_;
  long n_total_;
  std::unique_ptr<nn::Adam> adam_;  // created at the first update (the control network's size)
  double baseline_ = 0;
};

}  // namespace hjbft
