#pragma once
// The problem every command solves: forward SDE, sampler stochasticity eta,
// GMM data, pre-trained score, reward and KL weight, read from the PETSc
// options database with the option names of DESIGN.md section 6.
//
// Reading (ReadProblemOptions, PETSc style, prints -help) is separate from
// validation (build_problem, throws InputError naming the option).
#include <petscsys.h>

#include <memory>
#include <string>
#include <vector>

#include "hjbft/model/control_problem.hpp"
#include "hjbft/model/reward.hpp"

namespace hjbft {

struct ProblemOptions {
  PetscInt dim = 1;
  std::string sde = "vp";
  SdeParams sde_params;
  double eta = 1.0;
  std::vector<double> weights, means, vars, covs;
  std::string reward = "quadratic";
  std::vector<double> reward_center, reward_vector;
  double reward_scale = 1.0, reward_width = 1.0;
  std::vector<double> mix_weights, mix_means, mix_vars;
  double beta = 1.0;
  bool beta_end_set = false;
  double beta_end = 1.0;
  ScoreError score_error;
};

PetscErrorCode ReadProblemOptions(MPI_Comm comm, ProblemOptions* o);

struct Problem {
  int dim;
  ForwardSde sde;
  ControlProblem control;
  PretrainedScore score;
  std::shared_ptr<const Reward> reward;

  const Gmm& data() const { return score.data(); }
  double eta() const { return control.eta(); }
  double T() const { return sde.T(); }
  // eta = 1, exact score, constant beta, quadratic-form reward: GmmClosedForm applies.
  bool gmm_closed_form_applies() const;
  std::string describe() const;
};

Problem build_problem(const ProblemOptions& o);  // throws InputError
Problem problem_from_options(MPI_Comm comm);     // read + build

// Mixture from flat option arrays: K weights, K*d means, K (isotropic) or
// K*d*d (full) covariances.  Option names are used in error messages.
Gmm gmm_from_arrays(int d, const std::vector<double>& w, const std::vector<double>& means,
                    const std::vector<double>& vars, const std::vector<double>& covs, const std::string& prefix);

}  // namespace hjbft
