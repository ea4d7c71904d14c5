// Policy-gradient estimators against the exact derivative of the discretized
// objective (include/hjbft/solvers/pg.hpp, docs/policy_gradient.md).
//
// Gaussian data (one component), linear reward r = w x, constant score shift
// u = theta e: the K-step Euler-Maruyama chain is affine in (Y, theta), so
// J(theta) follows from the mean recursion without sampling and is quadratic
// in theta: its central difference is the exact dJ/dtheta.  Each estimator's
// batch mean must lie within 4 standard errors of it.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>

#include "hjbft/simulation/sampler.hpp"
#include "hjbft/solvers/pg.hpp"
#include "pg_test_problems.hpp"

using namespace hjbft;
using hjbft::pgtest::gaussian_linear;
using hjbft::pgtest::initial;

namespace {

double exact_derivative(const Problem& p, const std::vector<double>& times, double theta) {
  const double h = 0.1;
  const Vector e = Vector::Ones(p.dim), m0 = Vector::Zero(p.dim);
  const double jp = affine_chain_objective(p, times, ConstantShiftPolicy(e, theta + h), m0);
  const double jm = affine_chain_objective(p, times, ConstantShiftPolicy(e, theta - h), m0);
  return (jp - jm) / (2 * h);  // exact: J is quadratic in theta
}

struct Stat {
  double mean, se;
};
Stat stat(const PgGradient& g) {
  const Eigen::ArrayXd x = g.per_path.row(0).transpose().array();
  const double m = x.mean();
  const double var = (x - m).square().sum() / static_cast<double>(x.size() - 1);
  return {m, std::sqrt(var / static_cast<double>(x.size()))};
}

}  // namespace

TEST_CASE("affine chain: the backward value recursion and the forward mean recursion agree", "[pg]") {
  for (double eta : {1.0, 0.5, 0.0}) {
    const Problem p = gaussian_linear(eta);
    const auto times = uniform_times(p.T(), 20);
    ConstantShiftPolicy u(Vector::Ones(1), 0.3);
    AffineChainValue V(p, times, u);
    const double J = affine_chain_objective(p, times, u, Vector::Zero(1));
    CHECK(V.objective_at(Vector::Zero(1)) == Approx(J).epsilon(1e-12));
    // Sampled paths: the sample mean of the return is J within 4 standard errors.
    SimulatedPaths P;
    simulate_pg_paths(p, u, times, initial(p, 20000, 5), 3, 0, P);
    const Eigen::ArrayXd R = P.returns().array();
    const double se = std::sqrt((R - R.mean()).square().sum() / (R.size() - 1.0) / R.size());
    CHECK(std::abs(R.mean() - J) < 4 * se + 1e-12);
  }
}

TEST_CASE("policy-gradient estimators are unbiased for the discretized objective", "[pg]") {
  const double theta = 0.3;
  const long n = 40000;
  for (double eta : {1.0, 0.5, 0.0}) {
    const Problem p = gaussian_linear(eta);
    const auto times = uniform_times(p.T(), 20);
    ConstantShiftPolicy u(Vector::Ones(1), theta);
    AffineChainValue V(p, times, u);
    SimulatedPaths P;
    simulate_pg_paths(p, u, times, initial(p, n, 17), 1, 0, P);
    const double exact = exact_derivative(p, times, theta);
    // The part of dJ/dtheta from the cost's direct dependence on theta: dropping it is a bias.
    double cost_term = 0;
    for (size_t i = 0; i + 1 < times.size(); ++i) {
      const ControlCoefficients c = p.control.coefficients(times[i]);
      cost_term += c.beta * c.Lambda * theta * (times[i + 1] - times[i]);
    }
    struct Case {
      const char* name;
      PgEstimatorOptions o;
    };
    std::vector<Case> cases;
    if (eta > 0) {
      cases.push_back({"lr (DDPO-style)", {PgEstimator::lr, false, 0.0, true}});
      cases.push_back({"lr causal, baseline", {PgEstimator::lr, true, 0.7, true}});
      cases.push_back({"td (exact value)", {PgEstimator::td, false, 0.0, true}});
    }
    cases.push_back({"pathwise (exact value)", {PgEstimator::pathwise, false, 0.0, true}});
    for (const auto& c : cases) {
      const PgGradient g = estimate_gradient(p, u, P, &V, c.o);
      const Stat s = stat(g);
      INFO("eta " << eta << " " << c.name << ": mean " << s.mean << " +- " << s.se << ", exact " << exact);
      CHECK(g.mean[0] == Approx(s.mean).epsilon(1e-10));
      CHECK(std::abs(s.mean - exact) <= 4 * s.se + 1e-10 * std::abs(exact));
      // The check can fail: without the direct cost term the estimate is biased.
      CHECK(std::abs(s.mean + cost_term - exact) > 4 * s.se + 1e-10 * std::abs(exact));
    }
    if (eta == 0) {
      CHECK_THROWS_AS(estimate_gradient(p, u, P, &V, {PgEstimator::lr}), std::invalid_argument);
      CHECK_THROWS_AS(estimate_gradient(p, u, P, &V, {PgEstimator::td}), std::invalid_argument);
    }
    CHECK_THROWS_AS(estimate_gradient(p, u, P, nullptr, {PgEstimator::pathwise}), std::invalid_argument);
  }
}

TEST_CASE("advantage rate: zero on the policy, maximal at the PI-FT improvement, the one-step advantage", "[pg]") {
  for (double eta : {1.0, 0.5, 0.0}) {
    const Problem p = gaussian_linear(eta);
    const auto times = uniform_times(p.T(), 20);
    const double theta = 0.3;
    ConstantShiftPolicy pi(Vector::Ones(1), theta);
    AffineChainValue V(p, times, pi);
    const int i = 7;
    const double t = times[i], dt = times[i + 1] - t;
    const ControlCoefficients c = p.control.coefficients(t);
    Matrix y(1, 1);
    y(0, 0) = 0.4;
    Matrix Yn(1, 1), gV;
    V.gradient(i + 1, times[i + 1], Yn, gV);
    const Vector upi = Vector::Constant(1, theta), g = gV.col(0);
    CHECK(advantage_rate(c, g, upi, upi) == 0.0);
    const Vector ustar = c.gain() * g;
    const double qstar = advantage_rate(c, g, ustar, upi);
    CHECK(qstar > 0);
    for (double du : {-0.1, 0.1}) CHECK(advantage_rate(c, g, ustar + Vector::Constant(1, du), upi) < qstar);
    // One step of the chain with action u, then the policy: the expected TD advantage
    // E[V_{i+1}(Y_{i+1})] - c_i(u) - V_i(y) (V linear: the expectation is V at the mean).
    Matrix S;
    batch_score(p.score.at_tau(p.T() - t), p.score.error(), y, S);
    const Matrix b = p.control.drift_linear(t) * y + p.control.drift_score_factor(t) * S;
    for (double uu : {-0.5, 0.3, 1.2}) {
      const Vector uv = Vector::Constant(1, uu);
      Vector Vn, Vi;
      V.value(i + 1, times[i + 1], y + (b + c.B * uv) * dt, Vn);
      V.value(i, t, y, Vi);
      const double A = Vn[0] - c.cost_rate(uu * uu) * dt - Vi[0];
      CHECK(A == Approx(advantage_rate(c, g, uv, upi) * dt).margin(1e-12));
    }
  }
}

// Hidden: the variance table of validation/run_pg_validation.py (pg_tests "[.table]").
TEST_CASE("variance table over step counts", "[.table]") {
  const double theta = 0.3;
  const long n = 20000;
  std::printf("TABLE eta K estimator exact mean se std\n");
  for (double eta : {1.0, 0.5, 0.0}) {
    const Problem p = gaussian_linear(eta);
    for (int K : {10, 20, 40, 80, 160}) {
      const auto times = uniform_times(p.T(), K);
      ConstantShiftPolicy u(Vector::Ones(1), theta);
      AffineChainValue V(p, times, u);
      SimulatedPaths P;
      simulate_pg_paths(p, u, times, initial(p, n, 100 + K), 1000 + K, 0, P);
      const double exact = exact_derivative(p, times, theta);
      std::vector<std::pair<std::string, PgEstimatorOptions>> cases;
      if (eta > 0) {
        cases.push_back({"lr", {PgEstimator::lr, false, 0.0, true}});
        cases.push_back({"lr_causal", {PgEstimator::lr, true, 0.0, true}});
        cases.push_back({"td", {PgEstimator::td, false, 0.0, true}});
      }
      cases.push_back({"pathwise", {PgEstimator::pathwise, false, 0.0, true}});
      for (const auto& [name, o] : cases) {
        const Stat s = stat(estimate_gradient(p, u, P, &V, o));
        std::printf("TABLE %g %d %s %.10g %.10g %.6g %.6g\n", eta, K, name.c_str(), exact, s.mean, s.se,
                    s.se * std::sqrt(static_cast<double>(n)));
      }
    }
  }
}
