// Step 1 of neural PI-FT: paths under the current control network.
//
// Continuous: Euler-Maruyama for dY = [b + B u] dt + Sigma dW (DESIGN.md
// section 3), cost beta/2 Lambda |u|^2 dt per step (left point).
// Discrete: the DDPM chain Y' = a Y + b (s + u) + sigma Z (section 5), cost
// beta_t b^2/(2 sigma^2) |u|^2 per step.
// Path j (a global id) draws all its noise from its own stream, seeded from
// (seed, outer iteration, id): results do not depend on the rank count.
#include <cmath>
#include <random>
#include <vector>

#include "hjbft/ddpm.hpp"
#include "pift_internal.hpp"

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

void NeuralPiftSolver::simulate(int k, Paths& P) const {
  const int d = p_.dim, N = static_cast<int>(times_.size()) - 1;
  const long n = local_paths_;
  const std::uint64_t seed = o_.seed + 1000003ULL * static_cast<std::uint64_t>(k + 1);
  InitialSampler init(comm_, p_, init_law_from_string(o_.init), ref_, seed, o_.paths);
  P.Y.assign(N + 1, Matrix());
  P.Y[0] = init.sample(first_path_, n).transpose();

  // Noise, path by path from the path's own stream.
  const std::vector<Matrix> xi = path_noise(seed, first_path_, n, N, d);

  if (o_.mode == "discrete") {
    P.cost.setZero(N, n);
    DdpmChain chain(p_, N);
    Matrix S, U;
    for (int i = 0; i < N; ++i) {
      const Matrix& Y = P.Y[i];
      fields_->control(times_[i], Y, U);
      const DdpmStep& st = chain.step(i);
      batch_score(p_.score.at_tau(st.tau), p_.score.error(), Y, S);
      P.Y[i + 1] = st.a * Y + st.b * (S + U) + st.sigma * xi[i];
      P.cost.row(i) = st.beta * st.kl_coef() * U.colwise().squaredNorm();
    }
  } else {
    euler_maruyama_paths(
        p_, times_, [this](double t, const Matrix& Y, Matrix& U) { fields_->control(t, Y, U); }, xi, P.Y, P.cost);
  }
  P.reward.resize(n);
  for (long j = 0; j < n; ++j) P.reward[j] = p_.reward->value(P.Y[N].col(j));
  Matrix X(d, n * (N + 1));
  std::vector<double> t(X.cols());
  for (int i = 0; i <= N; ++i) {
    X.middleCols(i * n, n) = P.Y[i];
    std::fill(t.begin() + i * n, t.begin() + (i + 1) * n, times_[i]);
  }
  fields_->inputs(t, X, P.In);
}

}  // namespace hjbft
