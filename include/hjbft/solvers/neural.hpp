#pragma once
// Neural PI-FT (issue 5): policy-iteration fine-tuning with a value network
// V_psi(t, x) and a control network u_theta(t, x), the algorithm one would
// run on a real model, on problems where hjbft knows the answer.
//
// Outer iteration k (u^0 = 0, the pre-trained model):
//   1. simulate N paths under u^k (continuous: Euler-Maruyama on the
//      controlled eta-sampler of DESIGN.md section 3; discrete: the DDPM chain
//      of section 5), recording states, running costs and the reward;
//   2. policy evaluation: fit V_psi to the cost-to-go of u^k, either by Monte
//      Carlo regression on G_i = r(Y_T) - sum_{j >= i} c_j ("mc") or by
//      temporal differences on V(t_{i+1}, Y_{i+1}) - c_i with a frozen target
//      network refreshed every -neural_td_refresh Adam steps ("td").  The
//      terminal condition is built into the network form:
//          V_psi(t, x) = r(x) + (1 - t/T) N_psi(x, emb(t));
//   3. policy improvement: fit u_theta, of the form -neural_control_form
//          free:      u_theta(t, x) = N_theta(x, emb(t))
//          terminal:  u_theta(t, x) = gain(t) [grad r(x) + (1 - t/T) N_theta(x, emb(t))]
//      (terminal: u_theta(T) = gain grad r = u*(T) exactly, as V_psi(T) = r,
//      and the network carries grad (V - r) in the value's units), to
//          continuous:  B grad V_psi(t, Y_t) / (beta Lambda)          (DESIGN 3)
//          discrete:    sigma_t^2/(beta_t b_t) grad V_psi(t+1, Y_{t+1}) (DESIGN 5;
//                       the realized next state is a one-sample estimate of
//                       the expectation, and least squares fits its mean).
// Data-parallel over MPI ranks: each rank simulates its own paths (global path
// ids, per-path random streams), minibatch gradients are summed with
// MPI_Allreduce, and every rank takes the same Adam step, so the result is
// the same for a fixed seed and rank count.
//
// After each iteration the networks are evaluated on the output grid and
// compared with a reference (closed form or a grid result file): errors of
// V^k and u^{k+1} (sup on the region holding -error_mass of the fine-tuned
// marginal, L2 weighted by it), the objective gap J* - J(u^k) with common
// random numbers, and the regularity sup|grad u|, sup|Hess V|.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hjbft/analysis/history.hpp"
#include "hjbft/grid/grid.hpp"
#include "hjbft/nn/mlp.hpp"
#include "hjbft/simulation/paths.hpp"
#include "hjbft/simulation/sampler.hpp"

namespace hjbft {

class ReferenceOnGrid;  // analysis/reference.hpp

struct NeuralOptions {
  std::string mode = "continuous";   // continuous | discrete
  PetscInt outer = 8;                // outer (policy) iterations
  long paths = 4096;                 // paths per outer iteration, all ranks together
  PetscInt nsteps = 100;             // continuous: Euler-Maruyama steps; discrete: K (-ddpm_steps)
  std::string evaluation = "td";     // td | mc
  PetscInt td_refresh = 10;          // td: Adam steps between target-network refreshes
  std::string control_form = "free"; // free | terminal (continuous mode): see step 3 above
  std::vector<int> value_hidden{32, 32}, control_hidden{32, 32};
  nn::Activation activation = nn::Activation::tanh;
  PetscInt time_freq = 2;
  PetscInt value_steps = 1500, control_steps = 800;  // Adam steps per fit
  PetscInt batch = 1024;             // minibatch (all ranks together)
  nn::AdamOptions adam;
  std::uint64_t seed = 1;
  std::string init = "gaussian";     // initial law: gaussian | exact | tilted
  std::string reference = "auto";    // auto | none | exact | grid:FILE.h5
  std::string load;                  // start from the networks of a previous result file
  bool ddpm_steps_set = false;       // -ddpm_steps given (discrete mode only)
  double diverge = 10;               // stop when the control change exceeds this x the first one
  double mass = 0.999;               // error norms: region holding this fine-tuned mass
  bool monitor = true;               // one progress line per outer iteration
};

PetscErrorCode ReadNeuralOptions(MPI_Comm comm, NeuralOptions* o);
void validate(const NeuralOptions& o, int size);  // throws InputError naming the option

// V_psi(t, x) = r(x) + (1 - t/T) N([x; emb(t)]) and u_theta(t, x) = N([x; emb(t)]).
// The networks of a neural result file (hjbft neural) as a control source:
// -control neural:FILE.h5.  InputError("-control") for a file that does not fit.
std::unique_ptr<ControlSource> make_neural_control(const Problem& p, const std::string& file);

class NeuralFields {
public:
  NeuralFields(const Problem& p, const NeuralOptions& o);
  nn::Mlp& value_net() { return vnet_; }
  nn::Mlp& control_net() { return unet_; }
  const nn::Mlp& value_net() const { return vnet_; }
  const nn::Mlp& control_net() const { return unet_; }
  int dim() const { return d_; }
  // Network input [x; emb(t_j)] for the columns of X (d x n) with their times.
  void inputs(const std::vector<double>& t, const Matrix& X, Matrix& In) const;
  void inputs(double t, const Matrix& X, Matrix& In) const;
  // V at the columns of X (all at time t) and grad_x V (d x n); u (d x n).
  void value(double t, const Matrix& X, Vector& V) const;
  void value_gradient(double t, const Matrix& X, Matrix& G) const;
  void control(double t, const Matrix& X, Matrix& U) const;
  double T() const { return T_; }

  // The control form u = offset(t) grad r(x) + scale(t) N_theta (free: 0, 1;
  // terminal: gain(t), gain(t) (1 - t/T)), for the fit's chain rule.
  struct ControlMap {
    double offset, scale;
  };
  ControlMap control_map(double t) const;
  const std::string& control_form() const { return form_; }
  // The terminal form cannot start at u^0 = 0 with any network: until the
  // first fit (or a load), control() is u^0 = 0, the pre-trained model.  The
  // free form starts at 0 through its zero last layer and ignores this.
  void set_control_fitted() { fitted_ = true; }

private:
  const Problem& p_;
  int d_;
  double T_;
  std::string form_;
  bool fitted_ = false;
  nn::TimeEmbedding emb_;
  nn::Mlp vnet_, unet_;
};


// Step 3 of an outer iteration, policy improvement, as a strategy of the outer
// loop.  Neural PI-FT's own (the default) regresses the control network on
// gain grad V_psi; hjbft pg supplies a policy-gradient step (solvers/pg).  It
// gets this rank's paths of u^k (states, controls, noise, costs, reward), the
// networks with V_psi already fitted to those paths, and the history, to which
// it may add its own columns.  Returns what /history records as loss_control.
class ControlUpdate {
public:
  virtual ~ControlUpdate() = default;
  virtual double update(int k, const SimulatedPaths& P, NeuralFields& fields, History& history) = 0;
};

class NeuralPiftSolver {
public:
  // The grid is the output (and error-measurement) grid; `reference` may be
  // null (no errors then); `update` null: the PI-FT regression.  Throws
  // InputError for bad options, SolverError for a non-finite loss.
  NeuralPiftSolver(MPI_Comm comm, const Problem& p, const Grid& g, NeuralOptions o,
                   const ControlSource* reference, std::unique_ptr<ControlUpdate> update = nullptr);
  ~NeuralPiftSolver();
  // Runs the outer iterations; returns false when stopped early (stop_reason()).
  bool run();
  const NeuralFields& fields() const { return *fields_; }
  NeuralFields& fields() { return *fields_; }
  const History& history() const { return hist_; }
  const std::map<std::string, double>& summary() const { return summary_; }
  const std::string& stop_reason() const { return stop_reason_; }
  // The networks' V and u on the grid at saved step index s (positions in g.saved_steps()).
  void fields_on_grid(int s, ::Vec V, ::Vec U) const;

  struct Paths;                      // one outer iteration's simulated data (this rank's paths)

private:
  // This rank's part of a minibatch loss: adds the gradient of its loss sum
  // over `pairs` (local pair columns, see Minibatches in pift_fit.cpp) to
  // grad and returns that sum; called at every Adam step, also for no pairs.
  using LocalLoss = std::function<double(int step, const std::vector<long>& pairs, Vector& grad)>;

  void simulate(int k, Paths& P) const;
  double fit_value(int k, const Paths& P);
  double fit_control(int k, const Paths& P);  // the PI-FT regression
  double adam_fit(nn::Mlp& net, const char* what, int k, int steps, std::uint64_t seed, const Paths& P,
                  const LocalLoss& local);
  void measure(const Paths& P);
  void measure_objective(const Paths& P);
  void measure_fields();

  MPI_Comm comm_;
  const Problem& p_;
  const Grid& g_;
  NeuralOptions o_;
  const ControlSource* ref_;
  std::unique_ptr<NeuralFields> fields_;
  int rank_ = 0, size_ = 1;
  long first_path_ = 0, local_paths_ = 0;
  std::vector<double> times_;        // simulation time grid (continuous: uniform; discrete: t T/K)
  History hist_;
  std::unique_ptr<ControlUpdate> update_;  // null: fit_control
  Matrix grid_points_;               // d x n_local owned grid points
  std::unique_ptr<ReferenceOnGrid> reference_;  // ref_ at the saved steps on grid_points_ (null: no ref_)
  Matrix prev_control_;              // u^k on the grid at all saved steps (for control_change)
  double first_change_ = -1;
  std::map<std::string, double> summary_;
  std::string stop_reason_;
};

}  // namespace hjbft
