#include "hjb_operator.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "hjbft/core/errors.hpp"

namespace hjbft {

namespace {
PetscClassId hjbft_class() {
  static PetscClassId cid = 0;
  if (!cid) HJBFT_PETSC(PetscClassIdRegister("hjbft", &cid));
  return cid;
}
PetscLogEvent assemble_event() {
  static PetscLogEvent ev = -1;
  if (ev < 0) HJBFT_PETSC(PetscLogEventRegister("HJBAssemble", hjbft_class(), &ev));
  return ev;
}
PetscLogEvent drift_event() {
  static PetscLogEvent ev = -1;
  if (ev < 0) HJBFT_PETSC(PetscLogEventRegister("HJBDrift", hjbft_class(), &ev));
  return ev;
}
}  // namespace

HjbOperator::HjbOperator(const Problem& p, const Grid& g, bool upwind_only) : p_(p), g_(g), upwind_only_(upwind_only) {
  assemble_event();
  drift_event();
}

void HjbOperator::reference_drift(double t, ::Vec B) const {
  const int d = g_.dim();
  const double lin = p_.control.drift_linear(t), sfac = p_.control.drift_score_factor(t);
  const FastGmmScore score(p_.score.at_tau(p_.T() - t).marginal(), p_.score.error());
  PetscScalar* ba;
  HJBFT_PETSC(PetscLogEventBegin(drift_event(), 0, 0, 0, 0));
  HJBFT_PETSC(VecGetArray(B, &ba));
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
    double s[3];
    score(x.data(), s);
    for (int a = 0; a < d; ++a) ba[idx * d + a] = lin * x[a] + sfac * s[a];
  });
  HJBFT_PETSC(VecRestoreArray(B, &ba));
  HJBFT_PETSC(PetscLogEventEnd(drift_event(), 0, 0, 0, 0));
}

bool HjbOperator::interior(const std::array<PetscInt, 3>& g) const {
  for (int a = 0; a < g_.dim(); ++a)
    if (g[a] == 0 || g[a] == g_.n(a) - 1) return false;
  return true;
}

void HjbOperator::gradient(const GhostedArray& v, const std::array<PetscInt, 3>& g, double* grad) const {
  const PetscInt c = v.index(g);
  for (int a = 0; a < g_.dim(); ++a) {
    const PetscInt s = v.stride(a);
    const double h = g_.h(a);
    if (g[a] == 0) grad[a] = (v.a[c + s] - v.a[c]) / h;
    else if (g[a] == g_.n(a) - 1) grad[a] = (v.a[c] - v.a[c - s]) / h;
    else grad[a] = (v.a[c + s] - v.a[c - s]) / (2 * h);
  }
}

double HjbOperator::hessian_norm(const GhostedArray& v, const std::array<PetscInt, 3>& g) const {
  const int d = g_.dim();
  const PetscInt c = v.index(g);
  Eigen::Matrix3d H = Eigen::Matrix3d::Zero();
  for (int a = 0; a < d; ++a) {
    const PetscInt sa = v.stride(a);
    const double ha = g_.h(a);
    H(a, a) = (v.a[c + sa] - 2 * v.a[c] + v.a[c - sa]) / (ha * ha);
    for (int b = a + 1; b < d; ++b) {
      const PetscInt sb = v.stride(b);
      H(a, b) = H(b, a) = (v.a[c + sa + sb] - v.a[c + sa - sb] - v.a[c - sa + sb] + v.a[c - sa - sb]) /
                          (4 * ha * g_.h(b));
    }
  }
  return Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d>(H, Eigen::EigenvaluesOnly).eigenvalues().cwiseAbs().maxCoeff();
}

namespace {

// Coefficients (lo, hi) of V at gi - e_a and gi + e_a in L along one axis, for
// the advection adv = (b + B u)_a, diffusion D = Sigma^2/2 and spacing h.
std::pair<double, double> axis_coefficients(double adv, double D, double h, bool left, bool right,
                                            bool upwind_only) {
  double lo = 0, hi = 0;
  if (left || right) {
    // Box edge: no normal diffusion; inward advection upwinded, outward dropped.
    if (left && adv > 0) hi = adv / h;
    if (right && adv < 0) lo = -adv / h;
  } else if (upwind_only) {
    lo = D / (h * h) + std::max(-adv, 0.0) / h;
    hi = D / (h * h) + std::max(adv, 0.0) / h;
  } else {
    // Hybrid (Spalding) coefficients: central where the cell Peclet number
    // |adv| h / D <= 2, upwind beyond.  Non-negative (monotone) and, unlike
    // a switch between the two, continuous in adv = b + B u, so the
    // discrete operator depends continuously on the control and policy
    // iteration cannot jump between stencils from one iterate to the next.
    lo = std::max({-adv / h, D / (h * h) - adv / (2 * h), 0.0});
    hi = std::max({adv / h, D / (h * h) + adv / (2 * h), 0.0});
  }
  return {lo, hi};
}

}  // namespace

void HjbOperator::assemble(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, Mat A, ::Vec cost) const {
  assemble_into(t, theta, dt, drift, ctrl, &A, false, cost);
}

void HjbOperator::assemble_axes(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, Mat* M,
                                ::Vec cost) const {
  assemble_into(t, theta, dt, drift, ctrl, M, true, cost);
}

// One pass over the points: the control (the costly part, a gradient of V) is
// computed once per point and written into one matrix, or into the d one-axis
// factors (per_axis), each with its own diagonal.
void HjbOperator::assemble_into(double t, double theta, double dt, ::Vec drift, ::Vec ctrl, Mat* M, bool per_axis,
                                ::Vec cost) const {
  const int d = g_.dim();
  const ControlCoefficients cc = p_.control.coefficients(t);
  const double gain = cc.gain(), D = 0.5 * cc.Sigma * cc.Sigma;
  const PetscScalar* ba;
  HJBFT_PETSC(VecGetArrayRead(drift, &ba));
  const PetscScalar* va = nullptr;
  GhostedArray v;
  if (ctrl) {
    HJBFT_PETSC(VecGetArrayRead(ctrl, &va));
    v = ghosted_view(g_.da(), va);
  }
  PetscScalar* ca = nullptr;
  if (cost) HJBFT_PETSC(VecGetArray(cost, &ca));
  HJBFT_PETSC(PetscLogEventBegin(assemble_event(), 0, 0, 0, 0));
  const int nmat = per_axis ? d : 1;
  PetscScalar* val[3];
  for (int m = 0; m < nmat; ++m) val[m] = per_axis ? coo_axis_values_[m].data() : coo_values_.data();
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>& gi, const Vector&) {
    double u[3] = {0, 0, 0};
    if (ctrl) {
      gradient(v, gi, u);
      for (int a = 0; a < d; ++a) u[a] *= gain;
    }
    if (cost) {
      double u2 = 0;
      for (int a = 0; a < d; ++a) u2 += u[a] * u[a];
      ca[idx] = -cc.cost_rate(u2);
    }
    PetscScalar* diag_entry[3];
    double diag[3] = {0, 0, 0};
    for (int m = 0; m < nmat; ++m) diag_entry[m] = val[m]++;
    for (int a = 0; a < d; ++a) {
      const int m = per_axis ? a : 0;
      const bool left = gi[a] == 0, right = gi[a] == g_.n(a) - 1;
      const auto [lo, hi] = axis_coefficients(ba[idx * d + a] + cc.B * u[a], D, g_.h(a), left, right, upwind_only_);
      diag[m] -= lo + hi;
      // Every existing neighbour gets a value, zero or not: the pattern is fixed.
      if (!left) *val[m]++ = -theta * dt * lo;
      if (!right) *val[m]++ = -theta * dt * hi;
    }
    for (int m = 0; m < nmat; ++m) *diag_entry[m] = 1.0 - theta * dt * diag[m];
  });
  for (int m = 0; m < nmat; ++m)
    HJBFT_PETSC(MatSetValuesCOO(M[m], per_axis ? coo_axis_values_[m].data() : coo_values_.data(), INSERT_VALUES));
  HJBFT_PETSC(VecRestoreArrayRead(drift, &ba));
  if (ctrl) HJBFT_PETSC(VecRestoreArrayRead(ctrl, &va));
  if (cost) HJBFT_PETSC(VecRestoreArray(cost, &ca));
  HJBFT_PETSC(PetscLogEventEnd(assemble_event(), 0, 0, 0, 0));
}

void HjbOperator::set_pattern(Mat A, int axis) const {
  const int d = g_.dim();
  const int a_lo = axis < 0 ? 0 : axis, a_hi = axis < 0 ? d : axis + 1;
  std::vector<PetscInt> rows, cols;
  const GhostedArray loc = ghosted_view(g_.da());  // ghosted local indices
  g_.for_each_local([&](PetscInt, const std::array<PetscInt, 3>& gi, const Vector&) {
    const PetscInt row = loc.index(gi);
    rows.push_back(row);
    cols.push_back(row);
    for (int a = a_lo; a < a_hi; ++a) {
      if (gi[a] != 0) {
        rows.push_back(row);
        cols.push_back(row - loc.stride(a));
      }
      if (gi[a] != g_.n(a) - 1) {
        rows.push_back(row);
        cols.push_back(row + loc.stride(a));
      }
    }
  });
  if (axis < 0) {
    coo_values_.resize(rows.size());
  } else {
    coo_axis_values_.resize(d);
    coo_axis_values_[axis].resize(rows.size());
  }
  // Local indices through the DM's local-to-global map (the arrays are overwritten).
  HJBFT_PETSC(MatSetPreallocationCOOLocal(A, static_cast<PetscCount>(rows.size()), rows.data(), cols.data()));
}

void HjbOperator::control(double t, ::Vec Vlocal, ::Vec U) const {
  const int d = g_.dim();
  const double gain = p_.control.coefficients(t).gain();
  const PetscScalar* va;
  PetscScalar* ua;
  HJBFT_PETSC(VecGetArrayRead(Vlocal, &va));
  HJBFT_PETSC(VecGetArray(U, &ua));
  const GhostedArray v = ghosted_view(g_.da(), va);
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>& gi, const Vector&) {
    double gr[3];
    gradient(v, gi, gr);
    for (int a = 0; a < d; ++a) ua[idx * d + a] = gain * gr[a];
  });
  HJBFT_PETSC(VecRestoreArrayRead(Vlocal, &va));
  HJBFT_PETSC(VecRestoreArray(U, &ua));
}

}  // namespace hjbft
