// Simulated paths of the controlled eta-sampler (see paths.hpp).
#include "hjbft/simulation/paths.hpp"

#include <cmath>
#include <random>

#include "hjbft/simulation/sampler.hpp"  // path_stream

namespace hjbft {

std::vector<Matrix> path_noise(std::uint64_t seed, long first_id, long n, int nsteps, int d) {
  std::vector<Matrix> xi(nsteps, Matrix(d, n));
  for (long j = 0; j < n; ++j) {
    auto rng = path_stream(seed, static_cast<std::uint64_t>(first_id + j), 7);
    std::normal_distribution<double> normal;
    for (int i = 0; i < nsteps; ++i)
      for (int a = 0; a < d; ++a) xi[i](a, j) = normal(rng);
  }
  return xi;
}

void euler_maruyama_paths(const Problem& p, const std::vector<double>& times, const BatchControl& u,
                          const std::vector<Matrix>& xi, std::vector<Matrix>& Y, Matrix& cost,
                          std::vector<Matrix>* U) {
  const int N = static_cast<int>(times.size()) - 1;
  const long n = Y[0].cols();
  Y.resize(N + 1);
  cost.setZero(N, n);
  if (U) U->assign(N, Matrix());
  Matrix S, Ui;
  for (int i = 0; i < N; ++i) {
    const double t = times[i], dt = times[i + 1] - times[i];
    const Matrix& Yi = Y[i];
    u(t, Yi, Ui);
    const ControlCoefficients c = p.control.coefficients(t);
    batch_score(p.score.at_tau(p.T() - t), p.score.error(), Yi, S);
    Y[i + 1] = Yi + (p.control.drift_linear(t) * Yi + p.control.drift_score_factor(t) * S + c.B * Ui) * dt +
               (c.Sigma * std::sqrt(dt)) * xi[i];
    cost.row(i) = (0.5 * c.beta * c.Lambda * dt) * Ui.colwise().squaredNorm();
    if (U) (*U)[i] = Ui;
  }
}

std::vector<double> uniform_times(double T, int K) {
  std::vector<double> t(K + 1);
  for (int i = 0; i <= K; ++i) t[i] = T * i / K;
  return t;
}

}  // namespace hjbft
