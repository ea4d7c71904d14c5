// Forward SDE families (DESIGN.md section 2): the closed forms m(tau), v(tau)
// must solve m' = f m, v' = 2 f v + g^2 with m(0) = 1, v(0) = 0.  Checked by
// central finite differences of the closed forms against f and g^2, and for
// the vp-type families also H' = h and the ve relation g^2 = d sigma^2/dtau.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "hjbft/core/errors.hpp"
#include "hjbft/model/sde.hpp"

using namespace hjbft;

namespace {

SdeParams params_for(SdeFamily f) {
  SdeParams p;
  p.family = f;
  return p;  // defaults: T = 1, h in [0.1, 20], s in [0.01, 10], theta = 1, s = 1
}

double central(const std::function<double(double)>& fn, double x, double h) {
  return (fn(x + h) - fn(x - h)) / (2 * h);
}

}  // namespace

TEST_CASE("SDE families: m' = f m and v' = 2 f v + g^2 by central differences", "[sde]") {
  const auto fam = GENERATE(SdeFamily::vp, SdeFamily::subvp, SdeFamily::ve, SdeFamily::cou, SdeFamily::cvp,
                            SdeFamily::csubvp);
  SdeParams p = params_for(fam);
  // A non-default horizon catches T-scaling mistakes (tau/T in the schedules).
  const double T = GENERATE(1.0, 2.5);
  p.T = T;
  const ForwardSde sde(p);
  INFO("family " << to_string(fam) << ", T = " << T);

  CHECK(sde.m(0.0) == 1.0);
  CHECK(sde.v(0.0) == 0.0);

  for (double frac : {0.01, 0.1, 0.3, 0.5, 0.77, 0.99}) {
    const double tau = frac * T;
    const double h = 1e-5 * T;
    const double m = sde.m(tau), v = sde.v(tau), f = sde.f(tau), g2 = sde.g2(tau);
    INFO("tau = " << tau << " m = " << m << " v = " << v << " f = " << f << " g2 = " << g2);
    REQUIRE(std::isfinite(m));
    REQUIRE(std::isfinite(v));
    CHECK(g2 > 0);
    CHECK(v > 0);
    const double dm = central([&](double s) { return sde.m(s); }, tau, h);
    const double dv = central([&](double s) { return sde.v(s); }, tau, h);
    // Central differences: O(h^2) truncation plus O(eps/h) rounding.
    CHECK(std::abs(dm - f * m) <= 1e-6 * (std::abs(f * m) + 1e-3 * std::abs(m) / T));
    const double rhs = 2 * f * v + g2;
    CHECK(std::abs(dv - rhs) <= 1e-6 * (std::abs(2 * f * v) + g2));
  }
}

TEST_CASE("SDE families: small-tau behaviour v ~ g^2(0) tau, m ~ 1 + f(0) tau", "[sde]") {
  const auto fam = GENERATE(SdeFamily::vp, SdeFamily::subvp, SdeFamily::ve, SdeFamily::cou, SdeFamily::cvp,
                            SdeFamily::csubvp);
  const ForwardSde sde(params_for(fam));
  INFO("family " << to_string(fam));
  const double tau = 1e-7;
  // subvp and csubvp have g^2(0) = 0 and v = O(tau^2): compare with the ODE's Taylor terms.
  // v'' (0) = 2 f(0) g^2(0) + (g^2)'(0), the last by a one-sided difference.
  const double dg2 = (sde.g2(2e-8) - sde.g2(0)) / 2e-8;
  const double v_taylor = sde.g2(0) * tau + 0.5 * (2 * sde.f(0) * sde.g2(0) + dg2) * tau * tau;
  CHECK(std::abs(sde.v(tau) - v_taylor) <= 1e-4 * std::abs(v_taylor) + 1e-30);
  CHECK(std::abs(sde.m(tau) - (1 + sde.f(0) * tau)) <= 1e-12);
}

TEST_CASE("SDE: vp-type schedule H' = h and ve g^2 = d sigma^2/dtau", "[sde]") {
  const ForwardSde vp(params_for(SdeFamily::vp));
  for (double tau : {0.05, 0.4, 0.9}) {
    CHECK(central([&](double s) { return vp.H(s); }, tau, 1e-5) == Approx(vp.h(tau)).epsilon(1e-8));
  }
  CHECK(vp.h(0) == Approx(0.1));
  CHECK(vp.h(1) == Approx(20.0));
  SdeParams pv = params_for(SdeFamily::ve);
  const ForwardSde ve(pv);
  // v = sigma^2 - s_min^2 with sigma(T) = s_max: v(T) = s_max^2 - s_min^2
  CHECK(ve.v(1.0) == Approx(pv.s_max * pv.s_max - pv.s_min * pv.s_min).epsilon(1e-12));
  // cou: stationary-free closed form v = s^2 (e^{2 theta tau} - 1) / (2 theta)
  const ForwardSde cou(params_for(SdeFamily::cou));
  CHECK(cou.v(0.5) == Approx((std::exp(1.0) - 1) / 2).epsilon(1e-12));
}

TEST_CASE("SDE: invalid parameters and names raise InputError naming the option", "[sde][input]") {
  auto option_of = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const InputError& e) {
      return e.option();
    }
    return "<no error>";
  };
  CHECK(option_of([] { sde_family_from_string("vpp"); }) == "-sde");
  SdeParams p;
  p.T = 0;
  CHECK(option_of([&] { ForwardSde s(p); }) == "-sde_T");
  p = SdeParams{};
  p.h_min = -1;
  CHECK(option_of([&] { ForwardSde s(p); }) == "-sde_hmin");
  p = SdeParams{};
  p.h_max = 0.05;
  CHECK(option_of([&] { ForwardSde s(p); }) == "-sde_hmax");
  p = SdeParams{};
  p.family = SdeFamily::ve;
  p.s_max = p.s_min;
  CHECK(option_of([&] { ForwardSde s(p); }) == "-sde_smax");
  p = SdeParams{};
  p.family = SdeFamily::cou;
  p.theta = 0;
  CHECK(option_of([&] { ForwardSde s(p); }) == "-sde_theta");
  for (auto f : {SdeFamily::vp, SdeFamily::subvp, SdeFamily::ve, SdeFamily::cou, SdeFamily::cvp, SdeFamily::csubvp})
    CHECK(sde_family_from_string(to_string(f)) == f);
}
