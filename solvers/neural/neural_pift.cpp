// The outer loop of neural PI-FT and its measurements against the reference
// (include/hjbft/neural_pift.hpp).
#include <petsctime.h>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <cmath>
#include <cstdio>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/text.hpp"
#include "hjbft/grid/grid_fields.hpp"
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
  }
  first_path_ = o_.paths * rank_ / size_;
  local_paths_ = o_.paths * (rank_ + 1) / size_ - first_path_;
  times_ = uniform_times(p_.T(), static_cast<int>(o_.nsteps));
  grid_points_.resize(p_.dim, g_.n_local());
  g_.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) { grid_points_.col(idx) = x; });
  if (ref_) setup_reference();
}

NeuralPiftSolver::~NeuralPiftSolver() = default;

// At every saved step: V*, u* at the owned grid points, the fine-tuned
// marginal as weight and its high-mass region.  With the KL (eta > 0) and a
// constant beta, the fine-tuned marginal from the value-tilted start is the
// h-transform p_{T-t}(y) e^{V*(t,y)/beta} / Z (DESIGN.md section 4); without
// a reference value (or for eta = 0) the reference marginal p_{T-t} is used.
void NeuralPiftSolver::setup_reference() {
  ::Vec w;
  HJBFT_PETSC(DMCreateGlobalVector(g_.da(), &w));
  const double hfd = [&] {
    double h = g_.h(0);
    for (int a = 1; a < g_.dim(); ++a) h = std::min(h, g_.h(a));
    return h;
  }();
  double sup_grad = 0, sup_hess = 0;
  try {
    for (PetscInt j : g_.saved_steps()) {
      const double t = g_.time(j);
      RefAtSaved r;
      std::vector<char> outside(grid_points_.cols(), 0);
      ref_->prepare({t});
      ref_->eval(t, grid_points_, r.U, outside);
      // Errors against a reference that overflows (u* ~ 1/beta for -beta 1e-300) would be Inf/NaN.
      int bad = !r.U.array().isFinite().all() || (r.U.array().abs() > kLargestField).any();
      MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_LOR, comm_);
      if (bad)
        throw SolverError("the reference control " + ref_->name() + " is not finite or overflows (|u| > 1e150) at t = " +
                          std::to_string(t) + "; nothing was written");
      if (!ref_->value(t, grid_points_, r.V, outside)) r.V.resize(0);
      const bool tilt = r.V.size() > 0 && p_.control.cole_hopf_applies();
      grid_law(g_, FastGmmScore(p_.score.at_tau(p_.T() - t).marginal(), ScoreError{}), tilt ? r.V.data() : nullptr,
               p_.control.beta()(t), w);
      const PetscScalar* wa;
      HJBFT_PETSC(VecGetArrayRead(w, &wa));
      r.weight = Eigen::Map<const Vector>(wa, g_.n_local());
      const double level = mass_level(comm_, wa, g_.n_local(), o_.mass);
      HJBFT_PETSC(VecRestoreArrayRead(w, &wa));
      r.mask.resize(g_.n_local());
      for (PetscInt i = 0; i < g_.n_local(); ++i) r.mask[i] = r.weight[i] >= level;
      // Regularity of the reference: central differences of u* with the grid spacing.
      const double gain = p_.control.coefficients(t).gain();
      Matrix Xm;
      std::vector<PetscInt> pts;
      for (PetscInt i = 0; i < g_.n_local(); ++i)
        if (r.mask[i]) pts.push_back(i);
      Xm.resize(p_.dim, pts.size());
      for (std::size_t q = 0; q < pts.size(); ++q) Xm.col(q) = grid_points_.col(pts[q]);
      std::vector<Matrix> dU(p_.dim, Matrix(p_.dim, 0));
      for (int b = 0; b < p_.dim && !pts.empty(); ++b) {
        Matrix Xp = Xm, Xn = Xm, Up, Un;
        Xp.row(b).array() += hfd;
        Xn.row(b).array() -= hfd;
        std::vector<char> o2(Xm.cols(), 0);
        ref_->eval(t, Xp, Up, o2);
        ref_->eval(t, Xn, Un, o2);
        dU[b] = (Up - Un) / (2 * hfd);
      }
      double sg = 0;
      for (Eigen::Index q = 0; q < Xm.cols(); ++q) {
        Matrix J(p_.dim, p_.dim);
        for (int b = 0; b < p_.dim; ++b) J.col(b) = dU[b].col(q);
        sg = std::max(sg, Eigen::JacobiSVD<Matrix>(J).singularValues()(0));
      }
      sup_grad = std::max(sup_grad, sg);
      sup_hess = std::max(sup_hess, sg / gain);  // grad u* = gain Hess V*
      refs_.push_back(std::move(r));
    }
  } catch (...) {
    VecDestroy(&w);
    throw;
  }
  HJBFT_PETSC(VecDestroy(&w));
  double sups[2] = {sup_grad, sup_hess};
  MPI_Allreduce(MPI_IN_PLACE, sups, 2, MPI_DOUBLE, MPI_MAX, comm_);
  summary_["reference_sup_grad_u"] = sups[0];
  summary_["reference_sup_hess_v"] = sups[1];
}

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
  const int d = p_.dim;
  const long n = P.n();
  // Objective: sums of J, J^2 and (when V* is known) of the gap and its square.
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

  // Fields on the grid.
  const auto& steps = g_.saved_steps();
  const double hfd = [&] {
    double h = g_.h(0);
    for (int a = 1; a < g_.dim(); ++a) h = std::min(h, g_.h(a));
    return h;
  }();
  double mx[5] = {0, 0, 0, 0, 0};  // value sup, control sup, change, sup |grad u|, sup |Hess V|
  double sm[2] = {0, 0};           // weighted squared errors of V and u
  const bool first = prev_control_.size() == 0;
  if (first) prev_control_.setZero(d, g_.n_local() * static_cast<Eigen::Index>(steps.size()));
  for (std::size_t si = 0; si < steps.size(); ++si) {
    const double t = g_.time(steps[si]);
    Vector v;
    Matrix u;
    fields_->value(t, grid_points_, v);
    fields_->control(t, grid_points_, u);
    auto prev = prev_control_.middleCols(si * g_.n_local(), g_.n_local());
    // Mask: the fine-tuned high-mass region when a reference is known, else the whole grid.
    const RefAtSaved* r = ref_ ? &refs_[si] : nullptr;
    std::vector<Eigen::Index> pts;
    for (PetscInt i = 0; i < g_.n_local(); ++i) {
      if (r && !r->mask[i]) continue;
      pts.push_back(i);
      mx[2] = std::max(mx[2], (u.col(i) - prev.col(i)).norm());
      if (r) {
        const double eu = (u.col(i) - r->U.col(i)).norm();
        mx[1] = std::max(mx[1], eu);
        if (r->V.size()) mx[0] = std::max(mx[0], std::abs(v[i] - r->V[i]));
      }
    }
    if (r)
      for (PetscInt i = 0; i < g_.n_local(); ++i) {
        sm[1] += r->weight[i] * (u.col(i) - r->U.col(i)).squaredNorm();
        if (r->V.size()) sm[0] += r->weight[i] * std::pow(v[i] - r->V[i], 2);
      }
    prev = u;
    // Regularity: central differences (step = grid spacing) of grad V and u.
    Matrix Xm(d, pts.size());
    for (std::size_t q = 0; q < pts.size(); ++q) Xm.col(q) = grid_points_.col(pts[q]);
    std::vector<Matrix> dG(d), dU(d);
    for (int b = 0; b < d && !pts.empty(); ++b) {
      Matrix Xp = Xm, Xn = Xm, Gp, Gn, Up, Un;
      Xp.row(b).array() += hfd;
      Xn.row(b).array() -= hfd;
      fields_->value_gradient(t, Xp, Gp);
      fields_->value_gradient(t, Xn, Gn);
      fields_->control(t, Xp, Up);
      fields_->control(t, Xn, Un);
      dG[b] = (Gp - Gn) / (2 * hfd);
      dU[b] = (Up - Un) / (2 * hfd);
    }
    Matrix H(d, d), Ju(d, d);
    for (Eigen::Index q = 0; q < Xm.cols(); ++q) {
      for (int b = 0; b < d; ++b) {
        H.col(b) = dG[b].col(q);
        Ju.col(b) = dU[b].col(q);
      }
      const Matrix Hs = 0.5 * (H + H.transpose());
      mx[4] = std::max(mx[4], Eigen::SelfAdjointEigenSolver<Matrix>(Hs).eigenvalues().cwiseAbs().maxCoeff());
      mx[3] = std::max(mx[3], Eigen::JacobiSVD<Matrix>(Ju).singularValues()(0));
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, mx, 5, MPI_DOUBLE, MPI_MAX, comm_);
  allreduce_sum(comm_, sm, 2);
  const double ns = static_cast<double>(steps.size());
  if (ref_) {
    if (refs_[0].V.size()) {
      hist_.add("error_value_sup", mx[0]);
      hist_.add("error_value_l2", std::sqrt(sm[0] / ns));
    }
    hist_.add("error_control_sup", mx[1]);
    const double l2 = std::sqrt(sm[1] / ns);
    const auto& col = hist_.columns["error_control_l2"];
    hist_.add("error_ratio", col.empty() ? NAN : l2 / col.back());
    hist_.add("error_control_l2", l2);
  }
  hist_.add("control_change", mx[2]);
  const auto& ch = hist_.columns["control_change"];
  hist_.add("change_ratio", ch.size() > 1 ? mx[2] / ch[ch.size() - 2] : NAN);
  hist_.add("sup_grad_u", mx[3]);
  hist_.add("sup_hess_v", mx[4]);
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
    auto last = [&](const char* name) {
      auto it = hist_.columns.find(name);
      return it == hist_.columns.end() ? NAN : it->second.back();
    };
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
