#pragma once
// hjbft sample's library side: the command line's control sources, the
// sampler run over MPI ranks with its results gathered, and the statistics
// of the samples (reward, path cost, objective, the law they are compared with).
#include <mpi.h>

#include <memory>
#include <string>

#include "hjbft/analysis/law_distance.hpp"
#include "hjbft/simulation/control_source.hpp"
#include "hjbft/simulation/sampler.hpp"

namespace hjbft {

// "none" | "exact" | "grid:FILE.h5" | "neural:FILE.h5" (the networks of an
// hjbft neural result).  Throws InputError("-control", ...).
std::unique_ptr<ControlSource> make_control_source(const Problem& p, const std::string& spec);

// V(0, .) for the tilted initial law and E V(0, Y_0): the control source when it
// knows its value, else the closed form when one applies (held in *owned), else null.
const ControlSource* value_source(const Problem& p, const ControlSource& control,
                                  std::unique_ptr<ControlSource>* owned);

// The paths of every rank (path i of n_total on the rank that owns it), gathered on rank 0.
struct SampleRun {
  Matrix y0, yT;          // rank 0: n_total x d; other ranks: no rows
  Vector cost, outside;   // rank 0: n_total (outside: 1 when the path left the control's box)
  long steps = 0;         // accepted steps per path, the largest over ranks
  double seconds = 0;     // wall time of the integration, the largest over ranks
};
SampleRun run_sampler(MPI_Comm comm, const Sampler& sampler, const InitialSampler& init, long n_total);

// Statistics of a gathered run (rank 0).  Throws SolverError when a path is not
// finite (an overflowed control or an unstable sampler): nothing may be written then.
struct SampleStatistics {
  Vector reward, objective;   // per path: r(Y_T), r(Y_T) - cost
  double mean_reward = 0, reward_stderr = 0, mean_cost = 0, cost_stderr = 0;
  double mean_objective = 0, objective_stderr = 0, outside_fraction = 0;
  bool have_V0 = false;       // E V(0, Y_0) known (from value_source)
  double mean_V0 = 0;
};
SampleStatistics sample_statistics(const Problem& p, const SampleRun& run, const ControlSource& control,
                                   const ControlSource* value);

// The law the samples are compared with (-compare auto | tilted | data | none):
// returns the resolved choice and sets *law (unless none).  auto: p_data without
// a control, the tilted law for a linear or quadratic reward, else none.
std::string comparison_law(const Problem& p, const ControlSource& control, const std::string& compare, Gmm* law);

}  // namespace hjbft
