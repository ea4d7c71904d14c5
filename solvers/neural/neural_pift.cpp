// The outer loop of neural PI-FT and its measurements against the reference
// (include/hjbft/solvers/neural.hpp).
#include <petsctime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hjbft/analysis/reference.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/text.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/io/network_io.hpp"
#include "pift_internal.hpp"

namespace hjbft {

NeuralPiftSolver::NeuralPiftSolver(MPI_Comm comm, const Problem& p, const Grid& g, NeuralOptions o,
                                   const ControlSource* reference, std::unique_ptr<ControlUpdate> update)
    : comm_(comm), p_(p), g_(g), o_(std::move(o)), ref_(reference), update_(std::move(update)) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  validate(o_, size_);
  fields_ = std::make_unique<NeuralFields>(p_, o_);
  if (!o_.load.empty()) {
    const NetworkFile file(o_.load, "-neural_load");
    file.load("/networks/value", fields_->value_net());
    file.load("/networks/control", fields_->control_net());
    const std::string form = file.form("/networks/control");
    if ((form.empty() ? "free" : form) != o_.control_form)
      throw InputError("-neural_load", "the control network in '" + o_.load + "' has the form '" +
                                           (form.empty() ? "free" : form) + "', this run uses -neural_control_form " +
                                           o_.control_form);
    fields_->set_control_fitted();
  }
  first_path_ = o_.paths * rank_ / size_;
  local_paths_ = o_.paths * (rank_ + 1) / size_ - first_path_;
  times_ = uniform_times(p_.T(), static_cast<int>(o_.nsteps));
  grid_points_.resize(p_.dim, g_.n_local());
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) { grid_points_.col(idx) = x; });
  if (ref_) {
    reference_ = std::make_unique<ReferenceOnGrid>(comm_, p_, g_, grid_points_, *ref_, o_.mass);
    summary_["reference_sup_grad_u"] = reference_->sup_grad_u();
    summary_["reference_sup_hess_v"] = reference_->sup_hess_v();
  }
}

NeuralPiftSolver::~NeuralPiftSolver() = default;

void NeuralPiftSolver::fields_on_grid(int s, ::Vec V, ::Vec U) const {
  const double t = g_.time(g_.saved_steps()[s]);
  Vector v;
  Matrix u;
  fields_->value(t, grid_points_, v);
  fields_->control(t, grid_points_, u);
  PetscScalar *va, *ua;
  HJBFT_PETSC(VecGetArray(V, &va));
  HJBFT_PETSC(VecGetArray(U, &ua));
  Eigen::Map<Vector>(va, v.size()) = v;
  Eigen::Map<Matrix>(ua, u.rows(), u.cols()) = u;  // dof-interleaved = column-major d x n
  HJBFT_PETSC(VecRestoreArray(V, &va));
  HJBFT_PETSC(VecRestoreArray(U, &ua));
}

// Per outer iteration k: the objective of u^k (from its paths, with the gap
// to J* = E V*(0, Y_0) on the same initial states), the errors of V^k and
// u^{k+1} on the grid, the control change and the regularity of the networks.
void NeuralPiftSolver::measure(const Paths& P) {
  measure_objective(P);
  measure_fields();
}

// J(u^k) = E[r(Y_T) - sum_i c_i] by the mean over all ranks' paths, with its
// standard error; the gap J* - J(u^k) uses V*(0, Y_0) of the same initial
// states (common random numbers), so its error bar is that of the difference.
void NeuralPiftSolver::measure_objective(const Paths& P) {
  const long n = P.n();
  // Sums of J, J^2 and (when V* is known) of the gap and its square; the path count.
  double s[6] = {0, 0, 0, 0, static_cast<double>(n), 0};
  Vector Vstar;
  std::vector<char> outside(n, 0);
  const bool have_v0 = ref_ && ref_->value(0.0, P.Y[0], Vstar, outside);
  for (long j = 0; j < n; ++j) {
    const double J = P.reward[j] - P.cost.col(j).sum();
    s[0] += J;
    s[1] += J * J;
    if (have_v0) {
      s[2] += Vstar[j] - J;
      s[3] += (Vstar[j] - J) * (Vstar[j] - J);
    }
  }
  allreduce_sum(comm_, s, 6);
  const double N = s[4];
  auto mean_se = [N](double sum, double sum2) {
    const double m = sum / N, var = std::max(sum2 / N - m * m, 0.0);
    return std::pair<double, double>{m, std::sqrt(var / std::max(N - 1, 1.0))};
  };
  const auto [J, Jse] = mean_se(s[0], s[1]);
  hist_.add("objective", J);
  hist_.add("objective_se", Jse);
  if (have_v0) {
    const auto [gap, gse] = mean_se(s[2], s[3]);
    hist_.add("objective_gap", gap);
    hist_.add("objective_gap_se", gse);
  }
}

namespace {

// The owned points where the fields are compared: the reference's mass
// region (the sup norms are taken where the fine-tuned law lives; far out in
// the tails neither the networks nor the paths have any information), or the
// whole grid without a reference.
std::vector<Eigen::Index> compared_points(const ReferenceStep* r, PetscInt n_local) {
  std::vector<Eigen::Index> pts;
  for (PetscInt i = 0; i < n_local; ++i)
    if (!r || r->mask[i]) pts.push_back(i);
  return pts;
}

// sup |Hess V| and sup |grad u| of the networks at the columns of X (time t),
// by central differences of grad V and u with step h.
void network_regularity(const NeuralFields& f, double t, const Matrix& X, double h, double& sup_grad_u,
                        double& sup_hess_v) {
  const PointField grad_v = [&](const Matrix& Y, Matrix& G) { f.value_gradient(t, Y, G); };
  const PointField u = [&](const Matrix& Y, Matrix& U) { f.control(t, Y, U); };
  sup_hess_v = std::max(sup_hess_v, sup_hessian_norm(central_differences(grad_v, X, h)));
  sup_grad_u = std::max(sup_grad_u, sup_jacobian_norm(central_differences(u, X, h)));
}

}  // namespace

// The networks on the grid at every saved step: their errors against the
// reference, the change sup |u^{k+1} - u^k| (the fixed-point residual of the
// policy iteration), and their regularity, all on the compared points.
void NeuralPiftSolver::measure_fields() {
  const auto& steps = g_.saved_steps();
  const PetscInt nl = g_.n_local();
  const double h = finest_spacing(g_);
  double mx[3] = {0, 0, 0};  // change, sup |grad u|, sup |Hess V|
  FieldErrors errors;
  if (prev_control_.size() == 0) prev_control_.setZero(p_.dim, nl * static_cast<Eigen::Index>(steps.size()));
  for (std::size_t si = 0; si < steps.size(); ++si) {
    const double t = g_.time(steps[si]);
    Vector v;
    Matrix u;
    fields_->value(t, grid_points_, v);
    fields_->control(t, grid_points_, u);
    const ReferenceStep* r = reference_ ? &(*reference_)[si] : nullptr;
    const std::vector<Eigen::Index> pts = compared_points(r, nl);
    auto prev = prev_control_.middleCols(si * nl, nl);
    for (Eigen::Index i : pts) mx[0] = std::max(mx[0], (u.col(i) - prev.col(i)).norm());
    prev = u;
    if (r) errors.add(*r, v, u);
    network_regularity(*fields_, t, select_columns(grid_points_, pts), h, mx[1], mx[2]);
  }
  MPI_Allreduce(MPI_IN_PLACE, mx, 3, MPI_DOUBLE, MPI_MAX, comm_);
  if (reference_) {
    errors.reduce(comm_);
    if (reference_->has_value()) {
      hist_.add("error_value_sup", errors.value_sup());
      hist_.add("error_value_l2", errors.value_l2());
    }
    hist_.add("error_control_sup", errors.control_sup());
    const double l2 = errors.control_l2();
    const auto& col = hist_.columns["error_control_l2"];
    hist_.add("error_ratio", col.empty() ? NAN : l2 / col.back());
    hist_.add("error_control_l2", l2);
  }
  hist_.add("control_change", mx[0]);
  const auto& ch = hist_.columns["control_change"];
  hist_.add("change_ratio", ch.size() > 1 ? mx[0] / ch[ch.size() - 2] : NAN);
  hist_.add("sup_grad_u", mx[1]);
  hist_.add("sup_hess_v", mx[2]);
}

bool NeuralPiftSolver::run() {
  const double t_start = now();
  if (rank_ == 0 && o_.monitor)
    std::printf("hjbft neural (%s, %s evaluation): %ld paths x %d steps per iteration, value net %s, control net %s\n",
                o_.mode.c_str(), o_.evaluation.c_str(), o_.paths, static_cast<int>(o_.nsteps),
                fields_->value_net().shape().describe().c_str(), fields_->control_net().shape().describe().c_str());
  for (int k = 0; k < o_.outer; ++k) {
    const double t0 = now();
    Paths P;
    simulate(k, P);
    const double t1 = now();
    const double lv = fit_value(k, P);
    const double t2 = now();
    const double lu = update_ ? update_->update(k, P, *fields_, hist_) : fit_control(k, P);
    const double t3 = now();
    hist_.add("iteration", k);
    hist_.add("loss_value", lv);
    hist_.add("loss_control", lu);
    measure(P);
    const double t4 = now();
    hist_.add("time_simulate", t1 - t0);
    hist_.add("time_fit_value", t2 - t1);
    hist_.add("time_fit_control", t3 - t2);
    hist_.add("time_measure", t4 - t3);
    hist_.add("wall_time", t4 - t0);
    auto last = [&](const char* name) { return hist_.last(name); };
    if (rank_ == 0 && o_.monitor) {
      std::printf("  k=%2d  J(u^k) %.5f +- %.5f", k, last("objective"), last("objective_se"));
      if (hist_.columns.count("objective_gap"))
        std::printf("  gap %.2e +- %.1e", last("objective_gap"), last("objective_gap_se"));
      if (ref_) std::printf("  |u-u*| L2 %.3e sup %.3e", last("error_control_l2"), last("error_control_sup"));
      std::printf("  change %.3e  losses %.2e %.2e  %.2fs\n", last("control_change"), lv, lu, t4 - t0);
      std::fflush(stdout);
    }
    const double change = last("control_change");
    if (k == 0) first_change_ = change;
    if (k > 0 && change > o_.diverge * first_change_) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "diverging: control change %.3e at outer iteration %d exceeds -neural_diverge %g times the first "
                    "(%.3e)",
                    change, k, o_.diverge, first_change_);
      stop_reason_ = buf;
      break;
    }
  }
  summary_["wall_time"] = now() - t_start;
  summary_["outer_iterations"] = static_cast<double>(hist_.columns["iteration"].size());
  for (const char* name : {"objective", "objective_gap", "error_control_l2", "error_control_sup", "error_value_l2",
                           "error_value_sup", "sup_grad_u", "sup_hess_v"}) {
    auto it = hist_.columns.find(name);
    if (it != hist_.columns.end()) summary_[name] = it->second.back();
  }
  return stop_reason_.empty();
}

}  // namespace hjbft
