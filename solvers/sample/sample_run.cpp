// The sampler run over MPI ranks and the statistics of its samples (see sample.hpp).
#include <cmath>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/mpi.hpp"
#include "hjbft/exact/closed_form.hpp"
#include "hjbft/solvers/sample.hpp"

namespace hjbft {

const ControlSource* value_source(const Problem& p, const ControlSource& control,
                                  std::unique_ptr<ControlSource>* owned) {
  Vector V;
  std::vector<char> o(1, 0);
  if (control.value(0.0, Matrix::Zero(p.dim, 1), V, o)) return &control;
  try {
    *owned = make_exact_control(p);
    return owned->get();
  } catch (const InputError&) {
    return nullptr;  // no value: no tilted initial law, no E V(0, Y_0)
  }
}

SampleRun run_sampler(MPI_Comm comm, const Sampler& sampler, const InitialSampler& init, long n_total) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const long first = n_total * rank / size, n_local = n_total * (rank + 1) / size - first;
  MPI_Barrier(comm);
  const double t0 = MPI_Wtime();
  const Matrix y0 = init.sample(first, n_local);
  const PathResults res = sampler.integrate(y0, static_cast<std::uint64_t>(first));
  const double seconds_local = MPI_Wtime() - t0;
  SampleRun run;
  MPI_Allreduce(&seconds_local, &run.seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(&res.steps, &run.steps, 1, MPI_LONG, MPI_MAX, comm);
  Matrix extra(n_local, 2);
  for (long i = 0; i < n_local; ++i) {
    extra(i, 0) = res.cost[i];
    extra(i, 1) = res.outside[i];
  }
  run.yT = gather_rows(comm, res.yT, n_total);
  run.y0 = gather_rows(comm, res.y0, n_total);
  const Matrix ex = gather_rows(comm, extra, n_total);
  run.cost = ex.col(0);
  run.outside = ex.col(1);
  return run;
}

namespace {
// Monte Carlo standard error of the mean of x.
double standard_error(const Vector& x) {
  const long n = x.size();
  const double m = x.mean();
  return n > 1 ? std::sqrt((x.array() - m).square().sum() / (n - 1) / n) : 0.0;
}
}  // namespace

SampleStatistics sample_statistics(const Problem& p, const SampleRun& run, const ControlSource& control,
                                   const ControlSource* value) {
  const long N = run.yT.rows();
  SampleStatistics s;
  s.reward.resize(N);
  for (long i = 0; i < N; ++i) s.reward[i] = p.reward->value(run.yT.row(i).transpose());
  s.objective = s.reward - run.cost;
  // A path that overflowed (a control of 1e300 from -beta 1e-300, an unstable sampler) makes
  // every statistic NaN: refused before anything is printed as a result or written.
  const long bad =
      N - static_cast<long>((run.yT.array().isFinite().rowwise().all() && s.objective.array().isFinite()).count());
  if (bad > 0)
    throw SolverError(std::to_string(bad) + " of " + std::to_string(N) + " paths are not finite (their end point, "
                      "reward or path cost overflowed); nothing was written");
  s.outside_fraction = run.outside.mean();
  s.mean_reward = s.reward.mean();
  s.reward_stderr = standard_error(s.reward);
  s.mean_cost = run.cost.mean();
  s.cost_stderr = standard_error(run.cost);
  s.mean_objective = s.objective.mean();
  s.objective_stderr = standard_error(s.objective);
  if (value && !control.zero()) {
    Vector V0;
    std::vector<char> o(N, 0);
    s.have_V0 = value->value(0.0, run.y0.transpose(), V0, o);
    if (s.have_V0) s.mean_V0 = V0.mean();
  }
  return s;
}

std::string comparison_law(const Problem& p, const ControlSource& control, const std::string& compare, Gmm* law) {
  std::string cmp = compare;
  if (cmp == "auto") cmp = control.zero() ? "data" : (p.reward->quadratic_form() ? "tilted" : "none");
  if (cmp == "data") *law = p.data();
  if (cmp == "tilted") {
    if (!p.reward->quadratic_form())
      throw InputError("-compare", "tilted needs a linear or quadratic reward (the tilted law is closed form then)");
    *law = tilted_law(p.data(), *p.reward, p.control.beta()(0));
  }
  return cmp;
}

}  // namespace hjbft
