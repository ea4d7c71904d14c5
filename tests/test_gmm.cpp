// Gaussian mixtures and forward marginals (DESIGN.md section 2).
//   * score = finite differences of log_density (1-D, 2-D full covariance, 3-D), also far out;
//   * log_density equals a direct evaluation of sum_k pi_k N(x; mu_k, S_k) and integrates to 1;
//   * affine_marginal (law of m X0 + sqrt(v) Z) against Monte Carlo and against 1-D convolution quadrature;
//   * Tweedie's mean E[X0 | X_tau = y] against quadrature of the posterior.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <random>

#include "hjbft/model/gmm.hpp"
#include "hjbft/model/score.hpp"
#include "test_util.hpp"

using namespace hjbft;
using namespace hjbft::test;

namespace {


Gmm gmm1() { return Gmm({{0.3, vec({-2.0}), mat(1, {0.25})}, {0.7, vec({1.5}), mat(1, {0.6})}}); }
Gmm gmm2() {
  return Gmm({{0.2, vec({-1.0, 0.5}), mat(2, {0.5, 0.3, 0.3, 0.4})},
              {0.5, vec({1.5, -1.0}), mat(2, {1.0, -0.6, -0.6, 0.9})},
              {0.3, vec({0.0, 2.0}), mat(2, {0.2, 0.0, 0.0, 0.3})}});
}
Gmm gmm3() {
  return Gmm({{0.6, vec({1.0, 0.0, -1.0}), mat(3, {1.0, 0.2, 0.1, 0.2, 0.8, -0.3, 0.1, -0.3, 0.6})},
              {0.4, vec({-1.0, 1.0, 0.5}), mat(3, {0.3, 0.0, 0.0, 0.0, 0.5, 0.1, 0.0, 0.1, 0.4})}});
}

// sum_k pi_k N(x; mu_k, S_k), straight from the definition (no log space, no Cholesky).
double direct_density(const Gmm& g, const Vector& x) {
  double p = 0;
  const int d = g.dim();
  for (int k = 0; k < g.size(); ++k) {
    const auto& c = g.component(k);
    const Vector r = x - c.mean;
    p += c.weight * std::exp(-0.5 * r.dot(c.cov.inverse() * r)) /
         std::sqrt(std::pow(2 * std::numbers::pi, d) * c.cov.determinant());
  }
  return p;
}

}  // namespace

TEST_CASE("GMM: log_density equals the direct mixture formula", "[gmm]") {
  for (const Gmm& g : {gmm1(), gmm2(), gmm3()}) {
    std::mt19937_64 rng(7);
    const Matrix X = g.sample(rng, 20);
    for (int i = 0; i < X.rows(); ++i) {
      const Vector x = X.row(i).transpose();
      CHECK(g.log_density(x) == Approx(std::log(direct_density(g, x))).epsilon(1e-12).margin(1e-12));
    }
  }
}

TEST_CASE("GMM: 1-D density integrates to one", "[gmm]") {
  const Gmm g = gmm1();
  const double Z = simpson([&](double x) { return std::exp(g.log_density(vec({x}))); }, -12, 12, 4000);
  CHECK(Z == Approx(1.0).epsilon(1e-10));
}

TEST_CASE("GMM: score equals finite differences of log_density", "[gmm]") {
  int which = GENERATE(1, 2, 3);
  const Gmm g = which == 1 ? gmm1() : which == 2 ? gmm2() : gmm3();
  INFO("dimension " << g.dim());
  std::mt19937_64 rng(11);
  Matrix X = g.sample(rng, 15);
  auto logp = [&](const Vector& x) { return g.log_density(x); };
  for (int i = 0; i < X.rows(); ++i) {
    const Vector x = X.row(i).transpose();
    const Vector s = g.score(x);
    const Vector fd = fd_gradient(logp, x, 1e-5);
    INFO("x = " << x.transpose() << " score = " << s.transpose() << " fd = " << fd.transpose());
    CHECK((s - fd).norm() <= 1e-6 * (1 + s.norm()));
  }
}

TEST_CASE("GMM: far out (x = 1e3) log-density and score stay finite and exact", "[gmm]") {
  int which = GENERATE(1, 2, 3);
  const Gmm g = which == 1 ? gmm1() : which == 2 ? gmm2() : gmm3();
  INFO("dimension " << g.dim());
  Vector x = Vector::Constant(g.dim(), 1e3);
  x[0] = -1e3;
  // The naive density underflows to 0 here: log space is required.
  CHECK(direct_density(g, x) == 0.0);
  const double lp = g.log_density(x);
  REQUIRE(std::isfinite(lp));
  const Vector s = g.score(x);
  REQUIRE(s.allFinite());
  // Far out the responsibilities are one-hot; compare with the component that dominates.
  Eigen::VectorXd a(g.size());
  for (int k = 0; k < g.size(); ++k) {
    const auto& c = g.component(k);
    const Vector r = x - c.mean;
    a[k] = std::log(c.weight) - 0.5 * r.dot(c.cov.inverse() * r) -
           0.5 * std::log(std::pow(2 * std::numbers::pi, g.dim()) * c.cov.determinant());
  }
  int kmax;
  a.maxCoeff(&kmax);
  CHECK(lp == Approx(a[kmax]).epsilon(1e-12));
  const auto& c = g.component(kmax);
  const Vector s_exact = -c.cov.inverse() * (x - c.mean);
  CHECK((s - s_exact).norm() <= 1e-9 * s_exact.norm());
  // and the finite differences of log p agree at this scale too
  const Vector fd = fd_gradient([&](const Vector& y) { return g.log_density(y); }, x, 1e-3);
  CHECK((s - fd).norm() <= 1e-6 * s.norm());
}

TEST_CASE("GMM: forward marginal moments match Monte Carlo of m X0 + sqrt(v) Z", "[gmm][mc]") {
  int which = GENERATE(1, 2, 3);
  const Gmm g = which == 1 ? gmm1() : which == 2 ? gmm2() : gmm3();
  const double m = 0.6, v = 0.45;
  INFO("dimension " << g.dim());
  const Gmm marg = g.affine_marginal(m, v);
  std::mt19937_64 rng(12345);
  const int n = 200000;
  Matrix X = g.sample(rng, n);
  std::normal_distribution<double> normal;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < g.dim(); ++j) X(i, j) = m * X(i, j) + std::sqrt(v) * normal(rng);
  const SampleMoments s = sample_moments(X);
  const Vector mu = marg.mean();
  const Matrix S = marg.covariance();
  INFO("MC mean " << s.mean.transpose() << " closed form " << mu.transpose());
  INFO("MC cov\n" << s.cov << "\nclosed form\n" << S);
  for (int i = 0; i < g.dim(); ++i) {
    CHECK(std::abs(s.mean[i] - mu[i]) <= 5 * s.mean_se[i]);
    for (int j = 0; j < g.dim(); ++j) CHECK(std::abs(s.cov(i, j) - S(i, j)) <= 5 * s.cov_se(i, j));
  }
  // The component structure itself: N(m mu_k, m^2 S_k + v I) with the same weights.
  for (int k = 0; k < g.size(); ++k) {
    CHECK(marg.component(k).weight == g.component(k).weight);
    CHECK((marg.component(k).mean - m * g.component(k).mean).norm() <= 1e-15);
    const Matrix Sk = m * m * g.component(k).cov + v * Matrix::Identity(g.dim(), g.dim());
    CHECK((marg.component(k).cov - Sk).norm() <= 1e-14);
  }
}

TEST_CASE("GMM: 1-D forward marginal density equals the convolution integral", "[gmm]") {
  const Gmm g = gmm1();
  const double m = 0.8, v = 0.3;
  const Gmm marg = g.affine_marginal(m, v);
  for (double y : {-3.0, -1.0, 0.2, 1.4, 3.5}) {
    // p_tau(y) = int p0(x) N(y; m x, v) dx
    const double p = simpson([&](double x) { return std::exp(g.log_density(vec({x}))) * normal_pdf(y, m * x, v); },
                             -15, 15, 6000);
    CHECK(marg.log_density(vec({y})) == Approx(std::log(p)).epsilon(1e-10));
  }
}

TEST_CASE("Score: Tweedie mean and exact score against posterior quadrature (1-D)", "[gmm][score]") {
  const Gmm g = gmm1();
  SdeParams sp;
  sp.family = SdeFamily::vp;
  const ForwardSde sde(sp);
  const PretrainedScore score(sde, g);
  REQUIRE(score.exact());
  for (double tau : {0.05, 0.3, 0.8}) {
    const ScoreAtTime s = score.at_tau(tau);
    const double m = sde.m(tau), v = sde.v(tau);
    for (double y : {-1.5, 0.0, 0.7, 2.0}) {
      auto post = [&](double x) { return std::exp(g.log_density(vec({x}))) * normal_pdf(y, m * x, v); };
      const double Z = simpson(post, -15, 15, 8000);
      const double EX = simpson([&](double x) { return x * post(x); }, -15, 15, 8000) / Z;
      // d/dy log p_tau(y) = int p0(x) N'(y; m x, v) dx / p_tau = (m E[X0|y] - y) / v
      INFO("tau = " << tau << " y = " << y);
      CHECK(s.tweedie_mean(vec({y}))[0] == Approx(EX).epsilon(1e-9).margin(1e-10));
      CHECK(s.exact(vec({y}))[0] == Approx((m * EX - y) / v).epsilon(1e-8).margin(1e-9));
      CHECK(s(vec({y}))[0] == s.exact(vec({y}))[0]);
    }
  }
}

TEST_CASE("Score: the known error field is added to the exact score", "[score]") {
  const Gmm g = gmm2();
  const ForwardSde sde(SdeParams{});
  const ScoreError err{0.3, 2.0};
  const PretrainedScore score(sde, g, err);
  CHECK_FALSE(score.exact());
  const ScoreAtTime s = score.at_tau(0.4);
  const Vector x = vec({0.3, -1.2});
  const Vector e = s(x) - s.exact(x);
  CHECK(e[0] == Approx(0.3 * std::sin(0.6)).epsilon(1e-14));
  CHECK(e[1] == Approx(0.3 * std::sin(-2.4)).epsilon(1e-14));
}

TEST_CASE("GMM: invalid mixtures raise InputError naming the option", "[gmm][input]") {
  CHECK(option_of([] { Gmm({{0.5, vec({0.0}), mat(1, {1.0})}, {0.6, vec({1.0}), mat(1, {1.0})}}); }) ==
        "-target_weights");
  CHECK(option_of([] { Gmm({{1.5, vec({0.0}), mat(1, {1.0})}, {-0.5, vec({1.0}), mat(1, {1.0})}}); }) ==
        "-target_weights");
  CHECK(option_of([] { Gmm({{1.0, vec({0.0, 0.0}), mat(2, {1.0, 2.0, 2.0, 1.0})}}); }) == "-target_vars");
  CHECK(option_of([] { Gmm({{0.5, vec({0.0}), mat(1, {1.0})}, {0.5, vec({1.0, 2.0}), mat(2, {1, 0, 0, 1})}}); }) ==
        "-target_means");
}
