// Forward Fokker-Planck under the final control, as the discrete adjoint of
// the evaluation scheme.  The evaluation step reads
//   A_j V^j = M_{j+1} V^{j+1} + dt (...),   M_{j+1} = I + (1-theta_j)/theta_{j+1} (I - A_{j+1}),
// so point masses mu_j (E[phi(Y_{t_j})] = mu_j . phi) evolve by
//   mu_{j+1} = M_{j+1}^T A_j^{-T} mu_j.
// Rows of A sum to one, so total mass is conserved exactly, and E_mu0[V^0]
// equals mu_T . r minus the discrete running cost: the density is the one the
// computed value function describes.  In the KL case with constant beta and
// the value-tilted initial law p_T(y) e^{V(0,y)/beta}/Z, the terminal law is
// the tilted law p_data e^{r/beta}/Z (DESIGN.md section 4), evaluated here on
// the grid for any reward.
#include <cmath>

#include "hjb_solver_internal.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/petsc_vec.hpp"

namespace hjbft {

// The initial law -fp_init on the grid, normalized to mass one (log space, then exp).
void HjbGridSolver::fp_initial_law(::Vec mu) const {
  const int d = g_.dim();
  const double tau = p_.T();
  const Gmm pT = o_.fp_init == "gaussian" ? Gmm({{1.0, Vector::Zero(d), p_.sde.v(tau) * Matrix::Identity(d, d)}})
                                          : p_.score.at_tau(tau).marginal();
  const PetscScalar* v0;
  HJBFT_PETSC(VecGetArrayRead(V_[0], &v0));
  grid_law(g_, FastGmmScore(pT, ScoreError{}), o_.fp_init == "tilted" ? v0 : nullptr, p_.control.beta()(0), mu);
  HJBFT_PETSC(VecRestoreArrayRead(V_[0], &v0));
}

// The terminal law mu against the tilted law p_data e^{r/beta} / Z on the grid
// (its target in the KL case with constant beta); w is a work vector.
void HjbGridSolver::fp_compare_with_tilted(::Vec mu, ::Vec w) {
  PetscReal mass;
  HJBFT_PETSC(VecSum(mu, &mass));
  summary_["fp_terminal_mass"] = mass;
  if (p_.control.cole_hopf_applies()) {
    const PetscScalar* r;  // the terminal value is the reward
    HJBFT_PETSC(VecGetArrayRead(V_[g_.nt()], &r));
    grid_law(g_, FastGmmScore(p_.data(), ScoreError{}), r, p_.control.beta()(0), w);  // p_data e^{r/beta} / Z
    HJBFT_PETSC(VecRestoreArrayRead(V_[g_.nt()], &r));
    PetscReal l1;
    HJBFT_PETSC(VecAXPY(w, -1.0, mu));
    HJBFT_PETSC(VecNorm(w, NORM_1, &l1));
    summary_["fp_l1_to_tilted"] = l1;
    if (o_.monitor)
      HJBFT_PETSC(PetscPrintf(g_.comm(), "  fokker-planck (init %s): terminal mass %.15g, L1 distance to the tilted law %.3e\n",
                              o_.fp_init.c_str(), mass, l1));
  } else if (o_.monitor) {
    // eta = 0 or beta(t): the tilted law is not the fine-tuned target, so no distance to it.
    HJBFT_PETSC(PetscPrintf(g_.comm(), "  fokker-planck (init %s): terminal mass %.15g\n", o_.fp_init.c_str(), mass));
  }
}

void HjbGridSolver::fokker_planck(std::vector<::Vec>* density) {
  const double dt = g_.dt();
  double cell = 1;
  for (int a = 0; a < g_.dim(); ++a) cell *= g_.h(a);
  const OwnedVec mu = OwnedVec::like(op_->work), w = OwnedVec::like(op_->work);
  fp_initial_law(mu);
  auto save = [&](PetscInt j) {
    const int s = g_.saved_index(j);
    if (s < 0) return;
    HJBFT_PETSC(VecCopy(mu, (*density)[s]));
    HJBFT_PETSC(VecScale((*density)[s], 1.0 / cell));
  };
  for (auto& v : *density) HJBFT_PETSC(VecDestroy(&v));
  density->assign(g_.saved_steps().size(), nullptr);
  for (auto& v : *density) HJBFT_PETSC(VecDuplicate(op_->work, &v));
  save(0);

  // A_j for the current step; A_{j+1} (with its theta) for the explicit part.
  to_local(V_[0], loc_);
  op_->op.assemble(g_.time(0), theta_at(0), dt, drift(0), loc_, op_->A, nullptr);
  for (PetscInt j = 0; j < g_.nt(); ++j) {
    const double theta = theta_at(j);
    HJBFT_PETSC(VecCopy(mu, w));
    step_->begin_step(j);
    step_->solve(op_->A, mu, w, g_.time(j), true);
    // The operator of the next step: theta_at(j+1), or theta = 1 at t = T (as in the sweeps).
    const double theta_next = j + 1 < g_.nt() ? theta_at(j + 1) : 1.0;
    to_local(V_[j + 1], loc_);
    op_->op.assemble(g_.time(j + 1), theta_next, dt, drift(j + 1), loc_, op_->Aprev, nullptr);
    HJBFT_PETSC(VecCopy(w, mu));
    if (theta < 1) {  // mu += (1-theta)/theta_next (w - A_{j+1}^T w)
      HJBFT_PETSC(MatMultTranspose(op_->Aprev, w, op_->work));
      HJBFT_PETSC(VecAYPX(op_->work, -1.0, w));
      HJBFT_PETSC(VecAXPY(mu, (1 - theta) / theta_next, op_->work));
    }
    std::swap(op_->A, op_->Aprev);
    save(j + 1);
  }
  fp_compare_with_tilted(mu, w);
}

}  // namespace hjbft
