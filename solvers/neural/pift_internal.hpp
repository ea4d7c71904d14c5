#pragma once
// Data shared by the parts of the neural PI-FT solver (solvers/neural/pift_*.cpp).
#include <vector>

#include "hjbft/neural_pift.hpp"

namespace hjbft {

// One outer iteration's paths on this rank: states Y[i] (d x n) at the
// simulation times t_0 = 0 < ... < t_N = T, the running cost of each step
// (N x n; KL-weighted for the discrete chain), the terminal reward, and the
// network inputs [Y_i; emb(t_i)] of every pair (i, j) as column i * n + j
// (built once, used by both fits).
struct NeuralPiftSolver::Paths {
  std::vector<Matrix> Y;
  Matrix cost;
  Vector reward;
  Matrix In;
  int nsteps() const { return static_cast<int>(Y.size()) - 1; }
  long n() const { return Y.empty() ? 0 : static_cast<long>(Y[0].cols()); }
};

// Global sums of a few doubles (the data-parallel reductions).
void allreduce_sum(MPI_Comm comm, double* v, int n);

}  // namespace hjbft
