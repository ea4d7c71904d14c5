#pragma once
// Ground truth: the HJB of DESIGN.md section 3 on a PETSc DMDA grid.
//
// Policy evaluation for a control u (backward in t, V(T) = r):
//   V_t + L_u V + c_u = 0,  L_u V = (b + B u).grad V + Sigma^2/2 Lap V,  c_u = -beta/2 Lambda |u|^2.
// theta-scheme from t_{j+1} to t_j (dt = T/nt):
//   (I - theta dt L^j) V^j = (I + (1-theta) dt L^{j+1}) V^{j+1} + dt (theta c^j + (1-theta) c^{j+1}),
// theta = 1 backward Euler, 1/2 Crank-Nicolson (after -hjb_startup_steps BE steps).
// -hjb_splitting douglas solves each step's linear system in the Douglas
// alternating-direction form, tridiagonal line solves axis by axis
// (solvers/hjb/hjb_douglas.hpp); none (default): one Krylov solve.
// Space: second-order central diffusion; advection by the hybrid (Spalding)
// coefficients max(+-a/h, D/h^2 +- a/(2h), 0), D = Sigma^2/2: central where the
// cell Peclet number |a_i| h_i / D <= 2, upwind beyond.  Monotone, and continuous
// in the control (a switch between central and upwind is not, and made policy
// iteration cycle in 2-D).  -hjb_advection upwind: upwind with the full diffusion
// everywhere (first order; the scheme eta = 0 has anyway, since D = 0).
// Boundary (domain truncation): the normal second derivative is dropped and
// advection is upwinded from the interior; advection pointing out of the box
// is dropped (V is taken constant along characteristics that leave the box).
// The resulting error is measured against the closed forms (docs/validation.md).
//
// The control is u = gain grad_h V (central differences), gain = B/(beta Lambda).
// Methods (-hjb_method):
//   pi        global policy iteration (PI-FT): u^0 = 0; evaluate u^k over the whole
//             horizon, u^{k+1} = gain grad V^k, until sup |u^{k+1} - u^k| < -pi_tol.
//   howard    policy iteration on each implicit step of the nonlinear scheme.
//   colehopf  one linear backward solve for phi = exp(V/beta) (eta > 0, constant
//             beta), rescaled every step (log-shifted) so that it never overflows.
// pi and howard converge to the same discrete solution; colehopf is a different
// discretization of the same PDE (agreement to discretization error).
#include <petscksp.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hjbft/analysis/history.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/grid/grid.hpp"

namespace hjbft {

class StepSolver;

struct HjbOptions {
  std::string method = "pi";
  std::string advection = "auto";  // auto (hybrid) | upwind
  double theta = 0.5;
  PetscInt startup_steps = 2;
  std::string splitting = "none";  // none | douglas
  double pi_tol = 1e-7;
  PetscInt pi_max_it = 50;
  double howard_tol = 1e-9;
  PetscInt howard_max_it = 50;
  // Solver tolerances.  tight: -pi_tol, -howard_tol, -ksp_rtol as given (defaults
  // below).  auto: from the discretization error, estimated before the solve by
  // two companion solves on the grids with 2h, 2 dt and 4h, 4 dt, so that the
  // solver error is solver_fraction of it; the ones given explicitly are kept.
  std::string tolerance = "tight";
  double solver_fraction = 0.01;
  bool pi_tol_given = false, howard_tol_given = false;
  bool with_exact = true;  // compare with a closed form where one applies (companions: no)
  bool drift_cache = true;
  double ksp_rtol = 1e-13;        // relative residual of each step's linear solve
  PetscInt pc_refresh = 0;        // rebuild the preconditioner every pc_refresh time steps (1: every
                                  // solve; 0: 10 under auto tolerances, 1 under tight)
  double memory_limit = 0;        // MiB per rank; refuse a larger estimated need (0: no limit)
  // Checkpoints (Howard, Cole-Hopf): every checkpoint_steps steps and/or every
  // checkpoint_minutes of wall time (0: never), to checkpoint_file; restart_file
  // continues a run from one; stop_after: checkpoint and stop after that many steps.
  std::string checkpoint_every;  // as given: "N" steps or "Xmin"; parsed into the next two
  PetscInt checkpoint_steps = 0;
  double checkpoint_minutes = 0;
  std::string checkpoint_file = "hjbft_checkpoint.h5";
  std::string restart_file;
  PetscInt stop_after = 0;        // PI: keep the reference drift of every step
  double colehopf_trust = 1e-8;  // phi / max phi below this: V = beta log phi untrusted
  double mass = 0.999;  // error norms: region holding this much reference mass
  std::string exact_method = "auto";
  std::string fp_init = "none";  // none | exact | gaussian | tilted
  bool monitor = true;
};

PetscErrorCode ReadHjbOptions(MPI_Comm comm, HjbOptions* o);

class HjbGridSolver {
public:
  HjbGridSolver(const Problem& problem, const Grid& grid, const HjbOptions& opt);  // throws InputError
  ~HjbGridSolver();
  HjbGridSolver(const HjbGridSolver&) = delete;
  HjbGridSolver& operator=(const HjbGridSolver&) = delete;

  void solve();
  // True when solve() stopped at -hjb_stop_after with a checkpoint (no fields to write).
  bool stopped() const { return stopped_; }
  PetscInt steps_this_run() const { return steps_this_run_; }  // time steps this run did
  // Fields at time step j (after solve()).
  ::Vec value(PetscInt j) const { return V_[j]; }
  void control(PetscInt j, ::Vec u) const;  // u = gain grad V at t_j (dof d)
  const History& history() const { return hist_; }
  // Forward Fokker-Planck under the final control (the discrete adjoint of
  // the evaluation operator), from the initial law -fp_init; the density at
  // each saved step is stored (index = position in grid.saved_steps()).
  void fokker_planck(std::vector<::Vec>* density);
  // Summary numbers (errors of the final fields, regularity of the exact solution, ...).
  const std::map<std::string, double>& summary() const { return summary_; }
  const ExactSolution* exact() const { return exact_.get(); }

private:
  struct Operator;  // assembly of I - theta dt L_u and of the cost c_u, with work vectors
  struct Regularity {
    double sup_hess_v = 0, sup_grad_u = 0;
  };
  struct Errors {
    double value_sup = 0, value_l2 = 0, control_sup = 0, control_l2 = 0, value_sup_box = 0;
  };
  void init();              // the constructor's work
  void check_memory();      // report the estimated need; -memory_limit
  void release() noexcept;  // destroys every PETSc object (destructor, failed constructor)
  void policy_iteration();
  // V_out <- value of the control gain grad Vprev (u = 0 when Vprev is null), all steps.
  void evaluate_sweep(const std::vector<::Vec>* Vprev, std::vector<::Vec>& Vout, PetscInt* lin_its);
  // Where a per-step sweep (Howard, Cole-Hopf) stands: what a checkpoint must
  // hold, besides V at the steps done and one field (aux), to continue it.
  struct SweepState {
    PetscInt next = -1;  // the next step to compute (nt - 1 at the start)
    double theta_prev = 1;
    bool have_prev = false;
    PetscInt lin_its = 0, howard_its = 0;
    double shift = 0;                                                  // Cole-Hopf: V = beta log phi + shift
    double untrusted = 0, untrusted_region = 0, min_log10_region = 0;  // Cole-Hopf trust counts, this rank
  };
  void howard_sweep(SweepState& st);
  void cole_hopf_sweep(SweepState& st);
  // After each step: checkpoint when due (aux: Howard's last policy, Cole-Hopf's phi)
  // and the next step rebuilds the preconditioner; true when the run is to stop
  // here (-hjb_stop_after).
  bool after_step(const SweepState& st, ::Vec aux);
  void write_checkpoint(const SweepState& st, ::Vec aux);
  void restart_sweep(SweepState* st);
  std::string checkpoint_key() const;
  // Discretization error estimate from companion solves (hjb_estimate.cpp).
  std::string companion_obstacle() const;
  void solve_companions();
  void set_tolerances_from_estimate();
  void report_error_estimate();
  std::pair<double, double> difference_to(const HjbGridSolver& coarse) const;  // sup |dV|, |du| on its mass region  // -restart: state, V and the operator of the last step done
  void cole_hopf_check_trust(double untrusted, double untrusted_region, double min_log10_region);
  // rhs = (I + (1-theta) dt L^{j+1}) V^{j+1} + dt (theta c^j + (1-theta) c^{j+1}) from the
  // operator of step j+1 (op_->Aprev, op_->costprev, theta_prev).
  void build_rhs(::Vec Vnext, double theta, double theta_prev, bool with_cost);
  double theta_at(PetscInt j) const;
  // The step operator, unsplit (op_->A, op_->Aprev, solved by step_) or in
  // Douglas factors (op_->split): assembled at step j (prev: as the step before
  // the next one solved), and the step's solve for V from W = V^{j+1} with the
  // right-hand side op_->rhs (x: the Krylov initial guess, unsplit only).
  void assemble_step(PetscInt j, double theta, ::Vec ctrl, bool prev, ::Vec cost);
  PetscInt solve_step(::Vec W, ::Vec x, double t);
  void swap_steps();  // step j's operator and cost become those of the step before
  void extrapolate(PetscInt j, int points, ::Vec out) const;  // V^j from the later steps (Howard)
  ::Vec drift(PetscInt j);  // reference drift b(t_j, .), computed once (see Operator)  // theta of the step t_{j+1} -> t_j
  void to_local(::Vec global, ::Vec local) const;
  void setup_reference();
  void fp_initial_law(::Vec mu) const;              // Fokker-Planck: the law -fp_init at t = 0
  void fp_compare_with_tilted(::Vec mu, ::Vec w);   // Fokker-Planck: terminal mass, L1 to the tilted law
  Regularity regularity(const std::vector<::Vec>& Vsaved) const;  // fields at the saved steps
  Errors errors(const std::vector<::Vec>& V);                      // fields at all steps
  void record(int k, PetscInt lin_its, double seconds, double change, double value_change, double hjb_res);
  double control_change(const std::vector<::Vec>& Vnew, const std::vector<::Vec>* Vold, double* dv, double* hjb);

  const Problem& p_;
  const Grid& g_;
  HjbOptions o_;
  std::unique_ptr<Operator> op_;
  std::unique_ptr<StepSolver> step_;  // the linear solve of each time step
  ::Vec loc_ = nullptr, loc2_ = nullptr;  // ghosted work vectors
  ::Vec locbox_ = nullptr;                // ghosted, box stencil (Hessians)
  std::vector<::Vec> V_, Vold_;           // value at every time step (current, previous iterate)
  std::vector<::Vec> iterU_;              // improved control of every PI iterate, at the saved steps
  History hist_;
  std::map<std::string, double> summary_;
  std::unique_ptr<ExactSolution> exact_;
  // At each saved step: exact V*, exact u* (dof d), mass weight (sums to 1), region mask.
  std::vector<::Vec> exV_, exU_, weight_, mask_;
  Errors last_errors_;  // of the fields record() measured last
  bool stopped_ = false;
  std::unique_ptr<Grid> companion_grid_[2];  // 2h and 4h (-hjb_tolerance auto)
  std::unique_ptr<HjbGridSolver> companion_[2];
  PetscInt steps_this_run_ = 0;
  bool checkpoint_due_ = false, stop_due_ = false;  // waiting for a step where a restart may resume
  double last_checkpoint_time_ = 0;
};

}  // namespace hjbft
