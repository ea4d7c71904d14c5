#pragma once
// Discrete-time ground truth: the Bellman recursion of the DDPM-type chain
// (DESIGN.md section 5, include/hjbft/model/ddpm.hpp) solved on a grid, in 1-D and 2-D.
//
//   V_K = r,
//   V_t(y) = max_u { -c_t/2 |u|^2 + E V_{t+1}(a_t y + b_t (s_t(y) + u) + sigma_t Z) },  Z ~ N(0, I_d),
//
// where u = U - s is the fine-tuning control (the deviation of the action U
// from the pre-trained score s_t = s_pre(tau_k, .)) and c_t = beta_t b_t^2 / sigma_t^2.
//
// * V_{t+1} between grid points: the not-a-knot cubic spline (1-D) or the
//   tensor-product (bicubic) not-a-knot spline (2-D) of its grid values; grad
//   and Hessian from the spline.  Outside the box the spline's end-cell
//   polynomial is continued (cubic extrapolation), which is exact for cubic
//   polynomials; the box must hold the mass (the default box, +-6 reference
//   standard deviations, does; errors are measured on the 99.9%-mass region).
// * Expectations over Z (-bellman_expectation): in 1-D by default exactly, as
//   the Gaussian integral of the piecewise cubic (truncated normal moments per
//   cell), so that the only error is the spline's (fourth order); otherwise
//   (2-D, or -bellman_expectation quadrature) by tensor Gauss-Hermite quadrature
//   with n nodes per axis (-bellman_quad), nodes and weights by Golub-Welsch.
// * optimum (-bellman_method optimum): per step and grid point, the
//   first-order condition  F(u) = c u - b E grad V_{t+1}(mu + b u + sigma Z) = 0,
//   mu = a y + b s_t(y), by Newton's method with the Jacobian
//   c I - b^2 E Hess V_{t+1} (a gradient step, u <- sigma^2/(beta b) E grad V_{t+1},
//   where that Jacobian is not positive definite), with backtracking on the
//   objective, warm-started from u_{t+1}(y), until the step is < -bellman_tol.
//   Where the objective is not certified concave (concavity margin <= 0: some
//   step has (sigma^2/beta) sup Hess V_{t+1} >= 1 on the mass region of Y_{t+1}),
//   every point is also solved from u = 0 and the larger local maximum is kept.
// * pi (-bellman_method pi): the exact PI-FT iteration from u^0 = 0 (the
//   pre-trained model): evaluation
//     V^m_t(y) = -c_t/2 |u^m_t(y)|^2 + E V^m_{t+1}(mu + b u^m_t(y) + sigma Z),
//   improvement  u^{m+1}_t(y) = sigma^2/(beta b) E grad V^m_{t+1}(mu + b u^m_t(y) + sigma Z),
//   both in one backward sweep, measured per iteration against the optimum.
//   Near the optimum its error contracts by the spectral radius of
//   (sigma_t^2/beta_t) E Hess V*_{t+1} (a fixed-point step, not Newton), reported
//   by the optimum as pi_rate_predicted; it is O(1/K), and PI diverges where it exceeds 1.
//
// Parallelism: the grid values are small, so every rank holds the whole field.
// The per-point work of each step is split into contiguous blocks of the
// natural (x0-fastest) ordering and all-gathered after every step; every point
// is computed by the same code on the same data on any number of ranks, so the
// results are identical (bitwise) for any rank count.  The DMDA of the Grid is
// used for the output only.
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "hjbft/analysis/history.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/grid/grid.hpp"
#include "hjbft/model/ddpm.hpp"

namespace hjbft {

// Gauss-Hermite rule for the standard normal: E f(Z) ~ sum_i w_i f(x_i),
// weights summing to 1; exact for polynomials of degree <= 2n - 1.
struct GaussHermite {
  std::vector<double> x, w;
};
GaussHermite gauss_hermite(int n);  // Golub-Welsch; n in [1, 200]

// Not-a-knot cubic spline (d = 1) or tensor-product not-a-knot bicubic spline
// (d = 2) of values on a uniform vertex grid (x0 fastest), with value,
// gradient and Hessian anywhere; outside the box the end cell's polynomial is
// continued.  Reproduces polynomials of degree <= 3 in each variable exactly.
class SplineField {
public:
  SplineField() = default;
  // n[a] >= 4 points on [lo[a], lo[a] + (n[a]-1) h[a]]; unused axes ignored.
  SplineField(int d, std::array<double, 2> lo, std::array<double, 2> h, std::array<int, 2> n);
  void fit(const double* f);  // f: n0 (* n1) values, x0 fastest
  double value(const double* x) const;
  // f, grad (d values), Hessian (1-D: [f_xx]; 2-D: [f_xx, f_xy, f_yy]); any pointer may be null.
  void eval(const double* x, double* f, double* grad, double* hess) const;
  // 1-D: E S(m + sigma Z) and the same of S', S'' (each may be null) for Z ~ N(0, 1), exactly
  // (the Gaussian integral of the piecewise cubic, including the continued end cells).
  void gauss_expect(double m, double sigma, double* E, double* G, double* H) const;
  int dim() const { return d_; }

private:
  struct Tridiagonal {  // not-a-knot slope system of one axis, LU-factored once
    std::vector<double> diag_inv, upper;
    int n = 0;
    void factor(int n);
    // slopes m from values f with stride (in and out)
    void solve(const double* f, std::ptrdiff_t stride, double h, double* m, std::ptrdiff_t mstride) const;
  };
  int d_ = 1;
  std::array<double, 2> lo_{0, 0}, h_{1, 1};
  std::array<int, 2> n_{1, 1};
  std::array<Tridiagonal, 2> tri_;
  std::vector<double> coef_;  // per cell: 4 (1-D) or 16 (2-D) power-basis coefficients in the cell's local coordinates
  std::vector<double> fx_, fy_, fxy_;  // work
};

struct BellmanOptions {
  PetscInt K = 100;                 // -ddpm_steps
  std::string method = "optimum";   // -bellman_method optimum | pi
  std::string expectation = "auto"; // -bellman_expectation auto | exact (1-D) | quadrature
  PetscInt quad = 12;               // -bellman_quad: Gauss-Hermite nodes per axis
  double tol = 1e-10;               // -bellman_tol: per-point control tolerance of the optimum
  PetscInt max_it = 100;            // -bellman_max_it: per-point iterations of the optimum
  PetscInt pi_max = 30;             // -bellman_pi_max
  double pi_tol = 1e-8;             // -bellman_pi_tol: stop when sup |u^{m+1} - u^m| < tol
  double mass = 0.999;              // -error_mass
  bool monitor = true;              // -bellman_monitor
};

PetscErrorCode ReadBellmanOptions(MPI_Comm comm, BellmanOptions* o);
// Throws InputError naming the option (also -dim for d = 3, -eta for eta != 1).
void validate_bellman_options(const Problem& p, const BellmanOptions& o);

class BellmanGridSolver {
public:
  // grid.nt() must equal o.K (grid time step j = chain step t).  Throws InputError.
  BellmanGridSolver(const Problem& problem, const Grid& grid, const BellmanOptions& o);

  void solve();
  const DdpmChain& chain() const { return chain_; }
  int K() const { return chain_.K(); }
  std::size_t n_points() const { return N_; }

  // Final fields (optimum, or the last PI iterate u^M with its value V^M) at a
  // saved step (index into grid.saved_steps()), whole grid, natural ordering.
  const std::vector<double>& value(int saved) const { return outV_[saved]; }
  const std::vector<double>& control(int saved) const { return outU_[saved]; }  // N * d
  // The discrete optimum at a saved step (both methods).
  const std::vector<double>& optimal_value(int saved) const { return optV_[saved]; }
  const std::vector<double>& optimal_control(int saved) const { return optU_[saved]; }
  // Mass weights (sum 1) and the 99.9%-region mask at a saved step.
  const std::vector<double>& mass_weight(int saved) const { return weight_[saved]; }
  const std::vector<char>& mass_region(int saved) const { return mask_[saved]; }
  // Copy a whole-grid field (natural ordering, dof values per point) into a DMDA vector.
  void to_vec(const std::vector<double>& field, int dof, ::Vec v) const;

  const History& history() const { return hist_; }
  const std::map<std::string, double>& summary() const { return summary_; }
  const ExactSolution* continuous() const { return exact_.get(); }

private:
  using Fields = std::vector<std::vector<double>>;  // one field per step
  struct Errors {
    double value_sup = 0, value_l2 = 0, control_sup = 0, control_l2 = 0;
  };
  struct OptimumSweep;  // the optimum's backward sweep: fields, work, summary (bellman_grid.cpp)
  void optimum();
  void optimum_step(int t, SplineField& S, OptimumSweep& sw);
  double concavity_margin(const SplineField& S, double gb, const std::vector<char>& region_next) const;
  long optimum_points(const DdpmStep& st, const SplineField& S, double margin_t, OptimumSweep& sw,
                      double* bad_du) const;
  void throw_unless_converged(int t, long bad, double bad_du) const;  // collective
  void report_optimum(const OptimumSweep& sw, double t_start);
  void policy_iteration();
  double control_change(const Fields& u, const Fields& unew) const;
  double value_change(const Fields& V, const Fields& Vprev) const;
  void record_pi_iteration(int m, double du, double dv, const Errors& e, double J, double wall);
  void throw_if_diverged(int m, double du, double J);
  void report_pi(int iterations, bool converged, double J, const Errors& e);
  // One backward sweep of PI: evaluates u (all steps; null = 0) into V (saved
  // steps) and writes the improved control into unew (all steps).
  void pi_sweep(const std::vector<std::vector<double>>* u, std::vector<std::vector<double>>& unew,
                std::vector<std::vector<double>>& Vsaved, std::vector<std::vector<double>>& Vall, double* J);
  void mean_at_points(int t, std::vector<double>& mu) const;  // a y + b s_t(y), owned block
  void terminal(std::vector<double>& V, std::vector<double>& U) const;
  void gather(std::vector<double>& field, int dof) const;  // owned blocks -> every rank
  double objective(const SplineField& V0) const;          // E V_0(Y_0), Y_0 ~ N(0, v(T) I)
  void reference_law(double tau, std::vector<double>& w, std::vector<char>& region) const;
  void setup_reference();
  Errors errors(const std::vector<std::vector<double>>& V, const std::vector<std::vector<double>>& U,
                const std::vector<std::vector<double>>& Vref, const std::vector<std::vector<double>>& Uref) const;
  void compare_with_continuous();

  const Problem& p_;
  const Grid& g_;
  BellmanOptions o_;
  DdpmChain chain_;
  int d_;
  std::size_t N_;
  std::size_t own_lo_ = 0, own_hi_ = 0;       // this rank's block of points
  std::vector<int> counts_, displs_;           // blocks of every rank (points)
  std::vector<double> X_;                      // coordinates, N * d
  std::array<double, 2> lo_{0, 0}, h_{1, 1};
  std::array<int, 2> n_{1, 1};
  std::vector<double> zx_, zw_;                // tensor quadrature: nodes (nq * d) and weights
  bool exact_expectation_ = false;             // 1-D: exact Gaussian integrals of the spline
  std::vector<std::vector<double>> optV_, optU_, outV_, outU_;  // at the saved steps
  std::vector<std::vector<double>> weight_;
  std::vector<std::vector<char>> mask_;
  std::unique_ptr<ExactSolution> exact_;
  double J_opt_ = 0;
  History hist_;
  std::map<std::string, double> summary_;
};

}  // namespace hjbft
