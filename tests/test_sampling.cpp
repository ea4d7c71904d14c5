// The sampler of issue 4 (src/simulation/sampler.cpp, include/hjbft/simulation/sampler.hpp):
//  * the vectorized score equals ScoreAtTime point by point;
//  * reference model (no control) from the exact p_T reproduces p_data's
//    moments for eta in {0, 0.5, 1}; Gaussian data: the moments at t = T/2 and
//    T equal GaussianRiccati::sampler_moments (moment ODEs, independent code);
//  * fine-tuned with the exact control, 1-D Gaussian data, linear reward,
//    eta = 1, a reference with memory (vp, h_max = 2): the terminal mean and
//    variance equal the prediction of DESIGN.md section 4 for each initial law
//    (N(0, v(T)), exact p_T: biased; value-tilted: the tilted law itself);
//  * verification theorem: for the optimal control, E[r(Y_T) - cost] = E V(0, Y_0)
//    (eta = 1, 0.5 in mean; eta = 0 path by path with dopri5);
//  * grid control read from a file in the common layout (written here with
//    FieldWriter from the closed form) agrees with the exact control;
//  * importance-resampled value-tilted initial law has the analytic moments;
//  * reproducibility independent of batch size and of the split of paths;
//  * bad input names the option.
#include <petscsys.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>

#include "hjbft/analysis/law_distance.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/grid/grid.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/io/grid_field.hpp"
#include "hjbft/simulation/sampler.hpp"
#include "hjbft/solvers/sample.hpp"
#include "test_util.hpp"

using namespace hjbft;
using hjbft::test::option_of;

namespace {

struct Spec {
  int d = 1;
  double eta = 1;
  std::vector<double> w{0.5, 0.5}, means{-2, 2}, vars{0.25};
  std::string reward = "linear";
  std::vector<double> rvec{1.0};
  double beta = 1;
  double hmax = 20;
  double err_amp = 0;
};

Problem make(const Spec& s) {
  ProblemOptions o;
  o.dim = s.d;
  o.eta = s.eta;
  o.weights = s.w;
  o.means = s.means;
  o.vars = s.vars;
  o.reward = s.reward;
  o.reward_vector = s.rvec;
  o.beta = s.beta;
  o.sde_params.h_max = s.hmax;
  o.score_error.amp = s.err_amp;
  o.score_error.freq = 1.3;
  return build_problem(o);
}

double mean(const Vector& x) { return x.mean(); }
double var(const Vector& x) { return (x.array() - x.mean()).square().sum() / (x.size() - 1); }
double se_mean(const Vector& x) { return std::sqrt(var(x) / x.size()); }
// standard error of the sample variance: sqrt(Var((x - mean)^2) / n)
double se_var(const Vector& x) {
  const Vector c2 = (x.array() - x.mean()).square().matrix();
  return std::sqrt(var(c2) / x.size());
}

}  // namespace

TEST_CASE("batch_score equals ScoreAtTime column by column (with a score error field)", "[sampling]") {
  Spec s;
  s.d = 2;
  s.means = {-1, 0.5, 1.5, -1};
  s.vars = {0.3, 0.6};
  s.rvec = {1, 0};
  s.err_amp = 0.2;
  const Problem p = make(s);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n01;
  for (double tau : {0.0, 0.01, 0.3, 1.0}) {
    const ScoreAtTime st = p.score.at_tau(tau);
    Matrix Y(2, 50), S;
    for (int j = 0; j < 50; ++j) Y.col(j) << 3 * n01(rng), 3 * n01(rng);
    Y.col(0) << 40, -30;  // far out: log-sum-exp must stay finite
    batch_score(st, p.score.error(), Y, S);
    for (int j = 0; j < 50; ++j) {
      const Vector ref = st(Y.col(j));
      CHECK((S.col(j) - ref).norm() <= 1e-10 * (1 + ref.norm()));
    }
  }
}

TEST_CASE("reference sampler from exact p_T reproduces p_data for eta 0, 0.5, 1", "[sampling]") {
  for (double eta : {0.0, 0.5, 1.0}) {
    Spec s;
    s.eta = eta;
    const Problem p = make(s);
    const auto u = make_zero_control(1);
    SamplerSettings ss;
    ss.scheme = eta > 0 ? SamplerScheme::heun : SamplerScheme::rk4;
    ss.nsteps = 100;
    ss.seed = 11;
    const Sampler smp(p, *u, ss);
    const long N = 3000;
    const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::exact, nullptr, ss.seed, N);
    const PathResults r = smp.integrate(init.sample(0, N), 0);
    const Vector x = r.yT.col(0);
    INFO("eta = " << eta << ": mean " << mean(x) << " var " << var(x));
    // p_data: 0.5 N(-2, .25) + 0.5 N(2, .25): mean 0, variance 4.25, half the mass right of 0
    CHECK(std::abs(mean(x)) <= 4 * se_mean(x) + 0.02);
    CHECK(std::abs(var(x) - 4.25) <= 4 * se_var(x) + 0.05);
    const double right = (x.array() > 0).cast<double>().mean();
    CHECK(std::abs(right - 0.5) <= 4 * std::sqrt(0.25 / N) + 0.01);
    CHECK(r.cost.cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("Gaussian data: sampler moments at T/2 and T match GaussianRiccati::sampler_moments", "[sampling]") {
  for (double eta : {0.0, 0.5}) {
    Spec s;
    s.d = 2;
    s.eta = eta;
    s.w = {1};
    s.means = {0.7, -0.4};
    s.vars = {0.3};
    s.rvec = {1, 1};
    const Problem p = make(s);
    const GaussianRiccati ric(p.data(), p.control, *p.reward);
    const auto u = make_zero_control(2);
    for (double frac : {0.5, 1.0}) {
      SamplerSettings ss;
      ss.scheme = eta > 0 ? SamplerScheme::heun : SamplerScheme::dopri5;
      ss.nsteps = 100;
      ss.t_end = frac * p.T();
      ss.seed = 5;
      const Sampler smp(p, *u, ss);
      const long N = 4000;
      const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::exact, nullptr, ss.seed, N);
      const PathResults r = smp.integrate(init.sample(0, N), 0);
      const auto [m, C] = ric.sampler_moments(ss.t_end);
      for (int a = 0; a < 2; ++a) {
        const Vector x = r.yT.col(a);
        INFO("eta " << eta << " t " << ss.t_end << " axis " << a << ": mean " << mean(x) << " vs " << m[a] << ", var "
                    << var(x) << " vs " << C(a, a));
        CHECK(std::abs(mean(x) - m[a]) <= 4 * se_mean(x) + 0.01);
        CHECK(std::abs(var(x) - C(a, a)) <= 4 * se_var(x) + 0.01 * C(a, a));
      }
    }
  }
}

TEST_CASE("fine-tuned sampler: terminal law for each initial law (initial-value bias)", "[sampling]") {
  // 1-D Gaussian data N(mu, S), linear reward b x, eta = 1, vp with h_max = 2
  // (m(T)^2 = 0.35: the reference remembers Y_0).  Under u*, given Y_0 = y,
  // Y_T ~ N(C (mu/S + m y / v + b/beta), C) with C = (1/S + m^2/v)^{-1}, so
  // E Y_T = C (mu/S + m E y0 / v + b/beta), Var Y_T = C + (C m / v)^2 Var y0.
  Spec s;
  s.w = {1};
  s.means = {0.5};
  s.vars = {0.5};
  s.rvec = {1};
  s.hmax = 2;
  const Problem p = make(s);
  const double mu = 0.5, S = 0.5, b = 1, beta = 1;
  const double m = p.sde.m(p.T()), v = p.sde.v(p.T());
  const double C = 1 / (1 / S + m * m / v);
  const auto u = make_exact_control(p);
  SamplerSettings ss;
  ss.scheme = SamplerScheme::heun;
  ss.nsteps = 100;
  ss.seed = 21;
  const Sampler smp(p, *u, ss);
  const long N = 4000;
  struct Case {
    InitLaw law;
    double Ey0, Vy0;
  };
  const double tilted_mean = mu + S * b / beta;
  for (const Case c : {Case{InitLaw::gaussian, 0.0, v}, Case{InitLaw::exact, m * mu, m * m * S + v},
                       Case{InitLaw::tilted, m * tilted_mean, m * m * S + v}}) {
    const InitialSampler init(PETSC_COMM_SELF, p, c.law, u.get(), ss.seed, N);
    const PathResults r = smp.integrate(init.sample(0, N), 0);
    const Vector x = r.yT.col(0);
    const double pm = C * (mu / S + m * c.Ey0 / v + b / beta);
    const double pv = C + std::pow(C * m / v, 2) * c.Vy0;
    INFO(to_string(c.law) << ": mean " << mean(x) << " predicted " << pm << " (tilted " << tilted_mean << "), var "
                          << var(x) << " predicted " << pv);
    CHECK(std::abs(mean(x) - pm) <= 4 * se_mean(x) + 0.005);
    CHECK(std::abs(var(x) - pv) <= 4 * se_var(x) + 0.01);
    if (c.law == InitLaw::tilted) CHECK(std::abs(pm - tilted_mean) < 1e-12);
    else CHECK(std::abs(mean(x) - tilted_mean) > 8 * se_mean(x));  // the bias is really there
  }
}

TEST_CASE("optimal control: E[r(Y_T) - cost] = E V(0, Y_0) (verification theorem)", "[sampling]") {
  SECTION("Gaussian data, eta = 1 and 0.5, in mean") {
    for (double eta : {1.0, 0.5}) {
      Spec s;
      s.eta = eta;
      s.w = {1};
      s.means = {0.5};
      s.vars = {0.5};
      s.hmax = 2;
      s.beta = 0.5;
      const Problem p = make(s);
      const auto u = make_exact_control(p);
      SamplerSettings ss;
      ss.nsteps = 200;
      const Sampler smp(p, *u, ss);
      const long N = 4000;
      const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::gaussian, nullptr, ss.seed, N);
      const PathResults r = smp.integrate(init.sample(0, N), 0);
      Vector V0, g(N);
      std::vector<char> out(N, 0);
      REQUIRE(u->value(0.0, r.y0.transpose(), V0, out));
      for (long i = 0; i < N; ++i) g[i] = p.reward->value(r.yT.row(i).transpose()) - r.cost[i] - V0[i];
      INFO("eta " << eta << ": E[r - cost - V0] = " << mean(g) << " +- " << se_mean(g) << ", mean cost "
                  << r.cost.mean());
      CHECK(std::abs(mean(g)) <= 4 * se_mean(g) + 0.005);
      CHECK(r.cost.mean() > 0.1);  // the identity is not trivially 0 = 0
    }
  }
  SECTION("Gaussian data, eta = 0 (ODE): path by path with dopri5") {
    Spec s;
    s.eta = 0;
    s.d = 2;
    s.w = {1};
    s.means = {0.5, -0.5};
    s.vars = {0.5};
    s.rvec = {1, -0.5};
    s.hmax = 2;
    const Problem p = make(s);
    const auto u = make_exact_control(p);
    SamplerSettings ss;
    ss.scheme = SamplerScheme::dopri5;
    ss.atol = ss.rtol = 1e-9;
    const Sampler smp(p, *u, ss);
    const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::gaussian, nullptr, 3, 50);
    const PathResults r = smp.integrate(init.sample(0, 50), 0);
    Vector V0;
    std::vector<char> out(50, 0);
    REQUIRE(u->value(0.0, r.y0.transpose(), V0, out));
    double worst = 0;
    for (int i = 0; i < 50; ++i)
      worst = std::max(worst, std::abs(p.reward->value(r.yT.row(i).transpose()) - r.cost[i] - V0[i]));
    INFO("max |r - cost - V0| = " << worst << ", steps " << r.steps);
    CHECK(worst < 1e-6);
    CHECK(r.cost.minCoeff() > 0.01);
  }
  SECTION("two-component data, eta = 1, GMM closed form") {
    const Problem p = make(Spec{});
    const auto u = make_exact_control(p);
    REQUIRE(u->name() == "exact/gmm");
    SamplerSettings ss;
    ss.nsteps = 50;
    const Sampler smp(p, *u, ss);
    const long N = 400;
    const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::gaussian, nullptr, 9, N);
    const PathResults r = smp.integrate(init.sample(0, N), 0);
    Vector V0, g(N);
    std::vector<char> out(N, 0);
    REQUIRE(u->value(0.0, r.y0.transpose(), V0, out));
    for (long i = 0; i < N; ++i) g[i] = p.reward->value(r.yT.row(i).transpose()) - r.cost[i] - V0[i];
    INFO("E[r - cost - V0] = " << mean(g) << " +- " << se_mean(g));
    CHECK(std::abs(mean(g)) <= 4 * se_mean(g) + 0.02);
  }
}

TEST_CASE("grid control from a closed-form file agrees with the exact control", "[sampling]") {
  const Problem p = make(Spec{});  // bimodal 1-D, linear reward, eta = 1
  const auto exact = make_exact_control(p);
  char name[] = "/tmp/hjbft_test_gridctl_XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string file = std::string(name) + ".h5";
  {
    GridOptions go;
    go.lo = {-8};
    go.hi = {8};
    go.nt = 200;
    go.save_every = 1;
    PetscOptionsSetValue(nullptr, "-da_grid_x", "401");
    const Grid grid(PETSC_COMM_SELF, p, go);
    PetscOptionsClearValue(nullptr, "-da_grid_x");
    const auto ex = make_exact_solution(p);
    FieldWriter w(grid, file, "test/exact");
    ::Vec V, U;
    DMCreateGlobalVector(grid.da(), &V);
    DMCreateGlobalVector(grid.da_vector(), &U);
    const auto& steps = grid.saved_steps();
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const double t = grid.time(steps[i]);
      const double gain = p.control.coefficients(t).gain();
      const auto field = ex->at_time(t);
      PetscScalar *v, *uu;
      VecGetArray(V, &v);
      VecGetArray(U, &uu);
      grid.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
        const ValueAndGradient q = field(x);
        v[idx] = q.V;
        uu[idx] = gain * q.grad[0];
      });
      VecRestoreArray(V, &v);
      VecRestoreArray(U, &uu);
      w.write_value(static_cast<int>(i), V);
      w.write_control(static_cast<int>(i), U);
    }
    w.commit();
    VecDestroy(&V);
    VecDestroy(&U);
  }
  std::remove(name);

  const GridField gf(file, 1);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> ut(0, 1), uy(-5, 5);
  double worst_u = 0, worst_v = 0;
  for (int i = 0; i < 300; ++i) {
    const double t = ut(rng);
    Matrix Y(1, 1);
    Y(0, 0) = uy(rng);
    Matrix U;
    Vector Ve, ug(1);
    std::vector<char> out(1, 0);
    exact->eval(t, Y, U, out);
    exact->value(t, Y, Ve, out);
    double vg;
    CHECK(gf.control(t, Y.col(0), ug));
    CHECK(gf.value(t, Y.col(0), vg));
    worst_u = std::max(worst_u, std::abs(ug[0] - U(0, 0)));
    worst_v = std::max(worst_v, std::abs(vg - Ve[0]));
  }
  INFO("interpolation error: u " << worst_u << ", V " << worst_v);
  CHECK(worst_u < 0.02);
  CHECK(worst_v < 0.005);

  // Paths under the grid control follow the exact-control paths (same noise).
  const auto grid_u = make_control_source(p, "grid:" + file);
  SamplerSettings ss;
  ss.nsteps = 100;
  const long N = 300;
  const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::exact, nullptr, ss.seed, N);
  const Matrix y0 = init.sample(0, N);
  const PathResults re = Sampler(p, *exact, ss).integrate(y0, 0);
  const PathResults rg = Sampler(p, *grid_u, ss).integrate(y0, 0);
  const double dy = (re.yT - rg.yT).cwiseAbs().maxCoeff();
  const double dc = std::abs(re.cost.mean() - rg.cost.mean());
  INFO("grid vs exact control: max |Y_T diff| " << dy << ", mean cost " << re.cost.mean() << " vs " << rg.cost.mean());
  CHECK(dy < 0.02);
  CHECK(dc < 0.01 * re.cost.mean());
  CHECK(std::count(rg.outside.begin(), rg.outside.end(), 1) == 0);

  // Leaving the box is counted (and the control is evaluated clamped).
  Matrix far(2, 1);
  far << 20, 0;
  const PathResults rf = Sampler(p, *grid_u, ss).integrate(far, 0);
  CHECK(rf.outside[0] == 1);
  CHECK(rf.outside[1] == 0);

  // A file of the wrong dimension, a missing file, a bad spec.
  Spec s2;
  s2.d = 2;
  s2.means = {-2, 0, 2, 0};
  s2.rvec = {1, 0};
  const Problem p2 = make(s2);
  CHECK(option_of([&] { make_control_source(p2, "grid:" + file); }) == "-control");
  CHECK(option_of([&] { make_control_source(p, "grid:/nonexistent/x.h5"); }) == "-control");
  CHECK(option_of([&] { make_control_source(p, "grid:"); }) == "-control");
  std::remove(file.c_str());
}

TEST_CASE("value-tilted initial law by importance resampling has the analytic moments", "[sampling]") {
  // eta = 0.5, Gaussian data: V(0, y) = -P y^2/2 + p y + k (Riccati), so
  // p_T(y) e^{V/beta} is Gaussian with precision 1/vT' + P/beta.
  Spec s;
  s.eta = 0.5;
  s.w = {1};
  s.means = {0.5};
  s.vars = {0.5};
  s.hmax = 2;
  const Problem p = make(s);
  const auto u = make_exact_control(p);
  const GaussianRiccati ric(p.data(), p.control, *p.reward);
  const QuadraticValue q = ric.value({0.0}).front();
  const double m = p.sde.m(p.T()), v = p.sde.v(p.T());
  const double mT = m * 0.5, vT = m * m * 0.5 + v;
  const double prec = 1 / vT + q.P(0, 0), mean_t = (mT / vT + q.p[0]) / prec;
  const long N = 4000;
  const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::tilted, u.get(), 1, N);
  CHECK(init.method().find("importance") != std::string::npos);
  const Vector x = init.sample(0, N).col(0);
  INFO("mean " << mean(x) << " vs " << mean_t << ", var " << var(x) << " vs " << 1 / prec << "; " << init.method());
  CHECK(std::abs(mean(x) - mean_t) <= 4 * se_mean(x) + 0.005);
  CHECK(std::abs(var(x) - 1 / prec) <= 4 * se_var(x) + 0.01);
  CHECK(init.ess_fraction() > 0.1);
}

TEST_CASE("samples are reproducible and independent of batch size and path split", "[sampling]") {
  Spec s;
  s.eta = 0.7;
  const Problem p = make(s);
  const auto u = make_exact_control(make(Spec{}));  // any control: just a deterministic field
  (void)u;
  const auto zero = make_zero_control(1);
  SamplerSettings a;
  a.scheme = SamplerScheme::em;
  a.nsteps = 20;
  a.batch = 64;
  a.seed = 77;
  SamplerSettings b = a;
  b.batch = 37;
  const long N = 150;
  const InitialSampler init(PETSC_COMM_SELF, p, InitLaw::exact, nullptr, a.seed, N);
  const Matrix y0 = init.sample(0, N);
  const PathResults r1 = Sampler(p, *zero, a).integrate(y0, 0);
  const PathResults r2 = Sampler(p, *zero, b).integrate(y0.topRows(70), 0);
  const PathResults r3 = Sampler(p, *zero, b).integrate(y0.bottomRows(N - 70), 70);
  CHECK(r1.yT.topRows(70) == r2.yT);
  CHECK(r1.yT.bottomRows(N - 70) == r3.yT);
  CHECK(init.sample(70, 10) == y0.middleRows(70, 10));
  SamplerSettings c = a;
  c.seed = 78;
  CHECK(Sampler(p, *zero, c).integrate(y0, 0).yT != r1.yT);
}

TEST_CASE("sampler statistics: KS and energy distance detect a wrong law", "[sampling]") {
  const Gmm law({{0.3, Vector::Constant(1, -1.0), Matrix::Constant(1, 1, 0.2)},
                 {0.7, Vector::Constant(1, 1.5), Matrix::Constant(1, 1, 0.5)}});
  std::mt19937_64 rng(4);
  const Matrix good = law.sample(rng, 2000);
  const Matrix bad = (good.array() + 0.3).matrix();
  const LawComparison cg = compare_with_law(good, law, 1, 500), cb = compare_with_law(bad, law, 1, 500);
  CHECK(cg.ks < 1.36 / std::sqrt(2000.0));
  CHECK(cb.ks > 0.05);
  CHECK(cb.energy > 5 * std::abs(cg.energy) + 5 * std::abs(cg.energy_null));
  CHECK(cg.mode_weight_error < 0.03);
  CHECK(cg.mean_error_sigmas < 4);
  CHECK(cb.mean_error_sigmas > 8);
}

TEST_CASE("sampler: bad input names the option", "[sampling]") {
  const Problem p = make(Spec{});
  const auto zero = make_zero_control(1);
  CHECK(option_of([&] { make_control_source(p, "neural"); }) == "-control");
  CHECK(option_of([&] { sampler_scheme_from_string("rk45"); }) == "-sampler");
  CHECK(option_of([&] { init_law_from_string("uniform"); }) == "-init");
  SamplerSettings ss;
  ss.scheme = SamplerScheme::rk4;  // eta = 1: ODE schemes refused
  CHECK(option_of([&] { Sampler(p, *zero, ss); }) == "-sampler");
  ss.scheme = SamplerScheme::em;
  ss.nsteps = 0;
  CHECK(option_of([&] { Sampler(p, *zero, ss); }) == "-nsteps");
  ss.nsteps = 10;
  ss.batch = 0;
  CHECK(option_of([&] { Sampler(p, *zero, ss); }) == "-batch");
  ss.batch = 10;
  ss.time_grid = "log";
  CHECK(option_of([&] { Sampler(p, *zero, ss); }) == "-time_grid");
  Spec s;
  s.reward = "bump";
  s.rvec = {};
  const Problem pb = make(s);  // no closed form: exact control and the tilted init without V are refused
  CHECK(option_of([&] { make_exact_control(pb); }) == "-control");
  CHECK(option_of([&] { InitialSampler(PETSC_COMM_SELF, pb, InitLaw::tilted, nullptr, 1, 10); }) == "-init");
}
