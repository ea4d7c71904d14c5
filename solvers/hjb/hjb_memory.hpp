#pragma once
// What a grid HJB solve will hold in memory, per rank, before it allocates it
// (private to solvers/hjb/).  The dominant parts are the fields over the whole
// horizon: every method keeps V at all nt+1 steps (the output and the
// Fokker-Planck pass read them); global PI keeps a second copy (the previous
// iterate), the reference drift of every step (nt+1 x N x d numbers, unless
// -hjb_drift_cache 0) and the improved control at the saved steps of every
// iteration (bounded by -pi_max_it); -hjb_tolerance auto adds its two companion
// solves on coarser grids.  Howard and Cole-Hopf hold one step of
// everything else: the per-step methods are the path for large (3-D) grids.
#include <string>
#include <utility>
#include <vector>

#include "hjbft/grid/grid.hpp"
#include "hjbft/solvers/hjb.hpp"

namespace hjbft {

struct MemoryEstimate {
  std::vector<std::pair<std::string, double>> parts;  // (what, MiB per rank)
  double total_mib() const;
  std::string describe() const;  // "about X MiB per rank (part a, part b, ...)"
};

MemoryEstimate estimate_memory(const Grid& g, const HjbOptions& o, bool with_exact);

// Peak resident set of this process so far, MiB, the largest over the ranks (collective).
double peak_rss_mib(MPI_Comm comm);

}  // namespace hjbft
