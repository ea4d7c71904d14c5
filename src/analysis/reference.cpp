// A reference on the output grid and the errors of a field against it
// (include/hjbft/analysis/reference.hpp).
#include "hjbft/analysis/reference.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <string>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/limits.hpp"
#include "hjbft/core/mpi.hpp"
#include "hjbft/core/text.hpp"
#include "hjbft/grid/grid_fields.hpp"
#include "hjbft/model/score.hpp"

namespace hjbft {

// ---------------------------------------------------------------- regularity
double finest_spacing(const Grid& g) {
  double h = g.h(0);
  for (int a = 1; a < g.dim(); ++a) h = std::min(h, g.h(a));
  return h;
}

Matrix select_columns(const Matrix& points, const std::vector<Eigen::Index>& idx) {
  Matrix X(points.rows(), idx.size());
  for (std::size_t q = 0; q < idx.size(); ++q) X.col(q) = points.col(idx[q]);
  return X;
}

std::vector<Matrix> central_differences(const PointField& F, const Matrix& X, double h) {
  const int d = static_cast<int>(X.rows());
  std::vector<Matrix> D(d);
  for (int b = 0; b < d && X.cols() > 0; ++b) {
    Matrix Xp = X, Xn = X, Fp, Fn;
    Xp.row(b).array() += h;
    Xn.row(b).array() -= h;
    F(Xp, Fp);
    F(Xn, Fn);
    D[b] = (Fp - Fn) / (2 * h);
  }
  return D;
}

namespace {

// The Jacobian at point q: column b is D[b].col(q).
void jacobian_at(const std::vector<Matrix>& D, Eigen::Index q, Matrix& J) {
  for (std::size_t b = 0; b < D.size(); ++b) J.col(b) = D[b].col(q);
}

Eigen::Index points_of(const std::vector<Matrix>& D) { return D.empty() ? 0 : D[0].cols(); }

}  // namespace

double sup_jacobian_norm(const std::vector<Matrix>& D) {
  double sup = 0;
  if (points_of(D) == 0) return sup;
  Matrix J(D[0].rows(), D.size());
  for (Eigen::Index q = 0; q < points_of(D); ++q) {
    jacobian_at(D, q, J);
    sup = std::max(sup, Eigen::JacobiSVD<Matrix>(J).singularValues()(0));
  }
  return sup;
}

double sup_hessian_norm(const std::vector<Matrix>& D) {
  double sup = 0;
  if (points_of(D) == 0) return sup;
  Matrix H(D[0].rows(), D.size());
  for (Eigen::Index q = 0; q < points_of(D); ++q) {
    jacobian_at(D, q, H);
    // Differences of grad V give a Hessian that is symmetric only to O(h^2).
    const Matrix Hs = 0.5 * (H + H.transpose());
    sup = std::max(sup, Eigen::SelfAdjointEigenSolver<Matrix>(Hs).eigenvalues().cwiseAbs().maxCoeff());
  }
  return sup;
}

// ---------------------------------------------------------------- the reference
namespace {

// Errors against a reference that overflows (u* ~ 1/beta for -beta 1e-300)
// would be Inf/NaN: refused on every rank when any rank sees it.  Collective.
void refuse_overflow(MPI_Comm comm, const ControlSource& ref, double t, const Matrix& U) {
  int bad = !U.array().isFinite().all() || (U.array().abs() > kLargestField).any();
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_LOR, comm);
  if (bad)
    throw SolverError("the reference control " + ref.name() + " is not finite or overflows (|u| > " +
                      std::string(kLargestFieldText) + ") at t = " + std::to_string(t) + "; nothing was written");
}

// The fine-tuned marginal at generation time t (into the scratch vector w)
// as r.weight, and its high-mass region as r.mask.  The value tilt
// e^{V*/beta} is the h-transform of the KL case (Cole-Hopf); otherwise the
// reference marginal p_{T-t} stands in for it.  Collective.
void set_weight(MPI_Comm comm, const Problem& p, const Grid& g, double t, double mass, ::Vec w, ReferenceStep& r) {
  const bool tilt = r.V.size() > 0 && p.control.cole_hopf_applies();
  grid_law(g, FastGmmScore(p.score.at_tau(p.T() - t).marginal(), ScoreError{}), tilt ? r.V.data() : nullptr,
           p.control.beta()(t), w);
  const PetscScalar* wa;
  HJBFT_PETSC(VecGetArrayRead(w, &wa));
  r.weight = Eigen::Map<const Vector>(wa, g.n_local());
  const double level = mass_level(comm, wa, g.n_local(), mass);
  HJBFT_PETSC(VecRestoreArrayRead(w, &wa));
  r.mask.resize(g.n_local());
  for (PetscInt i = 0; i < g.n_local(); ++i) r.mask[i] = r.weight[i] >= level;
}

std::vector<Eigen::Index> masked(const std::vector<char>& mask) {
  std::vector<Eigen::Index> pts;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) pts.push_back(static_cast<Eigen::Index>(i));
  return pts;
}

}  // namespace

ReferenceOnGrid::ReferenceOnGrid(MPI_Comm comm, const Problem& p, const Grid& g, const Matrix& points,
                                 const ControlSource& ref, double mass) {
  ::Vec w;
  HJBFT_PETSC(DMCreateGlobalVector(g.da(), &w));
  const double h = finest_spacing(g);
  double sup_grad = 0, sup_hess = 0;
  try {
    for (PetscInt j : g.saved_steps()) {
      const double t = g.time(j);
      ReferenceStep r;
      std::vector<char> outside(points.cols(), 0);  // the grid lies in the reference's domain
      ref.prepare({t});
      ref.eval(t, points, r.U, outside);
      refuse_overflow(comm, ref, t, r.U);
      if (!ref.value(t, points, r.V, outside)) r.V.resize(0);
      set_weight(comm, p, g, t, mass, w, r);
      // Regularity of u* on the mass region, by central differences with the grid spacing.
      const PointField u_star = [&](const Matrix& X, Matrix& U) {
        std::vector<char> out(X.cols(), 0);
        ref.eval(t, X, U, out);
      };
      const double sg = sup_jacobian_norm(central_differences(u_star, select_columns(points, masked(r.mask)), h));
      sup_grad = std::max(sup_grad, sg);
      sup_hess = std::max(sup_hess, sg / p.control.coefficients(t).gain());  // grad u* = gain Hess V*
      steps_.push_back(std::move(r));
    }
  } catch (...) {
    VecDestroy(&w);
    throw;
  }
  HJBFT_PETSC(VecDestroy(&w));
  double sups[2] = {sup_grad, sup_hess};
  MPI_Allreduce(MPI_IN_PLACE, sups, 2, MPI_DOUBLE, MPI_MAX, comm);
  sup_grad_u_ = sups[0];
  sup_hess_v_ = sups[1];
}

// ---------------------------------------------------------------- errors
void FieldErrors::add(const ReferenceStep& r, const Vector& v, const Matrix& u) {
  const bool value = r.V.size() > 0;
  for (Eigen::Index i = 0; i < u.cols(); ++i) {
    if (!r.mask[i]) continue;
    sup_[1] = std::max(sup_[1], (u.col(i) - r.U.col(i)).norm());
    if (value) sup_[0] = std::max(sup_[0], std::abs(v[i] - r.V[i]));
  }
  for (Eigen::Index i = 0; i < u.cols(); ++i) {
    sum_[1] += r.weight[i] * (u.col(i) - r.U.col(i)).squaredNorm();
    if (value) sum_[0] += r.weight[i] * std::pow(v[i] - r.V[i], 2);
  }
  ++steps_;
}

void FieldErrors::reduce(MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, sup_, 2, MPI_DOUBLE, MPI_MAX, comm);
  allreduce_sum(comm, sum_, 2);
}

double FieldErrors::value_l2() const { return std::sqrt(sum_[0] / static_cast<double>(steps_)); }
double FieldErrors::control_l2() const { return std::sqrt(sum_[1] / static_cast<double>(steps_)); }

}  // namespace hjbft
