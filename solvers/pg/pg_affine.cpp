// Exact values and objectives of the K-step Euler-Maruyama chain when it is
// affine: one Gaussian data component with the exact score (the drift is
// affine in y), a control constant in y and a linear reward.  The ground truth
// of the unbiasedness checks (include/hjbft/solvers/pg.hpp).
#include <stdexcept>

#include "hjbft/simulation/sampler.hpp"  // batch_score
#include "hjbft/solvers/pg.hpp"

namespace hjbft {

namespace {

void require_affine(const Problem& p) {
  if (p.data().size() != 1 || !p.score.exact())
    throw std::invalid_argument("affine chain: needs one Gaussian data component and the exact score");
  const auto q = p.reward->quadratic_form();
  if (!q || q->A.norm() != 0.0) throw std::invalid_argument("affine chain: needs a linear reward");
}

// Reference drift b(t, Y) for the columns of Y.
Matrix drift(const Problem& p, double t, const Matrix& Y) {
  Matrix S;
  batch_score(p.score.at_tau(p.T() - t), p.score.error(), Y, S);
  return p.control.drift_linear(t) * Y + p.control.drift_score_factor(t) * S;
}

Vector constant_control(const PgPolicy& u, double t, int d) {
  Matrix U;
  u.control(t, Matrix::Zero(d, 1), U);
  return U.col(0);
}

}  // namespace

AffineChainValue::AffineChainValue(const Problem& p, const std::vector<double>& times, const PgPolicy& policy) {
  require_affine(p);
  const int d = p.dim, K = static_cast<int>(times.size()) - 1;
  w_ = p.reward->quadratic_form()->b;
  Phi_.assign(K + 1, Matrix::Identity(d, d));
  kappa_.assign(K + 1, Vector::Zero(d));
  cost_to_go_.assign(K + 1, 0.0);
  // b_i(y) = M_i y + m_i, read off at y = 0 and the unit vectors.
  Matrix pts(d, d + 1);
  pts.setZero();
  pts.rightCols(d) = Matrix::Identity(d, d);
  for (int i = K - 1; i >= 0; --i) {
    const double t = times[i], dt = times[i + 1] - t;
    const ControlCoefficients c = p.control.coefficients(t);
    const Matrix b = drift(p, t, pts);
    const Vector m = b.col(0);
    const Matrix M = b.rightCols(d).colwise() - m;
    const Vector u = constant_control(policy, t, d);
    Phi_[i] = Phi_[i + 1] * (Matrix::Identity(d, d) + M * dt);
    kappa_[i] = Phi_[i + 1] * ((m + c.B * u) * dt) + kappa_[i + 1];
    cost_to_go_[i] = cost_to_go_[i + 1] + c.cost_rate(u.squaredNorm()) * dt;
  }
}

void AffineChainValue::value(int i, double, const Matrix& Y, Vector& V) const {
  V = ((Phi_[i] * Y).colwise() + kappa_[i]).transpose() * w_;
  V.array() -= cost_to_go_[i];
}

void AffineChainValue::gradient(int i, double, const Matrix& Y, Matrix& G) const {
  G = (Phi_[i].transpose() * w_).replicate(1, Y.cols());
}

double AffineChainValue::objective_at(const Vector& y0) const {
  Vector V;
  value(0, 0.0, y0, V);
  return V[0];
}

double affine_chain_objective(const Problem& p, const std::vector<double>& times, const PgPolicy& policy,
                              const Vector& m0) {
  require_affine(p);
  const int K = static_cast<int>(times.size()) - 1;
  Matrix m = m0;
  double cost = 0;
  for (int i = 0; i < K; ++i) {
    const double t = times[i], dt = times[i + 1] - t;
    const ControlCoefficients c = p.control.coefficients(t);
    const Vector u = constant_control(policy, t, p.dim);
    m += (drift(p, t, m) + c.B * u) * dt;  // E[Y_{i+1}] = E[Y_i] + (b_i(E Y_i) + B u) dt: b_i is affine
    cost += c.cost_rate(u.squaredNorm()) * dt;
  }
  return p.reward->value(m.col(0)) - cost;
}

}  // namespace hjbft
