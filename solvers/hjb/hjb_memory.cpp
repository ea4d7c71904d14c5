#include "hjb_memory.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace hjbft {

double MemoryEstimate::total_mib() const {
  double t = 0;
  for (const auto& [what, mib] : parts) t += mib;
  return t;
}

std::string MemoryEstimate::describe() const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "about %.0f MiB per rank (", total_mib());
  std::string s = buf;
  bool first = true;
  for (const auto& [what, mib] : parts) {
    if (mib < 0.5) continue;
    std::snprintf(buf, sizeof buf, "%s%s %.0f", first ? "" : ", ", what.c_str(), mib);
    s += buf;
    first = false;
  }
  return s + ")";
}

MemoryEstimate estimate_memory(const Grid& g, const HjbOptions& o, bool with_exact) {
  int ranks;
  MPI_Comm_size(g.comm(), &ranks);
  const double N = static_cast<double>(g.n_total()) / ranks;  // points per rank
  const double d = g.dim(), steps = static_cast<double>(g.nt() + 1);
  const double saved = static_cast<double>(g.saved_steps().size());
  const double vec = N * 8 / (1024.0 * 1024.0);  // one scalar field, MiB
  const bool pi = o.method == "pi";
  MemoryEstimate m;
  // The program with PETSc, MPI and HDF5 loaded: a 21-point 1-D solve peaks at 47 MiB
  // resident on Debian 12 (PETSc 3.18, Open MPI 4.1).
  m.parts.emplace_back("program and libraries", 45);
  m.parts.emplace_back("V at all steps", steps * vec);
  if (pi) m.parts.emplace_back("PI previous iterate", steps * vec);
  m.parts.emplace_back("drift cache", (pi && o.drift_cache ? steps : 2.0) * d * vec);
  if (pi) m.parts.emplace_back("PI saved controls (bound)", static_cast<double>(o.pi_max_it) * saved * d * vec);
  m.parts.emplace_back("reference fields", saved * (3 + (with_exact ? 1 + d : 0)) * vec);
  // Two star-stencil matrices (value 8 B + column index 4 B per entry) and a
  // factor of the same size (ILU(0)); GMRES(30) basis; work and ghosted vectors.
  const double nnz_per_row = 2 * d + 1;
  m.parts.emplace_back("matrices, preconditioner, Krylov", (3 * nnz_per_row * 1.5 + 32 + 12 + 4 * d) * vec);
  // -hjb_splitting douglas: two sets of d one-axis factors (3 entries per row),
  // their ILU(0) factors, and per axis the work vectors of its line solve (a
  // short GMRES basis on several ranks).
  if (o.splitting == "douglas") m.parts.emplace_back("Douglas factors", d * (3 * 3 * 1.5 + 8) * vec);
  // -hjb_tolerance auto: the companions at 2h, 4h (their V at every step and their
  // work arrays, on 2^d and 4^d times fewer points), alive with the run.
  if (o.tolerance == "auto") {
    const double work = 3 * nnz_per_row * 1.5 + 32 + 12 + 4 * d + 31 + 3 * saved;
    m.parts.emplace_back("companions (2h, 4h)", ((steps / 2 + work) / std::pow(2.0, d) +
                                                 (steps / 4 + work) / std::pow(4.0, d)) * vec);
  }
  // The rest (DMDA scatters and index maps for three DMs, the writer's slices,
  // matrix row arrays) calibrated on one run: Howard 513^2 x 20 peaked at 439 MiB
  // resident where the parts above sum to 377 MiB, 31 scalar fields more.
  m.parts.emplace_back("maps and buffers", 31 * vec);
  return m;
}

double peak_rss_mib(MPI_Comm comm) {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  double mib = static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  MPI_Allreduce(MPI_IN_PLACE, &mib, 1, MPI_DOUBLE, MPI_MAX, comm);
  return mib;
}

}  // namespace hjbft
