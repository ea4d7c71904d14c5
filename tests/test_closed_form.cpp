// Closed forms (DESIGN.md sections 3-4).
//   * GmmClosedForm satisfies the HJB  dV/dt + b.grad V + Sigma^2/2 Lap V + kappa |grad V|^2 = 0
//     by finite differences in t and x (1-D and 2-D, two betas, three SDE families);
//     V(T) = r; its gradient equals finite differences of V; u* = grad V / beta for eta = 1;
//     V equals beta log E[e^{r/beta}] computed by posterior quadrature (1-D).
//   * GaussianRiccati: equals GmmClosedForm for eta = 1; equals the Cole-Hopf route
//     (transition_moments + gaussian_tilt) for eta = 0.5; satisfies the first-order HJB for
//     eta = 0 and the second-order HJB for time-varying beta; transition moments for eta = 1
//     equal the forward posterior; sampler moments equal the forward marginals for every eta.
//   * gaussian_tilt: singular C, quadrature in 1-D and 2-D, ill-posed detection.
//   * tilted_law: linear reward mean shift S b / beta; density ratio to p_data e^{r/beta} constant.
#include <catch2/catch.hpp>
#include <cmath>

#include "hjbft/exact/closed_form.hpp"
#include "hjbft/model/control_problem.hpp"
#include "test_util.hpp"

using namespace hjbft;
using namespace hjbft::test;

namespace {


Gmm data1() { return Gmm({{0.3, vec({-2.0}), mat(1, {0.25})}, {0.7, vec({1.5}), mat(1, {0.6})}}); }
Gmm data2() {
  return Gmm({{0.4, vec({-1.0, 0.5}), mat(2, {0.5, 0.3, 0.3, 0.4})},
              {0.6, vec({1.5, -1.0}), mat(2, {1.0, -0.6, -0.6, 0.9})}});
}
QuadraticFormReward reward1() { return QuadraticFormReward({mat(1, {1.0}), vec({1.0}), vec({0.5})}, "quadratic"); }
QuadraticFormReward reward2() {
  return QuadraticFormReward({mat(2, {1.0, 0.2, 0.2, 0.5}), vec({1.0, -1.0}), vec({0.3, 0.2})}, "quadratic");
}

ForwardSde sde_of(SdeFamily f) {
  SdeParams p;
  p.family = f;
  return ForwardSde(p);
}

struct HjbResidual {
  double residual, scale;
};

// Second-order HJB residual of a value function V(t, x) by finite differences,
// with the reference drift and coefficients of the control problem.
HjbResidual hjb_residual(const std::function<double(double, const Vector&)>& V, const ControlProblem& cp,
                         const PretrainedScore& score, double t, const Vector& x, double hx, double ht) {
  const double dVdt = (V(t + ht, x) - V(t - ht, x)) / (2 * ht);
  auto Vt = [&](const Vector& y) { return V(t, y); };
  const Vector g = fd_gradient(Vt, x, hx);
  const double lap = fd_laplacian(Vt, x, hx);
  const Vector b = cp.drift(t, x, score.at_tau(cp.T() - t));
  const ControlCoefficients cc = cp.coefficients(t);
  const double terms[4] = {dVdt, b.dot(g), 0.5 * cc.Sigma * cc.Sigma * lap, cc.kappa() * g.squaredNorm()};
  double res = 0, scale = 0;
  for (double a : terms) {
    res += a;
    scale += std::abs(a);
  }
  return {res, scale};
}

}  // namespace

TEST_CASE("GmmClosedForm satisfies the HJB equation (finite differences)", "[closed_form][hjb]") {
  const int d = GENERATE(1, 2);
  const double beta = GENERATE(1.0, 0.1);
  const auto fam = GENERATE(SdeFamily::vp, SdeFamily::ve, SdeFamily::cou);
  const Gmm data = d == 1 ? data1() : data2();
  const QuadraticFormReward r = d == 1 ? reward1() : reward2();
  const ForwardSde sde = sde_of(fam);
  const ControlProblem cp(sde, 1.0, KlWeight(beta));
  const PretrainedScore score(sde, data);
  const GmmClosedForm cf(data, sde, r, beta);
  auto V = [&](double t, const Vector& y) { return cf(t, y).V; };
  INFO("d = " << d << " beta = " << beta << " sde = " << to_string(fam));
  double worst = 0;
  for (double t : {0.05, 0.3, 0.6, 0.9}) {
    for (const Vector& x0 : {vec({-1.5, 0.5}), vec({0.2, -0.7}), vec({1.3, 1.1})}) {
      const Vector x = x0.head(d);
      const HjbResidual h = hjb_residual(V, cp, score, t, x, 1e-3, 1e-5);
      INFO("t = " << t << " x = " << x.transpose() << " residual = " << h.residual << " scale = " << h.scale);
      CHECK(std::abs(h.residual) <= 1e-5 * h.scale);
      worst = std::max(worst, std::abs(h.residual) / h.scale);
    }
  }
  UNSCOPED_INFO("worst relative HJB residual " << worst);
}

TEST_CASE("GmmClosedForm: terminal value, gradient = FD of V, u* = grad V / beta", "[closed_form]") {
  const int d = GENERATE(1, 2);
  const double beta = GENERATE(1.0, 0.1);
  const Gmm data = d == 1 ? data1() : data2();
  const QuadraticFormReward r = d == 1 ? reward1() : reward2();
  const ForwardSde sde = sde_of(SdeFamily::vp);
  const GmmClosedForm cf(data, sde, r, beta);
  INFO("d = " << d << " beta = " << beta);
  for (const Vector& x0 : {vec({-1.5, 0.5}), vec({0.2, -0.7}), vec({1.3, 1.1}), vec({4.0, -3.0})}) {
    const Vector x = x0.head(d);
    // V(T, x) = r(x), and the closed form is continuous there.
    const auto pT = cf(sde.T(), x);
    CHECK(pT.V == Approx(r.value(x)).epsilon(1e-14));
    CHECK((pT.grad - r.gradient(x)).norm() <= 1e-14 * (1 + r.gradient(x).norm()));
    const auto pnear = cf(sde.T() - 1e-7, x);
    CHECK(std::abs(pnear.V - r.value(x)) <= 1e-5 * (1 + std::abs(r.value(x))));
    for (double t : {0.0, 0.2, 0.5, 0.8, 0.99}) {
      const auto at = cf.at_time(t);
      const auto p = at(x);
      const Vector fd = fd_gradient([&](const Vector& y) { return at(y).V; }, x, 1e-5);
      INFO("t = " << t << " x = " << x.transpose() << " grad " << p.grad.transpose() << " fd " << fd.transpose());
      CHECK((p.grad - fd).norm() <= 1e-6 * (1 + p.grad.norm()));
    }
  }
  // eta = 1: B = Lambda = g^2, so the optimal control's gain is exactly 1/beta at every t.
  const ControlProblem cp(sde, 1.0, KlWeight(beta));
  for (double t : {0.0, 0.4, 0.999}) {
    const ControlCoefficients cc = cp.coefficients(t);
    CHECK(cc.gain() == Approx(1.0 / beta).epsilon(1e-14));
    CHECK(cc.B == Approx(sde.g2(sde.T() - t)).epsilon(1e-14));
    CHECK(cc.Lambda == Approx(sde.g2(sde.T() - t)).epsilon(1e-14));
    CHECK(cc.Sigma * cc.Sigma == Approx(sde.g2(sde.T() - t)).epsilon(1e-14));
  }
}

TEST_CASE("Control coefficients: KL identity B^2/Lambda = Sigma^2 for eta > 0, eta = 0 is the L2 case",
          "[control]") {
  const ForwardSde sde = sde_of(SdeFamily::vp);
  for (double eta : {0.25, 0.5, 0.9}) {
    const ControlProblem cp(sde, eta, KlWeight(0.7));
    const auto cc = cp.coefficients(0.3);
    const double g2 = sde.g2(0.7);
    CHECK(cc.B * cc.B / cc.Lambda == Approx(cc.Sigma * cc.Sigma).epsilon(1e-14));
    CHECK(cc.Sigma == Approx(eta * std::sqrt(g2)).epsilon(1e-14));
    CHECK(cc.B == Approx(0.5 * (1 + eta * eta) * g2).epsilon(1e-14));
    CHECK(cc.gain() == Approx(cc.B / (0.7 * cc.Lambda)).epsilon(1e-14));
    CHECK(cp.cole_hopf_applies());
  }
  const ControlProblem cp0(sde, 0.0, KlWeight(0.7));
  const auto c0 = cp0.coefficients(0.3);
  CHECK(c0.Sigma == 0.0);
  CHECK(c0.B == Approx(0.5 * sde.g2(0.7)));
  CHECK(c0.Lambda == Approx(sde.g2(0.7)));
  CHECK_FALSE(cp0.cole_hopf_applies());
  CHECK_FALSE(ControlProblem(sde, 1.0, KlWeight(1.0, 0.5, 1.0)).cole_hopf_applies());
}

TEST_CASE("Control coefficients stay finite where g^2 = 0 (subvp, csubvp at t = T)", "[control]") {
  // kappa = B^2/(2 beta Lambda) and gain = B/(beta Lambda) have finite limits as g^2 -> 0; compare
  // at t = T with their values just before T (both B and Lambda are proportional to g^2).
  for (auto fam : {SdeFamily::subvp, SdeFamily::csubvp}) {
    const ForwardSde sde = sde_of(fam);
    REQUIRE(sde.g2(0.0) == 0.0);
    for (double eta : {0.0, 0.5, 1.0}) {
      const ControlProblem cp(sde, eta, KlWeight(0.5));
      const auto cT = cp.coefficients(sde.T()), cn = cp.coefficients(sde.T() - 1e-3);
      INFO(to_string(fam) << " eta = " << eta << " gain " << cT.gain() << " kappa " << cT.kappa());
      CHECK(std::isfinite(cT.gain()));
      CHECK(cT.kappa() == 0.0);
      CHECK(cT.gain() == Approx(cn.B / (cn.beta * cn.Lambda)).epsilon(1e-12));
      CHECK(cn.kappa() == Approx(cn.B * cn.B / (2 * cn.beta * cn.Lambda)).epsilon(1e-12));
    }
  }
}

TEST_CASE("GmmClosedForm equals beta log E[exp(r/beta)] by posterior quadrature (1-D)", "[closed_form]") {
  const double beta = GENERATE(1.0, 0.1);
  const Gmm data = data1();
  const QuadraticFormReward r = reward1();
  const ForwardSde sde = sde_of(SdeFamily::vp);
  const GmmClosedForm cf(data, sde, r, beta);
  for (double t : {0.1, 0.5, 0.9}) {
    const double tau = sde.T() - t, m = sde.m(tau), v = sde.v(tau);
    for (double y : {-2.0, 0.0, 1.0, 2.5}) {
      // Posterior of X0 given X_tau = y is proportional to p0(x) N(y; m x, v); for eta = 1, Y_T | Y_t = y has that law.
      auto post = [&](double x) { return std::exp(data.log_density(vec({x}))) * normal_pdf(y, m * x, v); };
      const double Z = simpson(post, -15, 15, 8000);
      const double E = simpson([&](double x) { return post(x) * std::exp(r.value(vec({x})) / beta); }, -15, 15, 8000);
      INFO("beta = " << beta << " t = " << t << " y = " << y);
      CHECK(cf(t, vec({y})).V == Approx(beta * std::log(E / Z)).epsilon(1e-9).margin(1e-9));
    }
  }
}

TEST_CASE("GmmClosedForm stays finite for small beta and far-out points", "[closed_form]") {
  const Gmm data = data2();
  const QuadraticFormReward r = reward2();
  const ForwardSde sde = sde_of(SdeFamily::vp);
  const GmmClosedForm cf(data, sde, r, 1e-3);
  for (double t : {0.0, 0.5, 0.99})
    for (const Vector& x : {vec({50.0, -80.0}), vec({1e3, 1e3}), vec({0.1, 0.2})}) {
      const auto p = cf(t, x);
      INFO("t = " << t << " x = " << x.transpose() << " V = " << p.V);
      CHECK(std::isfinite(p.V));
      CHECK(p.grad.allFinite());
    }
}

// ---------------------------------------------------------------------------------------------------
// Gaussian data, any eta: GaussianRiccati

namespace {
Gmm gauss2() { return Gmm({{1.0, vec({0.5, -1.0}), mat(2, {0.7, 0.25, 0.25, 0.4})}}); }
}  // namespace

TEST_CASE("GaussianRiccati equals GmmClosedForm for eta = 1 and one-component data", "[closed_form][riccati]") {
  const double beta = GENERATE(1.0, 0.1);
  const auto fam = GENERATE(SdeFamily::vp, SdeFamily::subvp, SdeFamily::cou);
  const Gmm data = gauss2();
  const QuadraticFormReward r = reward2();
  const ForwardSde sde = sde_of(fam);
  const ControlProblem cp(sde, 1.0, KlWeight(beta));
  const GaussianRiccati ric(data, cp, r);
  const GmmClosedForm cf(data, sde, r, beta);
  const std::vector<double> times{0.0, 0.3, 0.7, 0.95, 1.0};
  const auto vals = ric.value(times);
  REQUIRE(vals.size() == times.size());
  for (std::size_t i = 0; i < times.size(); ++i) {
    CHECK(vals[i].t == Approx(times[i]).margin(1e-15));
    for (const Vector& y : {vec({0.0, 0.0}), vec({-1.2, 2.0}), vec({2.5, -0.5})}) {
      const auto p = cf(times[i], y);
      INFO("sde " << to_string(fam) << " beta = " << beta << " t = " << times[i] << " y = " << y.transpose());
      CHECK(vals[i].value(y) == Approx(p.V).epsilon(1e-7).margin(1e-8));
      CHECK((vals[i].grad(y) - p.grad).norm() <= 1e-7 * (1 + p.grad.norm()));
    }
  }
}

TEST_CASE("GaussianRiccati equals the Cole-Hopf route for eta = 0.5", "[closed_form][riccati]") {
  const double beta = GENERATE(1.0, 0.2);
  const Gmm data = gauss2();
  const QuadraticFormReward r = reward2();
  const ForwardSde sde = sde_of(SdeFamily::vp);
  const ControlProblem cp(sde, 0.5, KlWeight(beta));
  REQUIRE(cp.cole_hopf_applies());
  const GaussianRiccati ric(data, cp, r);
  for (double t : {0.0, 0.25, 0.6, 0.9}) {
    const QuadraticValue q = ric.value({t}).front();
    const TransitionMoments tm = ric.transition_moments(t);
    for (const Vector& y : {vec({0.0, 0.0}), vec({-1.2, 2.0}), vec({2.5, -0.5})}) {
      const GaussianTilt tilt = gaussian_tilt(tm.Phi * y + tm.psi, tm.Q, r.quadratic_form().value(), beta);
      REQUIRE(tilt.finite);
      INFO("beta = " << beta << " t = " << t << " y = " << y.transpose());
      CHECK(q.value(y) == Approx(beta * tilt.log_E).epsilon(1e-7).margin(1e-8));
      // grad V = beta Phi' d log_E / d mean
      const Vector g = beta * tm.Phi.transpose() * tilt.grad_mu;
      CHECK((q.grad(y) - g).norm() <= 1e-7 * (1 + g.norm()));
    }
  }
}

TEST_CASE("GaussianRiccati satisfies the HJB residual for eta = 0 and for time-varying beta",
          "[closed_form][riccati][hjb]") {
  struct Case {
    double eta, beta0, beta1;
  };
  const Case c = GENERATE(Case{0.0, 1.0, 1.0}, Case{0.0, 0.2, 0.2}, Case{0.0, 0.5, 2.0}, Case{0.5, 0.3, 1.5},
                          Case{1.0, 2.0, 0.4});
  const Gmm data = gauss2();
  const QuadraticFormReward r = reward2();
  const ForwardSde sde = sde_of(SdeFamily::vp);
  const ControlProblem cp(sde, c.eta, KlWeight(c.beta0, c.beta1, sde.T()));
  const PretrainedScore score(sde, data);
  const GaussianRiccati ric(data, cp, r);
  const double ht = 1e-5;
  for (double t : {0.1, 0.4, 0.8}) {
    const auto q = ric.value({t - ht, t, t + ht});
    // q holds V at t - ht, t, t + ht (in that order)
    auto V = [&](double s, const Vector& y) { return q[s < t - 0.5 * ht ? 0 : s > t + 0.5 * ht ? 2 : 1].value(y); };
    for (const Vector& x : {vec({0.0, 0.0}), vec({-1.2, 2.0}), vec({2.5, -0.5})}) {
      const HjbResidual h = hjb_residual(V, cp, score, t, x, 1e-3, ht);
      INFO("eta = " << c.eta << " beta " << c.beta0 << ".." << c.beta1 << " t = " << t << " x = " << x.transpose()
                    << " residual " << h.residual << " scale " << h.scale);
      CHECK(std::abs(h.residual) <= 1e-6 * h.scale);
    }
  }
  // Terminal condition.
  const auto qT = ric.value({sde.T()}).front();
  const Vector y = vec({0.3, -0.4});
  CHECK(qT.value(y) == Approx(r.value(y)).epsilon(1e-14));
}

TEST_CASE("GaussianRiccati: transition moments for eta = 1 equal the forward posterior", "[closed_form][riccati]") {
  const Gmm data = gauss2();
  const ForwardSde sde = sde_of(SdeFamily::vp);
  const ControlProblem cp(sde, 1.0, KlWeight(1.0));
  const GaussianRiccati ric(data, cp, reward2());
  const Matrix S0 = data.component(0).cov, Sinv = S0.inverse();
  const Vector mu0 = data.component(0).mean;
  for (double t : {0.0, 0.3, 0.8}) {
    const double tau = sde.T() - t, m = sde.m(tau), v = sde.v(tau);
    const Matrix C = (Sinv + (m * m / v) * Matrix::Identity(2, 2)).inverse();
    const TransitionMoments tm = ric.transition_moments(t);
    INFO("t = " << t << "\nPhi\n" << tm.Phi << "\nexpected\n" << C * (m / v));
    CHECK((tm.Phi - C * (m / v)).norm() <= 1e-7 * (C * (m / v)).norm());
    CHECK((tm.psi - C * Sinv * mu0).norm() <= 1e-7 * (1 + (C * Sinv * mu0).norm()));
    CHECK((tm.Q - C).norm() <= 1e-7 * C.norm());
  }
}

TEST_CASE("The eta-sampler keeps the forward marginals (Gaussian data, moment ODEs)", "[sampler][riccati]") {
  const double eta = GENERATE(0.0, 0.5, 1.0);
  const auto fam = GENERATE(SdeFamily::vp, SdeFamily::subvp, SdeFamily::ve, SdeFamily::cou, SdeFamily::cvp,
                            SdeFamily::csubvp);
  const Gmm data = gauss2();
  const ForwardSde sde = sde_of(fam);
  const ControlProblem cp(sde, eta, KlWeight(1.0));
  const GaussianRiccati ric(data, cp, reward2());
  const Matrix S0 = data.component(0).cov;
  const Vector mu0 = data.component(0).mean;
  for (double t : {0.0, 0.2, 0.5, 0.8, 1.0}) {
    const double tau = sde.T() - t, m = sde.m(tau), v = sde.v(tau);
    const Vector mu = m * mu0;
    const Matrix S = m * m * S0 + v * Matrix::Identity(2, 2);
    const auto [mt, St] = ric.sampler_moments(t);
    INFO("eta = " << eta << " sde " << to_string(fam) << " t = " << t << "\nmean " << mt.transpose() << " vs "
                  << mu.transpose() << "\ncov\n"
                  << St << "\nvs\n"
                  << S);
    CHECK((mt - mu).norm() <= 1e-7 * (1 + mu.norm()));
    CHECK((St - S).norm() <= 1e-7 * S.norm());
    // End to end: Y_T = Phi Y_t + psi + N(0, Q) must have the data law.
    if (t < 1.0) {
      const TransitionMoments tm = ric.transition_moments(t);
      CHECK((tm.Phi * mt + tm.psi - mu0).norm() <= 1e-6 * (1 + mu0.norm()));
      CHECK((tm.Phi * St * tm.Phi.transpose() + tm.Q - S0).norm() <= 1e-6 * S0.norm());
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// gaussian_tilt and the tilted law

TEST_CASE("gaussian_tilt at singular C = 0 gives log_E = r(mu)/beta", "[closed_form][tilt]") {
  const QuadraticForm q = reward2().quadratic_form().value();
  const Vector mu = vec({0.4, -2.0});
  for (double beta : {1.0, 0.05}) {
    const GaussianTilt t = gaussian_tilt(mu, Matrix::Zero(2, 2), q, beta);
    REQUIRE(t.finite);
    CHECK(t.log_E == Approx(q.value(mu) / beta).epsilon(1e-14));
    CHECK((t.grad_mu - q.gradient(mu) / beta).norm() <= 1e-13 * (1 + t.grad_mu.norm()));
    CHECK((t.tilted_mean - mu).norm() <= 1e-15);
    CHECK(t.tilted_cov.norm() <= 1e-15);
  }
  // Rank-one C: the direction with zero variance contributes nothing.
  const Vector e = vec({0.6, 0.8});
  const Matrix C = 0.5 * e * e.transpose();
  const GaussianTilt t1 = gaussian_tilt(mu, C, q, 1.0);
  REQUIRE(t1.finite);
  // 1-D integral along e: E[exp(r(mu + s e))], s ~ N(0, 0.5)
  const double E = simpson([&](double s) { return normal_pdf(s, 0, 0.5) * std::exp(q.value(mu + s * e)); }, -12, 12,
                           4000);
  CHECK(t1.log_E == Approx(std::log(E)).epsilon(1e-10));
}

TEST_CASE("gaussian_tilt equals quadrature of E[exp(r/beta)] and its tilted moments", "[closed_form][tilt]") {
  SECTION("1-D") {
    const QuadraticForm q{mat(1, {-0.8}), vec({0.5}), vec({0.7})};  // convex reward: needs 1/C - 0.8/beta > 0
    const double mu = 0.3, C = 0.6, beta = 1.0;
    const GaussianTilt t = gaussian_tilt(vec({mu}), mat(1, {C}), q, beta);
    REQUIRE(t.finite);
    auto w = [&](double x) { return normal_pdf(x, mu, C) * std::exp(q.value(vec({x})) / beta); };
    const double E = simpson(w, -30, 30, 20000);
    const double M1 = simpson([&](double x) { return x * w(x); }, -30, 30, 20000) / E;
    const double M2 = simpson([&](double x) { return (x - M1) * (x - M1) * w(x); }, -30, 30, 20000) / E;
    CHECK(t.log_E == Approx(std::log(E)).epsilon(1e-10));
    CHECK(t.tilted_mean[0] == Approx(M1).epsilon(1e-9));
    CHECK(t.tilted_cov(0, 0) == Approx(M2).epsilon(1e-9));
    // d log_E / d mu by finite differences
    const double h = 1e-5;
    const double fd = (gaussian_tilt(vec({mu + h}), mat(1, {C}), q, beta).log_E -
                       gaussian_tilt(vec({mu - h}), mat(1, {C}), q, beta).log_E) /
                      (2 * h);
    CHECK(t.grad_mu[0] == Approx(fd).epsilon(1e-7));
    // Ill-posed: 1/C + A/beta <= 0
    CHECK_FALSE(gaussian_tilt(vec({mu}), mat(1, {C}), q, 0.4).finite);
  }
  SECTION("2-D") {
    const QuadraticForm q = reward2().quadratic_form().value();
    const Vector mu = vec({0.2, 0.4});
    const Matrix C = mat(2, {0.8, 0.3, 0.3, 0.5});
    const double beta = 0.5;
    const GaussianTilt t = gaussian_tilt(mu, C, q, beta);
    REQUIRE(t.finite);
    const Matrix Ci = C.inverse();
    const double nc = 1.0 / (2 * std::numbers::pi * std::sqrt(C.determinant()));
    auto w = [&](double x, double y) {
      const Vector z = vec({x, y});
      const Vector r = z - mu;
      return nc * std::exp(-0.5 * r.dot(Ci * r) + q.value(z) / beta);
    };
    const double E = simpson([&](double x) { return simpson([&](double y) { return w(x, y); }, -10, 10, 400); },
                             -10, 10, 400);
    const double Mx = simpson([&](double x) { return simpson([&](double y) { return x * w(x, y); }, -10, 10, 400); },
                              -10, 10, 400) / E;
    CHECK(t.log_E == Approx(std::log(E)).epsilon(1e-8));
    CHECK(t.tilted_mean[0] == Approx(Mx).epsilon(1e-8));
    const Vector fd = fd_gradient([&](const Vector& m) { return gaussian_tilt(m, C, q, beta).log_E; }, mu, 1e-5);
    CHECK((t.grad_mu - fd).norm() <= 1e-7 * (1 + fd.norm()));
  }
}

TEST_CASE("Tilted law: Gaussian data and linear reward shift the mean by S b / beta", "[closed_form][tilt]") {
  const Gmm data = gauss2();
  const Matrix S = data.component(0).cov;
  const Vector b = vec({0.8, -0.3});
  const QuadraticFormReward r({Matrix::Zero(2, 2), Vector::Zero(2), b}, "linear");
  for (double beta : {1.0, 0.25, 4.0}) {
    const Gmm tl = tilted_law(data, r, beta);
    REQUIRE(tl.size() == 1);
    const Vector shift = tl.mean() - data.mean();
    INFO("beta = " << beta << " shift " << shift.transpose() << " expected " << (S * b / beta).transpose());
    CHECK((shift - S * b / beta).norm() <= 1e-12 * (1 + shift.norm()));
    CHECK((tl.covariance() - S).norm() <= 1e-12);
  }
}

TEST_CASE("Tilted law: density proportional to p_data e^{r/beta} (GMM, quadratic reward)", "[closed_form][tilt]") {
  const double beta = GENERATE(1.0, 0.3);
  SECTION("2-D, ratio constant across points") {
    const Gmm data = data2();
    const QuadraticFormReward r = reward2();
    const Gmm tl = tilted_law(data, r, beta);
    std::vector<double> logratio;
    for (const Vector& x : {vec({0.0, 0.0}), vec({-1.0, 0.5}), vec({1.5, -1.0}), vec({3.0, 2.0}), vec({-2.5, -2.0})})
      logratio.push_back(tl.log_density(x) - (data.log_density(x) + r.value(x) / beta));
    for (double lr : logratio) CHECK(lr == Approx(logratio[0]).epsilon(1e-12).margin(1e-12));
  }
  SECTION("1-D, normalizer and moments by quadrature") {
    const Gmm data = data1();
    const QuadraticFormReward r = reward1();
    const Gmm tl = tilted_law(data, r, beta);
    auto w = [&](double x) { return std::exp(data.log_density(vec({x})) + r.value(vec({x})) / beta); };
    const double Z = simpson(w, -15, 15, 8000);
    const double M1 = simpson([&](double x) { return x * w(x); }, -15, 15, 8000) / Z;
    const double M2 = simpson([&](double x) { return (x - M1) * (x - M1) * w(x); }, -15, 15, 8000) / Z;
    for (double x : {-2.0, 0.0, 1.0, 2.5})
      CHECK(tl.log_density(vec({x})) == Approx(std::log(w(x) / Z)).epsilon(1e-10));
    CHECK(tl.mean()[0] == Approx(M1).epsilon(1e-10));
    CHECK(tl.covariance()(0, 0) == Approx(M2).epsilon(1e-10));
  }
}
