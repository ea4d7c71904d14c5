#pragma once
// The solver's operator and work vectors (private to solvers/hjb/).
#include <memory>

#include "hjb_douglas.hpp"
#include "hjb_operator.hpp"
#include "hjb_step_solver.hpp"
#include "hjbft/solvers/hjb.hpp"

namespace hjbft {

struct HjbGridSolver::Operator {
  Operator(const Problem& p, const Grid& g, bool upwind_only) : op(p, g, upwind_only) {}
  ~Operator();
  HjbOperator op;
  Mat A = nullptr, Aprev = nullptr;                    // I - theta dt L at steps j and j+1
  std::unique_ptr<DouglasSplit> split;                 // -hjb_splitting douglas: its factors instead
  ::Vec cost = nullptr, costprev = nullptr;            // c_u at steps j and j+1
  ::Vec rhs = nullptr, work = nullptr;
  ::Vec policy = nullptr;                              // Howard: the value defining the current policy
  ::Vec U = nullptr, U2 = nullptr;                     // dof-d work vectors
  // Reference drift b(t_j, x) (dof d): of every step (global PI with
  // -hjb_drift_cache), else the two most recent steps asked for (a sweep
  // needs t_j and t_{j+1}).  Computed once, on first use.
  std::vector<::Vec> drift_all;
  ::Vec drift_slot[2] = {nullptr, nullptr};
  PetscInt drift_slot_step[2] = {-1, -1};
};

}  // namespace hjbft
