#pragma once
// The solver's operator and work vectors (private to solvers/hjb/).
#include "hjb_operator.hpp"
#include "hjbft/solvers/hjb.hpp"

namespace hjbft {

struct HjbGridSolver::Operator {
  Operator(const Problem& p, const Grid& g, bool upwind_only) : op(p, g, upwind_only) {}
  ~Operator();
  HjbOperator op;
  Mat A = nullptr, Aprev = nullptr;                    // I - theta dt L at steps j and j+1
  ::Vec cost = nullptr, costprev = nullptr;            // c_u at steps j and j+1
  ::Vec rhs = nullptr, work = nullptr;
  ::Vec U = nullptr, U2 = nullptr;                     // dof-d work vectors
};

}  // namespace hjbft
