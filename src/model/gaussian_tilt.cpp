// E[exp(r(X)/beta)], X ~ N(mu, C), r quadratic:  with f = r/beta,
//   f(x) = f(mu) + g'(x-mu) - 1/2 (x-mu)' P (x-mu),  g = grad f(mu),  P = A/beta,
//   log E = f(mu) + 1/2 g' K g - 1/2 log det(I + C P),  K = (C^{-1} + P)^{-1},
// finite iff C^{-1} + P > 0.  With C = L L' (L from the eigen-decomposition,
// valid for singular C), K = L N^{-1} L' and det(I + CP) = det N, N = I + L'PL.
#include <cmath>

#include "hjbft/model/gaussian_tilt.hpp"

namespace hjbft {

GaussianTilt gaussian_tilt(const Vector& mu, const Matrix& C, const QuadraticForm& r, double beta) {
  const int d = static_cast<int>(mu.size());
  GaussianTilt out;
  const Matrix P = r.A / beta;
  const Vector g = r.gradient(mu) / beta;
  Eigen::SelfAdjointEigenSolver<Matrix> eig(0.5 * (C + C.transpose()));
  const Vector lam = eig.eigenvalues().cwiseMax(0.0);
  const Matrix L = eig.eigenvectors() * lam.cwiseSqrt().asDiagonal();
  const Matrix N = Matrix::Identity(d, d) + L.transpose() * P * L;
  Eigen::LLT<Matrix> llt(N);
  if (llt.info() != Eigen::Success) return out;
  const Matrix Lc = llt.matrixL();
  if (Lc.diagonal().minCoeff() <= 0) return out;
  Matrix K = L * llt.solve(L.transpose());
  K = 0.5 * (K + K.transpose());
  const Vector Kg = K * g;
  out.finite = true;
  out.log_E = r.value(mu) / beta + 0.5 * g.dot(Kg) - Lc.diagonal().array().log().sum();
  out.grad_mu = g - P * Kg;  // (I - P K) g
  out.tilted_mean = mu + Kg;
  out.tilted_cov = K;
  return out;
}

bool quadratic_reward_well_posed(const Gmm& data, const QuadraticForm& r, double beta) {
  for (int k = 0; k < data.size(); ++k)
    if (!gaussian_tilt(data.component(k).mean, data.component(k).cov, r, beta).finite) return false;
  return true;
}

}  // namespace hjbft
