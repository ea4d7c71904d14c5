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

#include "hjbft/model/problem.hpp"
#include "hjbft/simulation/control_source.hpp"

namespace hjbft {

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

}  // namespace hjbft
