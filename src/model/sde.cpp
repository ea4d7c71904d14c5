#include "hjbft/model/sde.hpp"

#include <cmath>

#include "hjbft/core/errors.hpp"

namespace hjbft {

std::string to_string(SdeFamily f) {
  switch (f) {
    case SdeFamily::vp: return "vp";
    case SdeFamily::subvp: return "subvp";
    case SdeFamily::ve: return "ve";
    case SdeFamily::cou: return "cou";
    case SdeFamily::cvp: return "cvp";
    case SdeFamily::csubvp: return "csubvp";
  }
  return "?";
}

SdeFamily sde_family_from_string(const std::string& name) {
  for (auto f : {SdeFamily::vp, SdeFamily::subvp, SdeFamily::ve, SdeFamily::cou, SdeFamily::cvp,
                 SdeFamily::csubvp})
    if (name == to_string(f)) return f;
  throw InputError("-sde", "unknown family '" + name + "' (allowed: vp, subvp, ve, cou, cvp, csubvp)");
}

ForwardSde::ForwardSde(const SdeParams& p) : p_(p) {
  auto positive = [](double x) { return std::isfinite(x) && x > 0; };
  if (!positive(p_.T)) throw InputError("-sde_T", "must be a finite number > 0");
  switch (p_.family) {
    case SdeFamily::vp:
    case SdeFamily::subvp:
    case SdeFamily::cvp:
    case SdeFamily::csubvp:
      if (!positive(p_.h_min)) throw InputError("-sde_hmin", "must be > 0");
      if (!positive(p_.h_max) || p_.h_max < p_.h_min)
        throw InputError("-sde_hmax", "must be finite and >= -sde_hmin");
      break;
    case SdeFamily::ve:
      if (!positive(p_.s_min)) throw InputError("-sde_smin", "must be > 0");
      if (!positive(p_.s_max) || p_.s_max <= p_.s_min)
        throw InputError("-sde_smax", "must be finite and > -sde_smin");
      break;
    case SdeFamily::cou:
      if (!positive(p_.theta)) throw InputError("-sde_theta", "must be > 0");
      if (!positive(p_.s)) throw InputError("-sde_s", "must be > 0");
      break;
  }
}

double ForwardSde::h(double tau) const { return p_.h_min + (p_.h_max - p_.h_min) * tau / p_.T; }

double ForwardSde::H(double tau) const {
  return p_.h_min * tau + 0.5 * (p_.h_max - p_.h_min) * tau * tau / p_.T;
}

double ForwardSde::f(double tau) const {
  switch (p_.family) {
    case SdeFamily::vp:
    case SdeFamily::subvp: return -0.5 * h(tau);
    case SdeFamily::cvp:
    case SdeFamily::csubvp: return 0.5 * h(tau);
    case SdeFamily::ve: return 0.0;
    case SdeFamily::cou: return p_.theta;
  }
  return 0.0;
}

double ForwardSde::g2(double tau) const {
  switch (p_.family) {
    case SdeFamily::vp:
    case SdeFamily::cvp: return h(tau);
    case SdeFamily::subvp: return h(tau) * (-std::expm1(-2.0 * H(tau)));
    case SdeFamily::csubvp: return h(tau) * std::expm1(2.0 * H(tau));
    case SdeFamily::ve: {
      const double L = std::log(p_.s_max / p_.s_min);
      const double sigma = p_.s_min * std::exp(L * tau / p_.T);
      return 2.0 * sigma * sigma * L / p_.T;
    }
    case SdeFamily::cou: return p_.s * p_.s;
  }
  return 0.0;
}

double ForwardSde::m(double tau) const {
  switch (p_.family) {
    case SdeFamily::vp:
    case SdeFamily::subvp: return std::exp(-0.5 * H(tau));
    case SdeFamily::cvp:
    case SdeFamily::csubvp: return std::exp(0.5 * H(tau));
    case SdeFamily::ve: return 1.0;
    case SdeFamily::cou: return std::exp(p_.theta * tau);
  }
  return 1.0;
}

double ForwardSde::v(double tau) const {
  // expm1 keeps the small-tau variance accurate (v ~ g^2(0) tau there).
  switch (p_.family) {
    case SdeFamily::vp: return -std::expm1(-H(tau));
    case SdeFamily::subvp: {
      const double a = -std::expm1(-H(tau));
      return a * a;
    }
    case SdeFamily::cvp: return std::expm1(H(tau));
    case SdeFamily::csubvp: {
      const double a = std::expm1(H(tau));
      return a * a;
    }
    case SdeFamily::ve: {
      const double L = std::log(p_.s_max / p_.s_min);
      return p_.s_min * p_.s_min * std::expm1(2.0 * L * tau / p_.T);
    }
    case SdeFamily::cou: return p_.s * p_.s * std::expm1(2.0 * p_.theta * tau) / (2.0 * p_.theta);
  }
  return 0.0;
}

}  // namespace hjbft
