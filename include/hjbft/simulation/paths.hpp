#pragma once
// Batches of simulated paths of the controlled eta-sampler (DESIGN.md
// section 3), with the noise that drove them: what the fine-tuning solvers
// (neural PI-FT, policy gradient) learn from.
//
// Euler-Maruyama, left point:
//   Y[i+1] = Y[i] + (b + B u) dt + Sigma sqrt(dt) xi[i],   cost(i, j) = beta/2 Lambda |u|^2 dt.
// Path j (a global id) draws its noise from its own stream path_stream(seed, id, 7),
// so results do not depend on the rank count.
#include <cstdint>
#include <functional>
#include <vector>

#include "hjbft/core/linalg.hpp"
#include "hjbft/model/problem.hpp"

namespace hjbft {

// One batch of this rank's paths: states Y[i] (d x n) at times t_0 = 0 < ... < t_N,
// the standardized noise xi[i] (i < N) that drove them, the controls U[i] (i < N;
// empty unless the simulation was asked for them), the running cost of each step
// (N x n; KL-weighted for the discrete chain) and the terminal reward.
struct SimulatedPaths {
  std::vector<double> times;
  std::vector<Matrix> Y, U, xi;
  Matrix cost;
  Vector reward;
  int nsteps() const { return static_cast<int>(Y.size()) - 1; }
  long n() const { return Y.empty() ? 0 : static_cast<long>(Y[0].cols()); }
  Vector returns() const { return reward - cost.colwise().sum().transpose(); }  // r(Y_N) - sum_i c_i
};

// u(t, Y) for a batch of points (columns of Y).
using BatchControl = std::function<void(double t, const Matrix& Y, Matrix& U)>;

// Standard normal noise xi[i] (d x n) of paths first_id..first_id+n-1, each
// from its own stream path_stream(seed, id, 7) (independent of the rank count).
std::vector<Matrix> path_noise(std::uint64_t seed, long first_id, long n, int nsteps, int d);

// Euler-Maruyama on the controlled eta-sampler.  Y[0] (d x n) must be set; Y
// gets times.size() entries; U, when not null, receives the controls u(t_i, Y[i]).
void euler_maruyama_paths(const Problem& p, const std::vector<double>& times, const BatchControl& u,
                          const std::vector<Matrix>& xi, std::vector<Matrix>& Y, Matrix& cost,
                          std::vector<Matrix>* U = nullptr);

// Uniform grid of K steps on [0, T].
std::vector<double> uniform_times(double T, int K);

}  // namespace hjbft
