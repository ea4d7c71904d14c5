// The discrete-time ground truth (hjbft bellman) against things it did not
// compute itself: moments of the normal law, polynomials, the DDPM alpha form,
// Tweedie's posterior mean, an independent linear-quadratic recursion, the
// 1-D solver (a separable 2-D problem), and the continuous-time closed form.
#include <petscsys.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "../test_util.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/solvers/bellman.hpp"

using namespace hjbft;

namespace {

// E Z^k for Z ~ N(0, 1): (k-1)!! for even k, 0 for odd k.
double normal_moment(int k) {
  if (k % 2) return 0;
  double m = 1;
  for (int j = k - 1; j > 1; j -= 2) m *= j;
  return m;
}

ProblemOptions gmm_1d(double beta = 1.0) {
  ProblemOptions o;  // two modes at -2, 2 (var 0.25), quadratic reward at 1, vp
  o.weights = {0.5, 0.5};
  o.means = {-2, 2};
  o.vars = {0.25};
  o.beta = beta;
  return o;
}

ProblemOptions gaussian_1d(const std::string& reward) {
  ProblemOptions o;
  o.weights = {1.0};
  o.means = {0.5};
  o.vars = {0.5};
  o.reward = reward;
  if (reward == "quadratic") {
    o.reward_center = {1.0};
    o.reward_scale = 2.0;
    o.reward_vector = {0.3};
  } else {
    o.reward_vector = {0.7};
  }
  o.beta = 0.5;
  return o;
}

// A problem, its grid and the solved Bellman recursion.
struct Case {
  Problem p;
  std::unique_ptr<Grid> g;
  std::unique_ptr<BellmanGridSolver> s;
  Case(const ProblemOptions& po, int n, int K, BellmanOptions bo = {}, PetscInt save_every = 0)
      : p(build_problem(po)) {
    GridOptions go;
    go.n = {n, p.dim > 1 ? n : 0, 0};
    go.nt = K;
    go.save_every = save_every;
    g = std::make_unique<Grid>(PETSC_COMM_WORLD, p, go);
    bo.K = K;
    bo.monitor = false;
    s = std::make_unique<BellmanGridSolver>(p, *g, bo);
    s->solve();
  }
  std::size_t ns() const { return g->saved_steps().size(); }
  double x(std::size_t i, int a = 0) const {
    const std::size_t n0 = g->n(0);
    return g->coord(a, static_cast<PetscInt>(a == 0 ? i % n0 : i / n0));
  }
};

// sup over the saved steps and the mass region of |A - B| (values) between two
// runs on grids that share every coarse point (fine = 2^k coarse intervals).
double coarse_diff(const Case& coarse, const Case& fine) {
  const std::size_t nc = coarse.g->n(0), nf = fine.g->n(0), r = (nf - 1) / (nc - 1);
  double e = 0;
  for (std::size_t s = 0; s < coarse.ns(); ++s)
    for (std::size_t i = 0; i < nc; ++i)
      if (coarse.s->mass_region(static_cast<int>(s))[i])
        e = std::max(e, std::abs(coarse.s->value(static_cast<int>(s))[i] - fine.s->value(static_cast<int>(s))[i * r]));
  return e;
}

}  // namespace

TEST_CASE("bellman: Gauss-Hermite rules integrate polynomials of degree <= 2n-1 exactly and miss degree 2n by n!", "[bellman]") {
  for (int n = 1; n <= 20; ++n) {
    const GaussHermite gh = gauss_hermite(n);
    REQUIRE(gh.x.size() == static_cast<std::size_t>(n));
    double wsum = 0;
    for (int i = 0; i < n; ++i) {
      CHECK(gh.w[i] > 0);
      CHECK(gh.x[i] == Approx(-gh.x[n - 1 - i]).margin(1e-14));
      if (i) CHECK(gh.x[i] > gh.x[i - 1]);
      wsum += gh.w[i];
    }
    CHECK(wsum == Approx(1).epsilon(1e-14));
    for (int k = 0; k <= 2 * n; ++k) {
      double q = 0, qabs = 0;  // qabs: the size of the terms, for the rounding error of the sum
      for (int i = 0; i < n; ++i) {
        q += gh.w[i] * std::pow(gh.x[i], k);
        qabs += gh.w[i] * std::pow(std::abs(gh.x[i]), k);
      }
      const double exact = normal_moment(k);
      INFO("n = " << n << ", degree " << k << ": rule " << q << ", exact " << exact);
      if (k < 2 * n) {
        CHECK(std::abs(q - exact) <= 1e-13 * std::max({1.0, exact, qabs}));
      } else {  // the error of x^{2n} is ||He_n||^2 = n!
        double nfact = 1;
        for (int j = 2; j <= n; ++j) nfact *= j;
        CHECK((exact - q) == Approx(nfact).epsilon(1e-8));
      }
    }
  }
  const GaussHermite g3 = gauss_hermite(3);  // nodes 0, +-sqrt(3), weights 2/3, 1/6
  CHECK(g3.x[2] == Approx(std::sqrt(3.0)).epsilon(1e-15));
  CHECK(g3.x[1] == 0.0);
  CHECK(g3.w[0] == Approx(1.0 / 6).epsilon(1e-14));
  CHECK(g3.w[1] == Approx(2.0 / 3).epsilon(1e-14));
  CHECK(test::option_of([] { gauss_hermite(0); }) == "-bellman_quad");
}

TEST_CASE("bellman: The not-a-knot spline reproduces cubic polynomials exactly, inside and outside the box", "[bellman]") {
  // 1-D: p(x) = 0.3 - 1.1 x + 0.7 x^2 - 0.25 x^3 on [-2, 3], 9 points.
  auto p1 = [](double x) { return 0.3 - 1.1 * x + 0.7 * x * x - 0.25 * x * x * x; };
  SplineField s1(1, {-2, 0}, {5.0 / 8, 1}, {9, 1});
  std::vector<double> f(9);
  for (int i = 0; i < 9; ++i) f[i] = p1(-2 + i * 5.0 / 8);
  s1.fit(f.data());
  for (double x : {-3.5, -2.0, -0.77, 0.1, 1.3, 2.99, 3.0, 4.7}) {
    double v, g, h;
    s1.eval(&x, &v, &g, &h);
    CHECK(v == Approx(p1(x)).margin(1e-12));
    CHECK(g == Approx(-1.1 + 1.4 * x - 0.75 * x * x).margin(1e-11));
    CHECK(h == Approx(1.4 - 1.5 * x).margin(1e-10));
  }
  // 2-D: a bicubic polynomial on [-1, 2] x [0, 4] with 7 x 11 points.
  auto p2 = [](double x, double y) {
    return 1 + 0.5 * x - y + 0.3 * x * y + 0.2 * x * x * y - 0.1 * x * x * x + 0.05 * y * y * y * x * x +
           0.02 * x * x * x * y * y * y;
  };
  auto g2 = [](double x, double y) {
    return std::array<double, 5>{
        0.5 + 0.3 * y + 0.4 * x * y - 0.3 * x * x + 0.1 * y * y * y * x + 0.06 * x * x * y * y * y,  // f_x
        -1 + 0.3 * x + 0.2 * x * x + 0.15 * y * y * x * x + 0.06 * x * x * x * y * y,              // f_y
        0.4 * y - 0.6 * x + 0.1 * y * y * y + 0.12 * x * y * y * y,                              // f_xx
        0.3 + 0.4 * x + 0.3 * y * y * x + 0.18 * x * x * y * y,                                  // f_xy
        0.3 * y * x * x + 0.12 * x * x * x * y};                                                 // f_yy
  };
  const int n0 = 7, n1 = 11;
  const double h0 = 3.0 / (n0 - 1), h1 = 4.0 / (n1 - 1);
  SplineField s2(2, {-1, 0}, {h0, h1}, {n0, n1});
  std::vector<double> f2(n0 * n1);
  for (int j = 0; j < n1; ++j)
    for (int i = 0; i < n0; ++i) f2[j * n0 + i] = p2(-1 + i * h0, j * h1);
  s2.fit(f2.data());
  for (double x : {-1.6, -1.0, 0.33, 1.9, 2.4})
    for (double y : {-0.5, 0.0, 1.7, 3.99, 4.6}) {
      const double pt[2] = {x, y};
      double v, g[2], h[3];
      s2.eval(pt, &v, g, h);
      const auto e = g2(x, y);
      INFO("x = " << x << ", y = " << y);
      CHECK(v == Approx(p2(x, y)).margin(1e-11));
      CHECK(g[0] == Approx(e[0]).margin(1e-10));
      CHECK(g[1] == Approx(e[1]).margin(1e-10));
      CHECK(h[0] == Approx(e[2]).margin(1e-9));
      CHECK(h[1] == Approx(e[3]).margin(1e-9));
      CHECK(h[2] == Approx(e[4]).margin(1e-9));
    }
}

TEST_CASE("bellman: The spline converges at fourth order (values) and third order (gradients)", "[bellman]") {
  auto f = [](double x, double y) { return std::sin(1.3 * x) * std::exp(0.4 * y) + std::cos(x * y); };
  auto fx = [](double x, double y) { return 1.3 * std::cos(1.3 * x) * std::exp(0.4 * y) - y * std::sin(x * y); };
  std::vector<double> ev1, eg1, ev2, eg2;
  for (int n : {11, 21, 41}) {
    const double h = 4.0 / (n - 1);
    // 1-D (y = 0.5) and 2-D on [-2, 2]^2; errors at off-grid points of the whole box.
    SplineField s1(1, {-2, 0}, {h, 1}, {n, 1}), s2(2, {-2, -2}, {h, h}, {n, n});
    std::vector<double> a(n), b(n * n);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) b[j * n + i] = f(-2 + i * h, -2 + j * h);
    for (int i = 0; i < n; ++i) a[i] = f(-2 + i * h, 0.5);
    s1.fit(a.data());
    s2.fit(b.data());
    double e1 = 0, g1 = 0, e2 = 0, gg2 = 0;
    for (int k = 0; k <= 200; ++k) {
      const double x = -2 + 4 * (k + 0.37) / 201;
      double v, g[2];
      s1.eval(&x, &v, g, nullptr);
      e1 = std::max(e1, std::abs(v - f(x, 0.5)));
      g1 = std::max(g1, std::abs(g[0] - fx(x, 0.5)));
      for (int l = 0; l <= 40; ++l) {
        const double pt[2] = {x, -2 + 4 * (l + 0.61) / 41};
        s2.eval(pt, &v, g, nullptr);
        e2 = std::max(e2, std::abs(v - f(pt[0], pt[1])));
        gg2 = std::max(gg2, std::abs(g[0] - fx(pt[0], pt[1])));
      }
    }
    ev1.push_back(e1);
    eg1.push_back(g1);
    ev2.push_back(e2);
    eg2.push_back(gg2);
  }
  for (std::size_t k = 0; k + 1 < ev1.size(); ++k) {
    INFO("1-D value " << ev1[k] << " -> " << ev1[k + 1] << ", gradient " << eg1[k] << " -> " << eg1[k + 1]);
    INFO("2-D value " << ev2[k] << " -> " << ev2[k + 1] << ", gradient " << eg2[k] << " -> " << eg2[k + 1]);
    CHECK(std::log2(ev1[k] / ev1[k + 1]) > 3.6);
    CHECK(std::log2(ev2[k] / ev2[k + 1]) > 3.6);
    CHECK(std::log2(eg1[k] / eg1[k + 1]) > 2.6);
    CHECK(std::log2(eg2[k] / eg2[k + 1]) > 2.6);
  }
}

TEST_CASE("bellman: Exact Gaussian integrals of the 1-D spline, tails included", "[bellman]") {
  // The spline of a cubic is the cubic, so E S(m + sigma Z) = E p(m + sigma Z) in closed form,
  // also when the Gaussian reaches far outside the box (the end cells are continued).
  const double c0 = 0.4, c1 = -1.2, c2 = 0.35, c3 = 0.08;
  auto p = [&](double x) { return c0 + x * (c1 + x * (c2 + x * c3)); };
  SplineField s(1, {-1, 0}, {0.25, 1}, {13, 1});  // box [-1, 2]
  std::vector<double> f(13);
  for (int i = 0; i < 13; ++i) f[i] = p(-1 + 0.25 * i);
  s.fit(f.data());
  for (double m : {-3.0, -1.0, 0.3, 1.99, 4.5})
    for (double sg : {0.01, 0.2, 1.0, 3.0}) {
      // E (m + sg Z)^k: 1, m, m^2 + sg^2, m^3 + 3 m sg^2.
      const double E = c0 + c1 * m + c2 * (m * m + sg * sg) + c3 * (m * m * m + 3 * m * sg * sg);
      const double G = c1 + 2 * c2 * m + 3 * c3 * (m * m + sg * sg);
      const double H = 2 * c2 + 6 * c3 * m;
      double e, g, h;
      s.gauss_expect(m, sg, &e, &g, &h);
      INFO("m = " << m << ", sigma = " << sg);
      CHECK(e == Approx(E).margin(1e-12));
      CHECK(g == Approx(G).margin(1e-12));
      CHECK(h == Approx(H).margin(1e-12));
    }
  // A smooth function on a fine grid: agrees with a 60-node Gauss-Hermite rule on the spline itself.
  SplineField t(1, {-8, 0}, {0.02, 1}, {801, 1});
  std::vector<double> v(801);
  for (int i = 0; i < 801; ++i) v[i] = std::sin(-8 + 0.02 * i) + 0.1 * std::pow(-8 + 0.02 * i, 2);
  t.fit(v.data());
  const GaussHermite gh = gauss_hermite(60);
  for (double m : {-1.0, 0.5})
    for (double sg : {0.3, 1.5}) {
      double e, g, qe = 0, qg = 0;
      t.gauss_expect(m, sg, &e, &g, nullptr);
      for (std::size_t k = 0; k < gh.x.size(); ++k) {
        const double x = m + sg * gh.x[k];
        double fv, fg;
        t.eval(&x, &fv, &fg, nullptr);
        qe += gh.w[k] * fv;
        qg += gh.w[k] * fg;
      }
      CHECK(e == Approx(qe).margin(1e-9));
      CHECK(g == Approx(qg).margin(1e-8));
      // ... and the exact E of the function itself: E sin(m + sg Z) = sin(m) e^{-sg^2/2}.
      CHECK(e == Approx(std::sin(m) * std::exp(-0.5 * sg * sg) + 0.1 * (m * m + sg * sg)).margin(1e-8));
    }
}

TEST_CASE("bellman: DdpmChain for vp is the DDPM ancestral sampler in the alpha form", "[bellman]") {
  ProblemOptions po = gmm_1d(0.7);
  po.sde_params.h_min = 0.2;
  po.sde_params.h_max = 15;
  const Problem p = build_problem(po);
  // H(tau) = h_min tau + (h_max - h_min) tau^2 / (2T), computed here.
  auto H = [&](double s) { return 0.2 * s + (15 - 0.2) * s * s / (2 * p.T()); };
  for (int K : {1, 10, 100}) {
    const DdpmChain chain(p, K);
    REQUIRE(chain.K() == K);
    for (int t = 0; t < K; ++t) {
      const int k = K - t;
      const double tau = k * p.T() / K, tau0 = (k - 1) * p.T() / K;
      const double alpha = std::exp(-(H(tau) - H(tau0)));
      const DdpmStep& st = chain.step(t);
      CHECK(st.a == Approx(1 / std::sqrt(alpha)).epsilon(1e-12));
      CHECK(st.b == Approx((1 - alpha) / std::sqrt(alpha)).epsilon(1e-10));
      CHECK(st.sigma * st.sigma == Approx(1 - alpha).epsilon(1e-10));
      CHECK(st.tau == Approx(tau).epsilon(1e-15));
      CHECK(st.t == Approx(t * p.T() / K).margin(1e-15));
      CHECK(st.beta == 0.7);
      CHECK(st.c() == Approx(0.7 * (1 - alpha) / alpha).epsilon(1e-10));
      CHECK(st.improvement_gain() == Approx(std::sqrt(alpha) / 0.7).epsilon(1e-10));
    }
    CHECK(chain.initial_variance() == Approx(1 - std::exp(-H(p.T()))).epsilon(1e-12));
  }
  CHECK(test::option_of([&] { DdpmChain(p, 0); }) == "-ddpm_steps");
  ProblemOptions pe = gmm_1d();
  pe.eta = 0.5;
  const Problem p2 = build_problem(pe);
  CHECK(test::option_of([&] { DdpmChain(p2, 10); }) == "-eta");
}

TEST_CASE("bellman: One DDPM step from p_tau_k has Tweedie's posterior mean and the predicted variance", "[bellman]") {
  // Gaussian data N(mu0, S0): X_{k-1} ~ N(M0, V0), X_k = rho X_{k-1} + sqrt(q) eps, so
  // E[X_{k-1} | X_k = y] = M0 + rho V0 / Vk (y - rho M0), and Y_{t+1} from Y_t ~ p_k has
  // variance V0 + q (Vk - V0) / Vk (the chain's step noise is q, not the posterior variance).
  const double mu0 = 0.5, S0 = 0.5;
  for (const char* fam : {"vp", "subvp", "ve", "cou", "cvp"}) {
    ProblemOptions po = gaussian_1d("linear");
    po.sde = fam;
    const Problem p = build_problem(po);
    const int K = 20;
    const DdpmChain chain(p, K);
    for (int t : {0, 7, 19}) {
      const int k = K - t;
      const double tau = k * p.T() / K, tau0 = (k - 1) * p.T() / K;
      const double mk = p.sde.m(tau), m0 = p.sde.m(tau0);
      const double Vk = mk * mk * S0 + p.sde.v(tau), V0 = m0 * m0 * S0 + p.sde.v(tau0);
      const double rho = mk / m0, q = Vk - rho * rho * V0;
      const DdpmStep& st = chain.step(t);
      INFO(fam << " step " << t);
      CHECK(st.sigma * st.sigma == Approx(q).epsilon(1e-10));
      const ScoreAtTime score = chain.score(t);
      for (double y : {-1.7, 0.2, 2.5}) {
        const double mean = st.a * y + st.b * score(test::vec({y}))[0];
        CHECK(mean == Approx(m0 * mu0 + rho * V0 / Vk * (y - mk * mu0)).epsilon(1e-10));
      }
      const double slope = st.a - st.b / Vk;  // d mean / dy (the score is -(y - M)/Vk)
      CHECK(slope * slope * Vk + st.sigma * st.sigma == Approx(V0 + q * (Vk - V0) / Vk).epsilon(1e-10));
    }
  }
  // Over the whole chain from the exact p_T the excess variance is O(1/K).
  const Problem p = build_problem(gaussian_1d("linear"));
  std::vector<double> err;
  for (int K : {50, 100, 200}) {
    const DdpmChain chain(p, K);
    double mean = p.sde.m(p.T()) * mu0, var = p.sde.m(p.T()) * p.sde.m(p.T()) * S0 + p.sde.v(p.T());
    for (int t = 0; t < K; ++t) {
      const DdpmStep& st = chain.step(t);
      const double m = p.sde.m(st.tau), Vk = m * m * S0 + p.sde.v(st.tau);
      const double slope = st.a - st.b / Vk, shift = st.b * m * mu0 / Vk;
      mean = slope * mean + shift;
      var = slope * slope * var + st.sigma * st.sigma;
    }
    CHECK(mean == Approx(mu0).margin(1e-10));  // the mean step is exact
    err.push_back(var - S0);
  }
  INFO("excess terminal variance " << err[0] << " " << err[1] << " " << err[2]);
  CHECK(err[2] > 0);
  CHECK(std::log2(err[0] / err[1]) == Approx(1).margin(0.15));
  CHECK(std::log2(err[1] / err[2]) == Approx(1).margin(0.1));
}

// Linear-quadratic: one-component data and a linear or quadratic reward.  The
// score is affine, V_t quadratic and the optimal control affine; each step is
// solved here in closed form (expectations of quadratics under Gaussians).
TEST_CASE("bellman: Linear-quadratic: the grid optimum equals an independent closed-form recursion", "[bellman]") {
  for (const char* reward : {"linear", "quadratic"}) {
    const ProblemOptions po = gaussian_1d(reward);
    const int K = 30;
    Case c(po, 61, K, {}, 5);
    const Problem& p = c.p;
    const double mu0 = 0.5, S0 = 0.5, beta = 0.5;
    // V_K = r = -P/2 x^2 + p x + k.
    double P = 0, pp = 0.7, k = 0;
    if (std::string(reward) == "quadratic") {  // -2/2 (x - 1)^2 + 0.3 x
      P = 2;
      pp = 2 * 1 + 0.3;
      k = -1;
    }
    std::vector<double> Ps(K + 1), ps(K + 1), ks(K + 1), alpha(K + 1), gamma(K + 1);
    Ps[K] = P, ps[K] = pp, ks[K] = k, alpha[K] = -P / beta, gamma[K] = pp / beta;
    for (int t = K - 1; t >= 0; --t) {
      const DdpmStep& st = c.s->chain().step(t);
      const double m = p.sde.m(st.tau), Vk = m * m * S0 + p.sde.v(st.tau);
      const double A = st.a - st.b / Vk, B0 = st.b * m * mu0 / Vk;  // mean of the reference step: A y + B0
      const double cc = beta * st.b * st.b / (st.sigma * st.sigma);
      const double Pn = Ps[t + 1], pn = ps[t + 1], kn = ks[t + 1], b = st.b, s2 = st.sigma * st.sigma;
      auto w = [&](double y) { return b * (pn - Pn * (A * y + B0)) / (cc + Pn * b * b); };
      auto V = [&](double y) {
        const double u = w(y), mean = A * y + B0 + b * u;
        return -0.5 * cc * u * u - 0.5 * Pn * (mean * mean + s2) + pn * mean + kn;
      };
      ks[t] = V(0);
      ps[t] = 0.5 * (V(1) - V(-1));
      Ps[t] = -(V(1) - 2 * V(0) + V(-1));
      alpha[t] = w(1) - w(0);
      gamma[t] = w(0);
    }
    double ev = 0, eu = 0, scale = 0;
    const auto& steps = c.g->saved_steps();
    for (std::size_t s = 0; s < steps.size(); ++s) {
      const int t = static_cast<int>(steps[s]);
      for (std::size_t i = 0; i < c.s->n_points(); ++i) {  // the whole box
        const double x = c.x(i);
        const double V = -0.5 * Ps[t] * x * x + ps[t] * x + ks[t], u = alpha[t] * x + gamma[t];
        ev = std::max(ev, std::abs(c.s->value(static_cast<int>(s))[i] - V));
        eu = std::max(eu, std::abs(c.s->control(static_cast<int>(s))[i] - u));
        scale = std::max(scale, std::abs(V));
      }
    }
    INFO(reward << ": sup |V - V_LQ| " << ev << ", sup |u - u_LQ| " << eu << " (|V| up to " << scale << ")");
    // The spline reproduces quadratics and the quadrature integrates them exactly:
    // agreement to rounding and the Newton tolerance, over the whole box.
    CHECK(ev < 1e-9 * std::max(1.0, scale));
    CHECK(eu < 1e-8);
    CHECK(c.s->summary().at("objective") ==
          Approx(-0.5 * Ps[0] * c.s->chain().initial_variance() + ks[0]).epsilon(1e-11));
    if (std::string(reward) == "linear") CHECK(Ps[0] == 0.0);
    else CHECK(Ps[0] > 0);
  }
}

TEST_CASE("bellman: Grid refinement: the 1-D optimum converges at fourth order (values and controls)", "[bellman]") {
  // Self-convergence at fixed K (no continuous-time error in it): differences to a fine
  // grid on the coarse points of the 99.9% region.  Wide modes (+-1.5, variance 0.5), so
  // that n = 51 already resolves the DDPM step's switch between the modes (the default
  // problem is asymptotic from n ~ 101; docs/validation_discrete.md).  The expectations are
  // exact integrals of the spline, so the whole error is the spline's: fourth order for V,
  // and (measured) also for u.
  ProblemOptions po = gmm_1d(0.5);
  po.means = {-1.5, 1.5};
  po.vars = {0.5};
  BellmanOptions bo;
  bo.quad = 16;
  const Case c1(po, 51, 20, bo, 2), c2(po, 101, 20, bo, 2), c3(po, 201, 20, bo, 2), ref(po, 801, 20, bo, 2);
  auto udiff = [&](const Case& c) {
    const std::size_t nc = c.g->n(0), r = (ref.g->n(0) - 1) / (nc - 1);
    double e = 0;
    for (std::size_t s = 0; s < c.ns(); ++s)
      for (std::size_t i = 0; i < nc; ++i)
        if (c.s->mass_region(static_cast<int>(s))[i])
          e = std::max(e, std::abs(c.s->control(static_cast<int>(s))[i] - ref.s->control(static_cast<int>(s))[i * r]));
    return e;
  };
  const double e1 = coarse_diff(c1, ref), e2 = coarse_diff(c2, ref), e3 = coarse_diff(c3, ref);
  const double u1 = udiff(c1), u2 = udiff(c2), u3 = udiff(c3);
  INFO("sup |V_n - V_ref| on the mass region, n = 51, 101, 201: " << e1 << " " << e2 << " " << e3);
  INFO("sup |u_n - u_ref|: " << u1 << " " << u2 << " " << u3);
  CHECK(std::log2(e1 / e2) > 3.7);
  CHECK(std::log2(e2 / e3) > 3.7);
  CHECK(std::log2(u1 / u2) > 3.3);
  CHECK(std::log2(u2 / u3) > 3.3);
  CHECK(e3 < 1e-6);
}

TEST_CASE("bellman: As K grows the discrete optimum approaches the continuous closed form at order 1", "[bellman]") {
  // Default two-mode problem; for K < 100 the gap is pre-asymptotic (the DDPM step's
  // switch between the modes is wider than the closed form's layer), see the report.
  std::vector<double> ev, eu, evl, ej;
  for (int K : {100, 200, 400}) {
    const Case c(gmm_1d(), 401, K);
    REQUIRE(c.s->continuous() != nullptr);
    CHECK(c.s->continuous()->name() == "gmm");
    const auto& s = c.s->summary();
    ev.push_back(s.at("continuous_error_value_sup"));
    evl.push_back(s.at("continuous_error_value_l2"));
    eu.push_back(s.at("continuous_error_control_sup"));
    ej.push_back(std::abs(s.at("objective") - s.at("continuous_objective")));
    CHECK(s.at("min_concavity") > 0);
  }
  for (int k = 0; k < 2; ++k) {
    INFO("K step " << k << ": sup V " << ev[k] << " -> " << ev[k + 1] << ", L2 V " << evl[k] << " -> " << evl[k + 1]
                   << ", sup u " << eu[k] << " -> " << eu[k + 1] << ", |J - J_cont| " << ej[k] << " -> " << ej[k + 1]);
    CHECK(std::log2(ev[k] / ev[k + 1]) == Approx(1).margin(0.2));
    CHECK(std::log2(evl[k] / evl[k + 1]) == Approx(1).margin(0.2));
    CHECK(std::log2(eu[k] / eu[k + 1]) == Approx(1).margin(0.3));
    CHECK(std::log2(ej[k] / ej[k + 1]) == Approx(1).margin(0.2));
  }
}

TEST_CASE("bellman: 2-D: a separable problem gives the sum of the 1-D values and the 1-D controls", "[bellman]") {
  // Data: the product of two 1-D mixtures (modes -2, 2 on each axis: 4 components),
  // reward -1/2 |x - (1, 1)|^2.  Chain, reward and KL all separate.
  ProblemOptions p2;
  p2.dim = 2;
  p2.weights = {0.25, 0.25, 0.25, 0.25};
  p2.means = {-2, -2, 2, -2, -2, 2, 2, 2};
  p2.vars = {0.25};
  p2.beta = 0.7;
  BellmanOptions bo;
  bo.quad = 8;
  bo.expectation = "quadrature";  // the 2-D rule is the tensor product of this 1-D rule
  const Case c2(p2, 33, 16, bo), c1(gmm_1d(0.7), 33, 16, bo);
  REQUIRE(c2.g->lo(0) == Approx(c1.g->lo(0)));
  REQUIRE(c2.g->hi(1) == Approx(c1.g->hi(0)));
  double ev = 0, eu = 0;
  for (std::size_t s = 0; s < c2.ns(); ++s) {
    const auto& V2 = c2.s->value(static_cast<int>(s));
    const auto& U2 = c2.s->control(static_cast<int>(s));
    const auto& V1 = c1.s->value(static_cast<int>(s));
    const auto& U1 = c1.s->control(static_cast<int>(s));
    for (std::size_t j = 0; j < 33; ++j)
      for (std::size_t i = 0; i < 33; ++i) {
        const std::size_t k = j * 33 + i;
        ev = std::max(ev, std::abs(V2[k] - V1[i] - V1[j]));
        eu = std::max({eu, std::abs(U2[2 * k] - U1[i]), std::abs(U2[2 * k + 1] - U1[j])});
      }
  }
  INFO("sup |V_2D - V_1D(x0) - V_1D(x1)| " << ev << ", sup |u_2D - u_1D| " << eu);
  CHECK(ev < 1e-9);
  CHECK(eu < 1e-8);
  CHECK(c2.s->summary().at("objective") == Approx(2 * c1.s->summary().at("objective")).epsilon(1e-10));
}

TEST_CASE("bellman: PI-FT with a linear reward (Gaussian data) reaches the optimum in one improvement", "[bellman]") {
  BellmanOptions bo;
  bo.method = "pi";
  const Case c(gaussian_1d("linear"), 61, 30, bo);
  const History& h = c.s->history();
  const auto& eu = h.columns.at("error_control_sup");
  const auto& ch = h.columns.at("control_change");
  INFO("errors " << eu[0] << " " << (eu.size() > 1 ? eu[1] : -1.0));
  REQUIRE(eu.size() == 2);  // u^1 = u*, so u^2 = u^1 and PI stops at iteration 1
  CHECK(eu[0] > 0.5);       // u^0 = 0 is far from u* = 0.7 / beta-ish
  CHECK(eu[1] < 1e-9);
  CHECK(ch[1] < 1e-9);
  CHECK(std::abs(h.columns.at("objective_gap")[1]) < 1e-10);
  CHECK(h.columns.at("objective_gap")[0] > 0);
  CHECK(c.s->summary().at("pi_converged") == 1);
}

TEST_CASE("bellman: PI-FT on a two-mode problem converges linearly at the predicted rate", "[bellman]") {
  // The improvement u^{m+1} = gain E grad V^m_{t+1}(mu + b u^m + sigma Z) is a fixed-point step:
  // near the optimum its error contracts by the spectral radius of (sigma^2/beta) E Hess V*_{t+1},
  // which the optimum reports as pi_rate_predicted (O(1/K)).
  for (double beta : {1.0, 0.3}) {
    BellmanOptions bo;
    bo.method = "pi";
    bo.pi_tol = 1e-9;
    bo.pi_max = 60;
    const Case c(gmm_1d(beta), 121, 80, bo);
    const History& h = c.s->history();
    const auto& eu = h.columns.at("error_control_sup");
    const auto& ev = h.columns.at("error_value_sup");
    const auto& gap = h.columns.at("objective_gap");
    const double predicted = c.s->summary().at("pi_rate_predicted");
    std::ostringstream trace;
    for (std::size_t m = 0; m < eu.size(); ++m) trace << " " << m << ":" << eu[m] << "/" << gap[m];
    INFO("beta " << beta << ", predicted rate " << predicted
                 << ": error_control_sup/objective_gap per iteration" << trace.str());
    CHECK(c.s->summary().at("pi_converged") == 1);
    CHECK(eu.size() >= 5);
    CHECK(eu.back() < 1e-8);
    CHECK(ev.back() < 1e-10);
    CHECK(predicted < 0.9);
    // The asymptotic ratio: from the iterations with errors between 1e-3 and 1e-7.
    int used = 0;
    for (std::size_t m = 1; m < eu.size(); ++m) {
      CHECK(gap[m] > -1e-10);  // J(u^m) <= J*
      if (eu[m - 1] > 1e-3 || eu[m] < 1e-7) continue;
      ++used;
      CHECK(eu[m] / eu[m - 1] < predicted + 0.03);
      CHECK(eu[m] / eu[m - 1] > predicted - 0.15);
    }
    CHECK(used >= 3);
  }
}

TEST_CASE("bellman: PI-FT diverges when the predicted rate exceeds 1, and says so", "[bellman]") {
  BellmanOptions bo;
  bo.method = "pi";
  const Problem p = build_problem(gmm_1d(0.1));
  GridOptions go;
  go.n = {121, 0, 0};
  go.nt = 40;
  const Grid g(PETSC_COMM_WORLD, p, go);
  bo.K = 40;
  bo.monitor = false;
  BellmanGridSolver s(p, g, bo);
  CHECK_THROWS_WITH(s.solve(), Catch::Contains("policy iteration diverged"));
}

TEST_CASE("bellman: Bad options are refused naming the option, and a failed optimum is a SolverError", "[bellman]") {
  const Problem p = build_problem(gmm_1d());
  auto bad = [&](auto change) {
    BellmanOptions o;
    change(o);
    return test::option_of([&] { validate_bellman_options(p, o); });
  };
  CHECK(bad([](BellmanOptions& o) { o.K = 0; }) == "-ddpm_steps");
  CHECK(bad([](BellmanOptions& o) { o.method = "newton"; }) == "-bellman_method");
  CHECK(bad([](BellmanOptions& o) { o.quad = 0; }) == "-bellman_quad");
  CHECK(bad([](BellmanOptions& o) { o.tol = 0; }) == "-bellman_tol");
  CHECK(bad([](BellmanOptions& o) { o.pi_max = 0; }) == "-bellman_pi_max");
  CHECK(bad([](BellmanOptions& o) { o.pi_tol = -1; }) == "-bellman_pi_tol");
  CHECK(bad([](BellmanOptions& o) { o.mass = 1; }) == "-error_mass");
  CHECK(bad([](BellmanOptions&) {}) == "<no error>");
  ProblemOptions p3 = gmm_1d();
  p3.dim = 3;
  p3.weights = {1};
  p3.means = {0, 0, 0};
  const Problem q3 = build_problem(p3);
  CHECK(test::option_of([&] { validate_bellman_options(q3, BellmanOptions{}); }) == "-dim");
  // The grid's time grid must be the chain's.
  const Problem p1 = build_problem(gmm_1d());
  GridOptions go;
  go.n = {21, 0, 0};
  go.nt = 12;
  const Grid g(PETSC_COMM_WORLD, p1, go);
  BellmanOptions bo;
  bo.K = 10;
  CHECK(test::option_of([&] { BellmanGridSolver tmp(p1, g, bo); }) == "-nt");
  bo.K = 12;
  bo.max_it = 1;
  bo.tol = 1e-15;
  bo.monitor = false;
  BellmanGridSolver s(p1, g, bo);
  CHECK_THROWS_AS(s.solve(), SolverError);
}
