// Update rules of the policy gradient (solvers/pg/pg_update.cpp): the
// surrogate L, its PPO clipping, the chain's path KL and Fisher matrix, and
// the three updates -- each against something computed independently:
//
// * at the generating policy L = 0 and grad L = n x the estimator (exact identity);
// * grad L against central differences of L away from the generating policy;
// * the transition ratio against the ratio of the Gaussian transition densities
//   written out here, and E[rho] = 1 under the generating policy;
// * the path KL against the closed form for a constant shift, and the Fisher
//   product against second differences of the KL;
// * adam, ppo and trust_region on the constant shift u = theta e (Gaussian data,
//   linear reward, exact chain value) converge to the maximizer of the chain's
//   J(theta), which the mean recursion gives without sampling.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hjbft/simulation/sampler.hpp"
#include "hjbft/solvers/pg.hpp"
#include "pg_test_problems.hpp"

using namespace hjbft;
using hjbft::pgtest::gaussian_linear;
using hjbft::pgtest::initial;

namespace {

Problem problem(double eta, int dim = 1) {
  ProblemOptions o;
  o.dim = dim;
  o.weights = {0.5, 0.5};
  o.means = dim == 1 ? std::vector<double>{-1.0, 1.0} : std::vector<double>{-1.0, 0.5, 1.0, -0.5};
  o.vars = {0.3, 0.3};
  o.reward = "linear";
  o.reward_vector = dim == 1 ? std::vector<double>{1.0} : std::vector<double>{1.0, -0.5};
  o.beta = 1.0;
  o.eta = eta;
  o.sde_params.h_max = 8;
  return build_problem(o);
}

Vector random_vector(int n, std::uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Vector v(n);
  for (int i = 0; i < n; ++i) v[i] = scale * normal(rng);
  return v;
}

// Small networks with random parameters (the control is not zero, so the cost terms matter).
struct Nets {
  NeuralOptions o;
  std::unique_ptr<NeuralFields> f;
  Nets(const Problem& p, std::uint64_t seed) {
    o.value_hidden = {6, 6};
    o.control_hidden = {5, 5};
    f = std::make_unique<NeuralFields>(p, o);
    f->control_net().params() = random_vector(f->control_net().n_params(), seed, 0.4);
    f->value_net().params() = random_vector(f->value_net().n_params(), seed + 1, 0.4);
  }
};

double rel(const Vector& a, const Vector& b) { return (a - b).norm() / std::max(1e-300, b.norm()); }

std::vector<PgEstimatorOptions> all_estimators(bool kl_case) {
  std::vector<PgEstimatorOptions> v;
  PgEstimatorOptions o;
  o.kind = PgEstimator::pathwise;
  v.push_back(o);
  if (!kl_case) return v;
  o.kind = PgEstimator::td;
  v.push_back(o);
  o.kind = PgEstimator::lr;
  o.baseline = 0.3;
  v.push_back(o);
  o.causal = true;
  v.push_back(o);
  return v;
}

}  // namespace

TEST_CASE("surrogate at the generating policy: zero, no KL, gradient = n x the estimator", "[pg][update]") {
  for (int dim : {1, 2})
    for (double eta : {1.0, 0.5, 0.0}) {
      const Problem p = problem(eta, dim);
      Nets nets(p, 7);
      NeuralControlPolicy policy(*nets.f);
      const NeuralValue V(*nets.f);
      SimulatedPaths P;
      simulate_pg_paths(p, policy, uniform_times(p.T(), 12), initial(p, 300, 3), 5, 0, P);
      for (const PgEstimatorOptions& eo : all_estimators(p.control.kl_case())) {
        INFO("dim " << dim << " eta " << eta << " estimator " << to_string(eo.kind) << (eo.causal ? " causal" : ""));
        for (double clip : {0.0, 0.2}) {
          PgSurrogate s = make_surrogate(p, P, &V, eo);
          s.clip = clip;
          Vector g = Vector::Zero(policy.n_params());
          const SurrogateSums sums = evaluate_surrogate(p, policy, P, s, &g);
          CHECK(std::abs(sums.value) < 1e-12);
          CHECK(sums.kl < 1e-20);  // rounding only: GEMM blocking may differ from the simulation's
          CHECK(sums.clipped == 0.0);
          const PgGradient est = estimate_gradient(p, policy, P, &V, eo);
          CHECK(rel(g, static_cast<double>(P.n()) * est.mean) < 1e-12);
        }
      }
    }
}

TEST_CASE("surrogate gradient matches central differences away from the generating policy", "[pg][update]") {
  for (double eta : {1.0, 0.0}) {
    const Problem p = problem(eta, 2);
    Nets nets(p, 11);
    NeuralControlPolicy policy(*nets.f);
    const NeuralValue V(*nets.f);
    SimulatedPaths P;
    simulate_pg_paths(p, policy, uniform_times(p.T(), 10), initial(p, 200, 4), 6, 0, P);
    const Vector theta_old = policy.params();
    for (const PgEstimatorOptions& eo : all_estimators(p.control.kl_case()))
      for (double clip : {0.0, 0.2}) {
        INFO("eta " << eta << " estimator " << to_string(eo.kind) << " clip " << clip);
        PgSurrogate s = make_surrogate(p, P, &V, eo);
        s.clip = clip;
        const Vector theta = theta_old + random_vector(policy.n_params(), 12, 0.05);
        const Vector v = random_vector(policy.n_params(), 13, 1.0);
        policy.params() = theta;
        Vector g = Vector::Zero(policy.n_params());
        const SurrogateSums at = evaluate_surrogate(p, policy, P, s, &g);
        if (clip > 0 && eo.kind != PgEstimator::pathwise) CHECK(at.clipped > 0);  // the clipped branch is exercised
        const double h = 1e-6;
        policy.params() = theta + h * v;
        const double Lp = evaluate_surrogate(p, policy, P, s, nullptr).value;
        policy.params() = theta - h * v;
        const double Lm = evaluate_surrogate(p, policy, P, s, nullptr).value;
        policy.params() = theta_old;
        CHECK(std::abs((Lp - Lm) / (2 * h) - g.dot(v)) < 1e-5 * (1 + std::abs(g.dot(v))));
      }
  }
}

TEST_CASE("transition ratio = ratio of the Gaussian transition densities, and E rho = 1", "[pg][update]") {
  for (double eta : {1.0, 0.5}) {
    const Problem p = gaussian_linear(eta);
    const auto times = uniform_times(p.T(), 15);
    ConstantShiftPolicy u(Vector::Ones(1), 0.3);
    const AffineChainValue V(p, times, u);
    SimulatedPaths P;
    simulate_pg_paths(p, u, times, initial(p, 4000, 8), 9, 0, P);
    PgEstimatorOptions eo;
    eo.kind = PgEstimator::td;
    const PgSurrogate s = make_surrogate(p, P, &V, eo);
    const double theta = 0.55;
    // Independent: log N(y'; m_new, S^2 dt) - log N(y'; m_old, S^2 dt), m_new = m_old + B (theta - 0.3) dt.
    double expected = 0, rho_sum = 0, rho_sq = 0;
    const int K = P.nsteps();
    for (int i = 0; i < K; ++i) {
      const double t = times[i], dt = times[i + 1] - t;
      const ControlCoefficients c = p.control.coefficients(t);
      for (long j = 0; j < P.n(); ++j) {
        const double y = P.Y[i](0, j), y1 = P.Y[i + 1](0, j);
        const double m_old = y1 - c.Sigma * std::sqrt(dt) * P.xi[i](0, j);  // the mean that produced y1
        const double m_new = m_old + c.B * (theta - 0.3) * dt;
        const double var = c.Sigma * c.Sigma * dt;
        const double rho = std::exp(-((y1 - m_new) * (y1 - m_new) - (y1 - m_old) * (y1 - m_old)) / (2 * var));
        const double dcost = 0.5 * c.beta * c.Lambda * dt * (theta * theta - 0.09);
        expected += (rho - 1) * s.adv(i, j) - dcost;
        rho_sum += rho;
        rho_sq += rho * rho;
        (void)y;
      }
    }
    ConstantShiftPolicy moved(Vector::Ones(1), theta);
    const SurrogateSums sums = evaluate_surrogate(p, moved, P, s, nullptr);
    CHECK(sums.value == Approx(expected).epsilon(1e-10));
    const double n = static_cast<double>(P.n()) * K;
    const double mean = rho_sum / n, se = std::sqrt((rho_sq / n - mean * mean) / n);
    CHECK(std::abs(mean - 1) < 4 * se);
  }
}

TEST_CASE("path KL of the chain and its Fisher matrix", "[pg][update]") {
  SECTION("constant shift: kl = n sum_i Lambda_i dt_i dtheta^2 / 2, F = n sum_i Lambda_i dt_i") {
    for (double eta : {1.0, 0.5, 0.0}) {
      const Problem p = gaussian_linear(eta);
      const auto times = uniform_times(p.T(), 20);
      ConstantShiftPolicy u(Vector::Ones(1), 0.3);
      SimulatedPaths P;
      simulate_pg_paths(p, u, times, initial(p, 50, 2), 3, 0, P);
      double lam = 0;
      for (int i = 0; i < 20; ++i) lam += p.control.coefficients(times[i]).Lambda * (times[i + 1] - times[i]);
      PgSurrogate s;
      s.score_form = false;
      s.dir.assign(20, Matrix::Zero(1, 50));
      ConstantShiftPolicy moved(Vector::Ones(1), 0.7);
      CHECK(evaluate_surrogate(p, moved, P, s, nullptr).kl == Approx(50 * lam * 0.16 / 2).epsilon(1e-12));
      Vector Fv = Vector::Zero(1);
      fisher_vector_product(p, u, P, Vector::Constant(1, 2.0), Fv);
      CHECK(Fv[0] == Approx(50 * lam * 2.0).epsilon(1e-12));
    }
  }
  SECTION("network: v^T F v = (kl(theta + h v) + kl(theta - h v)) / h^2 + O(h^2)") {
    const Problem p = problem(1.0, 2);
    Nets nets(p, 21);
    NeuralControlPolicy policy(*nets.f);
    SimulatedPaths P;
    simulate_pg_paths(p, policy, uniform_times(p.T(), 10), initial(p, 100, 2), 3, 0, P);
    PgSurrogate s;
    s.score_form = false;
    s.dir.assign(10, Matrix::Zero(2, 100));
    const Vector theta = policy.params(), v = random_vector(policy.n_params(), 22, 1.0);
    Vector Fv = Vector::Zero(policy.n_params());
    fisher_vector_product(p, policy, P, v, Fv);
    const double h = 1e-4;
    policy.params() = theta + h * v;
    const double kp = evaluate_surrogate(p, policy, P, s, nullptr).kl;
    policy.params() = theta - h * v;
    const double km = evaluate_surrogate(p, policy, P, s, nullptr).kl;
    policy.params() = theta;
    CHECK(v.dot(Fv) == Approx((kp + km) / (h * h)).epsilon(1e-6));
    CHECK(v.dot(Fv) > 0);
  }
}

TEST_CASE("adam, ppo and trust_region converge to the chain's optimal constant shift", "[pg][update]") {
  // J(theta) is quadratic for the constant shift: its maximizer from three exact values.
  for (double eta : {1.0, 0.0}) {
    const Problem p = gaussian_linear(eta, 8, 3.0);
    const auto times = uniform_times(p.T(), 20);
    const Vector e = Vector::Ones(1), m0 = Vector::Zero(1);
    auto J = [&](double th) { return affine_chain_objective(p, times, ConstantShiftPolicy(e, th), m0); };
    const double theta_star = -(J(1) - J(-1)) / 2 / (J(1) - 2 * J(0) + J(-1));
    REQUIRE(std::abs(theta_star) > 0.3);  // far enough from the start theta = 0 for the test to mean something
    for (PgMethod method : {PgMethod::adam, PgMethod::ppo, PgMethod::trust_region}) {
      if (method == PgMethod::ppo && eta == 0) continue;  // no transition ratio for the ODE
      INFO("eta " << eta << " method " << to_string(method) << " theta* " << theta_star);
      ConstantShiftPolicy u(e, 0.0);
      nn::AdamOptions ao;
      ao.lr = 0.05;
      nn::Adam adam(1, ao);
      PgUpdateOptions uo;
      uo.method = method;
      uo.ppo_epochs = 5;
      uo.kl_max = 0.02;
      double max_kl = 0;
      for (int k = 0; k < 60; ++k) {
        SimulatedPaths P;
        simulate_pg_paths(p, u, times, initial(p, 1000, 100 + k), 200 + k, 0, P);
        const AffineChainValue V(p, times, u);  // the exact value of the current policy
        PgEstimatorOptions eo;
        eo.kind = eta > 0 ? PgEstimator::td : PgEstimator::pathwise;
        PgSurrogate s = make_surrogate(p, P, &V, eo);
        s.clip = method == PgMethod::ppo ? 0.2 : 0.0;
        const PgUpdateReport rep = pg_update(MPI_COMM_SELF, P.n(), p, u, P, s, adam, uo);
        max_kl = std::max(max_kl, rep.step_kl);
        // Far from theta* the full or a halved step is accepted; near it the line search may
        // reject a step whose quadratic-model size overshoots (no update is then right).
        if (method == PgMethod::trust_region && k < 5) CHECK(rep.step_fraction > 0);
      }
      // Noise floor: the td gradient's SE per iteration is ~1e-2 at 1000 paths; Adam's
      // steps (lr 0.05) and the KL-bounded steps leave |theta - theta*| ~ a few 1e-2.
      CHECK(std::abs(u.params()[0] - theta_star) < 0.05);
      if (method == PgMethod::trust_region) CHECK(max_kl <= uo.kl_max);
    }
  }
}
