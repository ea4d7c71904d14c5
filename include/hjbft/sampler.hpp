#pragma once
// Sampling the reference and fine-tuned models (issue 4): the controlled
// eta-sampler of DESIGN.md sections 2-3,
//
//     dY = [ b(t,Y) + B(t) u(t,Y) ] dt + Sigma(t) dW,   t in [0, T],
//
// integrated with Boost.Odeint for batches of paths, together with the
// running cost  int_0^T beta(t)/2 Lambda(t) |u|^2 dt  along each path (for
// eta > 0 exactly beta times the path KL to the reference, by Girsanov).
//
// * Schemes: eta = 0: dopri5 (adaptive, error controlled) or rk4 (fixed
//   step); any eta: em (Euler-Maruyama) or heun (stochastic Heun, weak order
//   2 for the additive noise we have: Sigma depends on t only).  The SDE
//   steppers follow odeint's stochastic stepper pattern (do_step on a pair
//   (deterministic part, noise)).
// * Reproducibility: path i (a global index) draws its initial state and its
//   Brownian increments from its own stream, seeded from (seed, i), so results
//   do not depend on batch size, thread count or MPI rank count.
// * Points are stored as rows (n x d) at the interface, as columns (d x n)
//   inside the batch integrator.
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "hjbft/exact_solution.hpp"
#include "hjbft/problem.hpp"

namespace hjbft {

// ---------------------------------------------------------------- scores
// s_pre(Y) = exact score of s.marginal() + err, for every column of Y (d x n),
// into S (d x n), vectorized over the batch (equals s(y) column by column).
void batch_score(const ScoreAtTime& s, const ScoreError& err, const Matrix& Y, Matrix& S);

// ---------------------------------------------------------------- controls
// u(t, y) for batches of points.  `outside[j]` is set to 1 (never cleared)
// when column j lies outside the domain where the source is defined (a grid
// box): the control is then evaluated at the clamped point and the caller
// counts and reports such paths.
class ControlSource {
public:
  virtual ~ControlSource() = default;
  virtual void eval(double t, const Matrix& Y, Matrix& U, std::vector<char>& outside) const = 0;
  // V(t, y) for every column when the source knows the value (exact, grid with
  // /value); returns false when it does not.
  virtual bool value(double t, const Matrix& Y, Vector& V, std::vector<char>& outside) const;
  // Hint: the times at which eval will be called (fixed-step schemes).
  virtual void prepare(const std::vector<double>& /*times*/) const {}
  virtual std::string name() const = 0;
  virtual bool zero() const { return false; }
};

// "none" | "exact" | "grid:FILE.h5" | "neural:FILE.h5" (the networks of an
// hjbft neural result).  Throws InputError("-control", ...).
std::unique_ptr<ControlSource> make_control_source(const Problem& p, const std::string& spec);
std::unique_ptr<ControlSource> make_zero_control(int dim);
std::unique_ptr<ControlSource> make_exact_control(const Problem& p);
std::unique_ptr<ControlSource> make_grid_control(const Problem& p, const std::string& file);
std::unique_ptr<ControlSource> make_neural_control(const Problem& p, const std::string& file);  // solvers/neural/

// Multilinear (space) x linear (time) interpolation of a field file in the
// layout of DESIGN.md section 6.  Public for tests and other solvers.
class GridField {
public:
  // Reads /grid/x*, /time, /control (and /value when present).  Throws
  // InputError(option, ...) when the file is missing, not in the layout, or
  // its dimension differs from `dim`.
  GridField(const std::string& file, int dim, const std::string& option = "-control");
  int dim() const { return d_; }
  double lo(int a) const { return lo_[a]; }
  double hi(int a) const { return hi_[a]; }
  int n(int a) const { return n_[a]; }
  const std::vector<double>& times() const { return time_; }
  bool has_value() const { return !value_.empty(); }
  // Returns false when y is outside the box (the field is then evaluated at the clamped point).
  bool control(double t, const Vector& y, Vector& u) const;
  bool value(double t, const Vector& y, double& V) const;

private:
  struct Stencil {
    int j0, j1;
    double wt;                 // weight of time slice j1
    long base[8];              // flat spatial indices of the 2^d corners
    double w[8];
    int ncorner;
    bool inside;
  };
  Stencil stencil(double t, const Vector& y) const;
  int d_;
  std::vector<int> n_;
  std::vector<double> lo_, hi_;
  std::vector<double> time_;
  std::vector<double> control_, value_;
  long nspace_ = 1;
};

// ---------------------------------------------------------------- samplers
enum class SamplerScheme { em, heun, rk4, dopri5 };
SamplerScheme sampler_scheme_from_string(const std::string& s);  // InputError("-sampler")
std::string to_string(SamplerScheme s);

struct SamplerSettings {
  SamplerScheme scheme = SamplerScheme::heun;
  int nsteps = 200;            // uniform grid on [0, t_end] (unless `times` is given)
  std::string time_grid = "uniform";  // uniform | quadratic (steps shrink towards t = T)
  std::vector<double> times;   // user-given grid: ascending, times[0] = 0 (overrides nsteps)
  double t_end = -1;           // < 0: T
  double atol = 1e-6, rtol = 1e-6;  // dopri5
  int batch = 256;             // paths integrated together
  std::uint64_t seed = 1;
};

struct PathResults {
  Matrix y0;                   // n x d initial states
  Matrix yT;                   // n x d states at t_end
  Vector cost;                 // n: int beta/2 Lambda |u|^2 dt
  std::vector<char> outside;   // n: 1 when the path left the control's domain
  long steps = 0;              // accepted steps per path (largest over batches)
  long rhs_evals = 0;          // drift evaluations (batch-wise), summed over batches
};

class Sampler {
public:
  // Throws InputError("-sampler") for rk4/dopri5 with eta > 0, ("-nsteps") for
  // a bad step count, ("-batch") for a bad batch size.
  Sampler(const Problem& p, const ControlSource& u, SamplerSettings s);
  // Integrates rows of y0; row i is the global path first_id + i (its noise stream).
  PathResults integrate(const Matrix& y0, std::uint64_t first_id) const;
  const std::vector<double>& time_grid() const { return times_; }
  const SamplerSettings& settings() const { return s_; }

private:
  const Problem& p_;
  const ControlSource& u_;
  SamplerSettings s_;
  std::vector<double> times_;
};

// Per-path random stream: (seed, path id, purpose tag) -> generator.
std::mt19937_64 path_stream(std::uint64_t seed, std::uint64_t path_id, std::uint64_t tag);

// ---------------------------------------------------------------- initial laws
enum class InitLaw { gaussian, exact, tilted };
InitLaw init_law_from_string(const std::string& s);  // InputError("-init")
std::string to_string(InitLaw l);

// Draws initial states of paths [first_id, first_id + n) out of a total of
// n_total paths.  gaussian: N(0, v(T) I); exact: p_T = data pushed forward to
// tau = T; tilted: p_T(y) e^{V(0,y)/beta} / Z, exact (a GMM: the tilted data
// law pushed forward to tau = T) when eta = 1 with the GMM closed form, else
// by importance resampling of a pool of p_T samples with V(0, .) from `value`
// (closed form or grid).  The pool is the same on every rank (and its V is
// evaluated in parallel), so results do not depend on the rank count.
class InitialSampler {
public:
  InitialSampler(MPI_Comm comm, const Problem& p, InitLaw law, const ControlSource* value_source,
                 std::uint64_t seed, long n_total, int pool_factor = 20);
  Matrix sample(long first_id, long n) const;
  InitLaw law() const { return law_; }
  std::string method() const { return method_; }
  double ess_fraction() const { return ess_; }  // importance resampling: ESS / pool size (1 otherwise)

private:
  const Problem& p_;
  InitLaw law_;
  std::uint64_t seed_;
  Gmm direct_;           // gaussian, exact, exact tilted
  Matrix resampled_;     // importance resampling: n_total x d
  std::string method_;
  double ess_ = 1.0;
};

// ---------------------------------------------------------------- statistics
double ks_distance_1d(const Vector& x, const Gmm& law);
// Energy distance 2 E|X-Y| - E|X-X'| - E|Y-Y'| (rows are points; U-statistics).
double energy_distance(const Matrix& X, const Matrix& Y);

struct LawComparison {
  Vector sample_mean, law_mean;
  Matrix sample_cov, law_cov;
  double mean_error = 0;        // |sample mean - law mean|
  double mean_error_sigmas = 0; // mean error / (MC standard error of the mean)
  double cov_error = 0;         // Frobenius norm
  Vector mode_weights;          // fraction of samples assigned to each component (largest responsibility)
  Vector law_weights;           // the law's component weights
  Vector law_assigned;          // fraction of exact samples of the law assigned the same way
  double mode_weight_error = 0; // max |mode_weights - law_assigned|
  double energy = 0;            // energy distance to exact samples of the law
  double energy_null = 0;       // the same between two independent exact sample sets (MC noise scale)
  double ks = -1;               // 1-D only
};
// Compares samples (rows) with a GMM; energy distance on at most energy_n points of each.
LawComparison compare_with_law(const Matrix& samples, const Gmm& law, std::uint64_t seed, int energy_n = 2000);

}  // namespace hjbft
