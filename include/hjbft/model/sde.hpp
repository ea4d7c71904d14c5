#pragma once
// Forward (noising) SDEs with scalar linear drift, DESIGN.md section 2:
//
//     dX = f(tau) X dtau + g(tau) dB,   X_0 ~ p_data,   tau in [0, T]
//
// so that X_tau | X_0 ~ N(m(tau) X_0, v(tau) I) with m = exp(int_0^tau f) and
// v = m^2 int_0^tau g^2 / m^2, i.e. v' = 2 f v + g^2, v(0) = 0.  Every family
// has m and v in closed form; the tests check them against these ODEs.
#include <string>

namespace hjbft {

enum class SdeFamily { vp, subvp, ve, cou, cvp, csubvp };

std::string to_string(SdeFamily f);
SdeFamily sde_family_from_string(const std::string& name);  // throws InputError(-sde)

struct SdeParams {
  SdeFamily family = SdeFamily::vp;
  double T = 1.0;
  double h_min = 0.1;   // vp-type schedule h(tau) = h_min + (h_max - h_min) tau / T
  double h_max = 20.0;
  double s_min = 0.01;  // ve: sigma(tau) = s_min (s_max / s_min)^{tau/T}
  double s_max = 10.0;
  double theta = 1.0;   // cou: f = +theta, g^2 = s^2
  double s = 1.0;
};

class ForwardSde {
public:
  explicit ForwardSde(const SdeParams& p);  // validates, throws InputError

  const SdeParams& params() const { return p_; }
  double T() const { return p_.T; }

  double h(double tau) const;   // vp-type schedule
  double H(double tau) const;   // int_0^tau h
  double f(double tau) const;   // drift coefficient
  double g2(double tau) const;  // squared diffusion
  double m(double tau) const;   // mean factor
  double v(double tau) const;   // variance added

private:
  SdeParams p_;
};

}  // namespace hjbft
