// The backward eta-sampler keeps the marginals for a non-Gaussian (two-component) 1-D mixture:
//   * Euler-Maruyama simulation written here, with the reference drift of ControlProblem::drift
//     and PretrainedScore::at_tau and diffusion eta g, from the exact p_T to t = T; the samples'
//     mean, variance and mass right of 0 match the data's within Monte Carlo error (5 standard
//     errors) plus a small discretization allowance, for eta in {0, 0.5, 1};
//   * eta = 0 (probability-flow ODE, RK4 with a small step): the flow is monotone in 1-D, so it
//     must carry the quantiles of p_T to the quantiles of p_data; checked with a mixture CDF
//     written here (erfc), independent of the library.
// (The Gaussian-data case, with moment ODEs, is in test_closed_form.cpp.)
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hjbft/model/control_problem.hpp"
#include "test_util.hpp"

using namespace hjbft;
using namespace hjbft::test;

namespace {

struct Mix1 {
  std::vector<double> w, mu, var;
  double cdf(double x) const {
    double c = 0;
    for (std::size_t k = 0; k < w.size(); ++k) c += w[k] * normal_cdf(x, mu[k], var[k]);
    return c;
  }
  double quantile(double u) const {
    double lo = -50, hi = 50;
    for (int i = 0; i < 200; ++i) {
      const double mid = 0.5 * (lo + hi);
      (cdf(mid) < u ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
  }
  double mean() const {
    double m = 0;
    for (std::size_t k = 0; k < w.size(); ++k) m += w[k] * mu[k];
    return m;
  }
  double variance() const {
    const double m = mean();
    double v = 0;
    for (std::size_t k = 0; k < w.size(); ++k) v += w[k] * (var[k] + (mu[k] - m) * (mu[k] - m));
    return v;
  }
  Gmm gmm() const {
    std::vector<GaussianComponent> c;
    for (std::size_t k = 0; k < w.size(); ++k)
      c.push_back({w[k], Vector::Constant(1, mu[k]), Eigen::MatrixXd::Constant(1, 1, var[k])});
    return Gmm(c);
  }
  Mix1 forward(double m, double v) const {
    Mix1 out = *this;
    for (std::size_t k = 0; k < w.size(); ++k) {
      out.mu[k] = m * mu[k];
      out.var[k] = m * m * var[k] + v;
    }
    return out;
  }
};

const Mix1 kData{{0.3, 0.7}, {-2.0, 1.5}, {0.25, 0.6}};

}  // namespace

TEST_CASE("eta-sampler keeps the data law: Euler-Maruyama from p_T (1-D GMM)", "[sampler][mc]") {
  const double eta = GENERATE(0.0, 0.5, 1.0);
  SdeParams sp;  // vp, T = 1, h in [0.1, 20]
  const ForwardSde sde(sp);
  const Gmm data = kData.gmm();
  const PretrainedScore score(sde, data);
  const ControlProblem cp(sde, eta, KlWeight(1.0));
  const double T = sde.T();
  const int N = 8000, nsteps = 400;
  const double dt = T / nsteps;

  std::mt19937_64 rng(2024);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd Y = data.affine_marginal(sde.m(T), sde.v(T)).sample(rng, N);  // exact p_T
  Vector y(1);
  for (int j = 0; j < nsteps; ++j) {
    const double t = j * dt;
    const ScoreAtTime s = score.at_tau(T - t);
    const double sig = eta * std::sqrt(sde.g2(T - t));
    for (int i = 0; i < N; ++i) {
      y[0] = Y(i, 0);
      Y(i, 0) += cp.drift(t, y, s)[0] * dt + sig * std::sqrt(dt) * normal(rng);
    }
  }
  const SampleMoments sm = sample_moments(Y);
  const double frac_pos = (Y.array() > 0).cast<double>().mean();
  const double p_pos = 1 - kData.cdf(0.0);
  const double se_frac = std::sqrt(p_pos * (1 - p_pos) / N);
  // Discretization allowance for the weak error of Euler(-Maruyama) at 400 steps: measured once with
  // N = 1e5 samples (standard errors 0.0055 in the mean, 0.0015 in the mass), the biases in mean and
  // variance were within 0.01 and in the mass within 0.0015, for eta = 0, 0.5 and 1.  For scale: a
  // diffusion 10% too large shifts the variance by about 0.3 at N = 8000, and the 5-sigma band is ~0.1.
  const double disc = 0.01;
  INFO("eta = " << eta << " mean " << sm.mean[0] << " (data " << kData.mean() << ", se " << sm.mean_se[0] << ")"
                << " var " << sm.cov(0, 0) << " (data " << kData.variance() << ", se " << sm.cov_se(0, 0) << ")"
                << " P(Y>0) " << frac_pos << " (data " << p_pos << ", se " << se_frac << ")");
  CHECK(std::abs(sm.mean[0] - kData.mean()) <= 5 * sm.mean_se[0] + disc);
  CHECK(std::abs(sm.cov(0, 0) - kData.variance()) <= 5 * sm.cov_se(0, 0) + disc);
  CHECK(std::abs(frac_pos - p_pos) <= 5 * se_frac + 0.002);
}

TEST_CASE("eta = 0: the probability-flow ODE carries quantiles of p_T to quantiles of p_data", "[sampler]") {
  SdeParams sp;
  const ForwardSde sde(sp);
  const Gmm data = kData.gmm();
  const PretrainedScore score(sde, data);
  const ControlProblem cp(sde, 0.0, KlWeight(1.0));
  const double T = sde.T();
  const Mix1 pT = kData.forward(sde.m(T), sde.v(T));
  const int N = 200, nsteps = 800;
  const double dt = T / nsteps;
  std::vector<double> u(N), Y(N);
  for (int i = 0; i < N; ++i) {
    u[i] = (i + 0.5) / N;
    Y[i] = pT.quantile(u[i]);
  }
  Vector y(1);
  for (int j = 0; j < nsteps; ++j) {
    const double t = j * dt;
    const ScoreAtTime s0 = score.at_tau(T - t), sh = score.at_tau(T - t - 0.5 * dt), s1 = score.at_tau(T - t - dt);
    auto F = [&](double tt, double yy, const ScoreAtTime& s) {
      y[0] = yy;
      return cp.drift(tt, y, s)[0];
    };
    for (int i = 0; i < N; ++i) {
      const double k1 = F(t, Y[i], s0);
      const double k2 = F(t + 0.5 * dt, Y[i] + 0.5 * dt * k1, sh);
      const double k3 = F(t + 0.5 * dt, Y[i] + 0.5 * dt * k2, sh);
      const double k4 = F(t + dt, Y[i] + dt * k3, s1);
      Y[i] += dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6;
    }
  }
  double worst = 0;
  for (int i = 0; i < N; ++i) worst = std::max(worst, std::abs(kData.cdf(Y[i]) - u[i]));
  INFO("max |F_data(Y_T) - u| = " << worst);
  CHECK(worst <= 1e-5);
  for (int i = 1; i < N; ++i) CHECK(Y[i] > Y[i - 1]);  // the flow is monotone
}
