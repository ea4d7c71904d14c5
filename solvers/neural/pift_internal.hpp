#pragma once
// Data shared by the parts of the neural PI-FT solver (solvers/neural/pift_*.cpp).
#include "hjbft/core/mpi.hpp"
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

// One outer iteration's paths on this rank (simulation/paths.hpp) and the
// network inputs [Y_i; emb(t_i)] of every pair (i, j) as column i * n + j
// (built once, used by both fits).
struct NeuralPiftSolver::Paths : SimulatedPaths {
  Matrix In;
};

}  // namespace hjbft
