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

#include "hjbft/model/ddpm.hpp"
#include "pift_internal.hpp"

namespace hjbft {

void NeuralPiftSolver::simulate(int k, Paths& P) const {
  const int d = p_.dim, N = static_cast<int>(times_.size()) - 1;
  const long n = local_paths_;
  const std::uint64_t seed = o_.seed + 1000003ULL * static_cast<std::uint64_t>(k + 1);
  InitialSampler init(comm_, p_, init_law_from_string(o_.init), ref_, seed, o_.paths);
  P.times = times_;
  P.Y.assign(N + 1, Matrix());
  P.Y[0] = init.sample(first_path_, n).transpose();

  // Noise, path by path from the path's own stream.
  P.xi = path_noise(seed, first_path_, n, N, d);
  const std::vector<Matrix>& xi = P.xi;

  if (o_.mode == "discrete") {
    P.cost.setZero(N, n);
    DdpmChain chain(p_, N);
    Matrix S;
    P.U.assign(N, Matrix());
    for (int i = 0; i < N; ++i) {
      const Matrix& Y = P.Y[i];
      Matrix& U = P.U[i];
      fields_->control(times_[i], Y, U);
      const DdpmStep& st = chain.step(i);
      batch_score(p_.score.at_tau(st.tau), p_.score.error(), Y, S);
      P.Y[i + 1] = st.a * Y + st.b * (S + U) + st.sigma * xi[i];
      P.cost.row(i) = st.beta * st.kl_coef() * U.colwise().squaredNorm();
    }
  } else {
    euler_maruyama_paths(
        p_, times_, [this](double t, const Matrix& Y, Matrix& U) { fields_->control(t, Y, U); }, xi, P.Y, P.cost,
        &P.U);
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
