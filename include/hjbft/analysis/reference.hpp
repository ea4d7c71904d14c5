#pragma once
// Measuring a solver's fields against a reference on the output grid: the
// reference (closed form or grid result, as a ControlSource) at the saved
// steps on this rank's owned grid points, with the fine-tuned marginal as the
// weight of the L2 norms and its high-mass region as the domain of the sup
// norms (DESIGN.md section 4); the accumulated errors of a field (V, u)
// against it; and the regularity of a field (sup |grad u|, sup |Hess V|) by
// central differences.  Used by neural PI-FT (and through it hjbft pg); any
// solver whose V and u can be evaluated at the grid points can use it.
#include <mpi.h>

#include <cstddef>
#include <functional>
#include <vector>

#include "hjbft/core/linalg.hpp"
#include "hjbft/grid/grid.hpp"
#include "hjbft/model/problem.hpp"
#include "hjbft/simulation/control_source.hpp"

namespace hjbft {

// ---------------------------------------------------------------- regularity
// The smallest grid spacing: the step of the central differences (a field
// that is resolved on the grid is resolved at this scale).
double finest_spacing(const Grid& g);

// The columns idx of `points` (d x m).
Matrix select_columns(const Matrix& points, const std::vector<Eigen::Index>& idx);

// A field evaluated at the columns of X (d x m): F (rows: its components, m columns).
using PointField = std::function<void(const Matrix& X, Matrix& F)>;

// Central differences D[b] = (F(X + h e_b) - F(X - h e_b)) / (2h), b < d: column
// q of D[b] is column b of the Jacobian of F at X.col(q), to O(h^2).  For an
// X without columns F is not called and every D[b] has no columns.
std::vector<Matrix> central_differences(const PointField& F, const Matrix& X, double h);

// Over the points q of D (from central_differences of a d-component field):
// max_q |J_q|_2, the largest singular value of the Jacobian J_q (sup |grad u|);
// 0 when there are no points.
double sup_jacobian_norm(const std::vector<Matrix>& D);
// max_q max |eig((H_q + H_q^T)/2)|, H_q the Jacobian of grad V: the spectral norm
// of the (symmetrised) Hessian of V (sup |Hess V|); 0 when there are no points.
double sup_hessian_norm(const std::vector<Matrix>& D);

// ---------------------------------------------------------------- the reference
// One saved step of the reference on this rank's owned grid points.
struct ReferenceStep {
  Vector V;                // V* (empty: the reference has no value)
  Matrix U;                // u*, d x n_local
  Vector weight;           // the fine-tuned marginal (mass one over all ranks)
  std::vector<char> mask;  // the region {weight >= level} holding `mass` of it
};

class ReferenceOnGrid {
public:
  // Collective.  `points`: the owned grid points (d x n_local, in the order of
  // g.for_each_local).  With the KL (eta > 0) and a constant beta, the
  // fine-tuned marginal from the value-tilted start is the h-transform
  // p_{T-t}(y) e^{V*(t,y)/beta} / Z; without a reference value (or for
  // eta = 0) the reference marginal p_{T-t} is the weight.  Throws
  // SolverError when u* is not finite or exceeds kLargestField (core/limits.hpp) in magnitude at a
  // saved step (errors against it would be Inf/NaN).
  ReferenceOnGrid(MPI_Comm comm, const Problem& p, const Grid& g, const Matrix& points, const ControlSource& ref,
                  double mass);
  std::size_t size() const { return steps_.size(); }  // the saved steps of the grid
  const ReferenceStep& operator[](std::size_t s) const { return steps_[s]; }
  bool has_value() const { return !steps_.empty() && steps_[0].V.size() > 0; }
  // The regularity of the reference on the mass regions of all saved steps and
  // ranks: sup |grad u*| and sup |Hess V*| = sup |grad u*| / gain.
  double sup_grad_u() const { return sup_grad_u_; }
  double sup_hess_v() const { return sup_hess_v_; }

private:
  std::vector<ReferenceStep> steps_;
  double sup_grad_u_ = 0, sup_hess_v_ = 0;
};

// ---------------------------------------------------------------- errors
// The errors of a field (V, u) against the reference over the saved steps:
//   sup over the mass region of |V - V*| and |u - u*|,
//   weighted L2 averaged over the steps: sqrt(sum_s sum_i w_i |u - u*|^2 / n_steps)
// (the weight has mass one per step, so this is the RMS error under the
// fine-tuned law, averaged in time).  add() per step on every rank, then reduce().
class FieldErrors {
public:
  // V may be empty when the reference has no value at this step.
  void add(const ReferenceStep& r, const Vector& v, const Matrix& u);
  void reduce(MPI_Comm comm);  // collective: global sups and sums
  double value_sup() const { return sup_[0]; }
  double control_sup() const { return sup_[1]; }
  double value_l2() const;
  double control_l2() const;

private:
  double sup_[2] = {0, 0};  // value, control
  double sum_[2] = {0, 0};  // weighted squared errors of V and u
  std::size_t steps_ = 0;
};

}  // namespace hjbft
