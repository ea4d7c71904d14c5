// hjbft sample: draw paths of the reference (-control none) or fine-tuned
// (-control exact | grid:FILE.h5 | neural:FILE.h5) eta-sampler, write the
// terminal samples and measure them: mean reward, path cost (beta x path KL
// for eta > 0), the objective, and distances to the tilted law (or to p_data
// without control).  The work is solvers/sample's; this file reads the
// options, prints and writes.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/mpi.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"  // output_writable
#include "hjbft/io/serial_writer.hpp"
#include "hjbft/solvers/sample.hpp"

namespace hjbft {

namespace {

struct SampleOptions {
  std::string control = "none", sampler = "auto", init = "gaussian", time_grid = "uniform", compare = "auto";
  PetscInt n = 10000, nsteps = 200, batch = 256, energy_n = 2000, pool_factor = 20, seed = 1;
  double atol = 1e-6, rtol = 1e-6;
  std::vector<double> times;  // -sample_times: user-given grid (overrides -nsteps, -time_grid)
};

PetscErrorCode ReadSampleOptions(MPI_Comm comm, SampleOptions* o) {
  char buf[PETSC_MAX_PATH_LEN];
  PetscBool set;
  PetscFunctionBeginUser;
  auto str = [&](PetscOptionItems* PetscOptionsObject, const char* name, const char* text,
                 std::string& v) -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(PetscStrncpy(buf, v.c_str(), sizeof buf));
    PetscCall(PetscOptionsString(name, text, nullptr, v.c_str(), buf, sizeof buf, &set));
    if (set) v = buf;
    PetscFunctionReturn(0);
  };
  PetscOptionsBegin(comm, nullptr, "sample: draw and measure samples of the reference / fine-tuned model", nullptr);
  PetscCall(str(PetscOptionsObject, "-control",
                "Control: none|exact|grid:FILE.h5|neural:FILE.h5 (networks of hjbft neural or pg)", o->control));
  PetscCall(PetscOptionsInt("-n", "Number of sample paths (all ranks together)", nullptr, o->n, &o->n, nullptr));
  PetscCall(PetscOptionsInt("-nsteps", "Time steps (dopri5: first trial step T/nsteps)", nullptr, o->nsteps,
                            &o->nsteps, nullptr));
  PetscCall(str(PetscOptionsObject, "-sampler", "Scheme: auto|em|heun|rk4|dopri5 (rk4, dopri5: eta = 0 only)",
                o->sampler));
  PetscCall(str(PetscOptionsObject, "-time_grid", "Time grid: uniform|quadratic (steps shrink towards t = T)",
                o->time_grid));
  {
    std::vector<PetscReal> buf(100001);
    PetscInt nt = static_cast<PetscInt>(buf.size());
    PetscBool set;
    PetscCall(PetscOptionsRealArray("-sample_times",
                                    "User-given time grid t_0 = 0 < t_1 < ... <= T (overrides -nsteps, -time_grid)",
                                    nullptr, buf.data(), &nt, &set));
    if (set) o->times.assign(buf.begin(), buf.begin() + nt);
  }
  PetscCall(PetscOptionsReal("-sampler_atol", "dopri5 absolute tolerance", nullptr, o->atol, &o->atol, nullptr));
  PetscCall(PetscOptionsReal("-sampler_rtol", "dopri5 relative tolerance", nullptr, o->rtol, &o->rtol, nullptr));
  PetscCall(str(PetscOptionsObject, "-init", "Initial law: gaussian (N(0,v(T)I))|exact (p_T)|tilted (p_T e^{V(0,.)/beta})",
                o->init));
  PetscCall(PetscOptionsInt("-seed", "Random seed (path i uses its own stream: results independent of ranks)",
                            nullptr, o->seed, &o->seed, nullptr));
  PetscCall(PetscOptionsInt("-batch", "Paths integrated together", nullptr, o->batch, &o->batch, nullptr));
  PetscCall(str(PetscOptionsObject, "-compare", "Compare samples with: auto|tilted|data|none", o->compare));
  PetscCall(PetscOptionsInt("-energy_n", "Samples used for the energy distance", nullptr, o->energy_n, &o->energy_n,
                            nullptr));
  PetscCall(PetscOptionsInt("-init_pool_factor", "tilted init by importance resampling: pool = factor x n",
                            nullptr, o->pool_factor, &o->pool_factor, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

std::string fmt_vec(const Vector& v) {
  std::ostringstream s;
  s << "[";
  for (Eigen::Index i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

void check(const SampleOptions& so, const std::string& out) {
  if (so.n < 1) throw InputError("-n", "must be a positive number of samples (got " + std::to_string(so.n) + ")");
  if (so.n > 2000000000) throw InputError("-n", "at most 2e9 samples");
  if (so.nsteps < 1)
    throw InputError("-nsteps", "must be a positive number of time steps (got " + std::to_string(so.nsteps) + ")");
  if (so.energy_n < 0) throw InputError("-energy_n", "must be >= 0 (0: no energy distance)");
  if (so.pool_factor < 1) throw InputError("-init_pool_factor", "must be >= 1");
  if (so.compare != "auto" && so.compare != "tilted" && so.compare != "data" && so.compare != "none")
    throw InputError("-compare", "unknown value '" + so.compare + "' (allowed: auto, tilted, data, none)");
  if (!output_writable(out)) throw unwritable_output(out);
}

SamplerSettings sampler_settings(const SampleOptions& so, const Problem& problem) {
  SamplerSettings ss;
  ss.scheme = so.sampler == "auto" ? (problem.eta() > 0 ? SamplerScheme::heun : SamplerScheme::dopri5)
                                   : sampler_scheme_from_string(so.sampler);
  ss.nsteps = static_cast<int>(so.nsteps);
  ss.time_grid = so.time_grid;
  ss.times = so.times;
  ss.atol = so.atol;
  ss.rtol = so.rtol;
  ss.batch = static_cast<int>(so.batch);
  ss.seed = static_cast<std::uint64_t>(so.seed);
  return ss;
}

void print_statistics(const Problem& problem, const SampleOptions& so, const SampleRun& run,
                      const SampleStatistics& st, bool value_is_control) {
  const long N = run.yT.rows();
  PetscPrintf(PETSC_COMM_SELF, "  %ld steps per path, %.3g s, %.4g paths/s\n", run.steps, run.seconds,
              N / std::max(run.seconds, 1e-12));
  PetscPrintf(PETSC_COMM_SELF, "  mean reward E r(Y_T)      = %.6g +- %.2g\n", st.mean_reward, st.reward_stderr);
  PetscPrintf(PETSC_COMM_SELF, "  mean path cost            = %.6g +- %.2g  (%s)\n", st.mean_cost, st.cost_stderr,
              problem.eta() > 0 ? "beta x path KL" : "L2 penalty, eta = 0");
  if (problem.eta() > 0 && problem.control.beta().constant())
    PetscPrintf(PETSC_COMM_SELF, "  path KL                   = %.6g\n", st.mean_cost / problem.control.beta()(0));
  PetscPrintf(PETSC_COMM_SELF, "  objective E r - cost      = %.6g +- %.2g\n", st.mean_objective, st.objective_stderr);
  if (st.have_V0)
    PetscPrintf(PETSC_COMM_SELF, "  E V(0, Y_0) (%s)      = %.6g  (objective - E V = %.3g; 0 for the optimal control)\n",
                value_is_control ? "control" : "closed form", st.mean_V0, st.mean_objective - st.mean_V0);
  if (st.outside_fraction > 0 || so.control.rfind("grid:", 0) == 0)
    PetscPrintf(PETSC_COMM_SELF, "  paths that left the control grid box: %.4g%% (control evaluated at the clamped point)\n",
                100 * st.outside_fraction);
}

void print_comparison(const std::string& cmp, const LawComparison& lc, const SampleOptions& so, int d, long N) {
  PetscPrintf(PETSC_COMM_SELF, "  compared with the %s law:\n", cmp == "data" ? "data (p_data)" : "tilted");
  PetscPrintf(PETSC_COMM_SELF, "    mean %s vs %s: error %.3g (%.2f MC standard errors)\n",
              fmt_vec(lc.sample_mean).c_str(), fmt_vec(lc.law_mean).c_str(), lc.mean_error, lc.mean_error_sigmas);
  PetscPrintf(PETSC_COMM_SELF, "    covariance error (Frobenius) %.3g\n", lc.cov_error);
  PetscPrintf(PETSC_COMM_SELF, "    mode weights %s vs %s (law weights %s), max error %.3g\n",
              fmt_vec(lc.mode_weights).c_str(), fmt_vec(lc.law_assigned).c_str(), fmt_vec(lc.law_weights).c_str(),
              lc.mode_weight_error);
  if (so.energy_n >= 2)
    PetscPrintf(PETSC_COMM_SELF, "    energy distance %.3g (two exact sample sets: %.3g)\n", lc.energy, lc.energy_null);
  if (d == 1)
    PetscPrintf(PETSC_COMM_SELF, "    Kolmogorov-Smirnov distance %.4g (1.36/sqrt(n) = %.4g)\n", lc.ks,
                1.36 / std::sqrt(double(N)));
}

// What hjbft sample writes besides the samples: the run's description and statistics.
struct SampleRecord {
  std::string scheme, control, init;
  double seed = 1;
  int ranks = 1;
};

void write_comparison(SerialWriter& h5, const std::string& cmp, const LawComparison& lc, const Gmm& law, int d) {
  h5.attr("compare", cmp);
  h5.vector("/compare/sample_mean", lc.sample_mean);
  h5.vector("/compare/law_mean", lc.law_mean);
  h5.matrix("/compare/sample_cov", lc.sample_cov);
  h5.matrix("/compare/law_cov", lc.law_cov);
  h5.vector("/compare/mode_weights", lc.mode_weights);
  h5.vector("/compare/law_weights", lc.law_weights);
  h5.vector("/compare/law_assigned", lc.law_assigned);
  Matrix means(law.size(), d), vars(law.size(), d * d);
  for (int k = 0; k < law.size(); ++k) {
    means.row(k) = law.component(k).mean.transpose();
    vars.row(k) = Eigen::Map<const Vector>(law.component(k).cov.data(), d * d).transpose();
  }
  h5.matrix("/compare/law_component_means", means);
  h5.matrix("/compare/law_component_covs", vars);
  h5.attr("mean_error", lc.mean_error);
  h5.attr("mean_error_sigmas", lc.mean_error_sigmas);
  h5.attr("cov_error", lc.cov_error);
  h5.attr("mode_weight_error", lc.mode_weight_error);
  h5.attr("energy_distance", lc.energy);
  h5.attr("energy_distance_null", lc.energy_null);
  if (d == 1) h5.attr("ks_distance", lc.ks);
}

// Writes the sample file (DESIGN.md section 6, samples): the comparison only when cmp != "none".
void write_samples(const std::string& out, const Problem& problem, const SampleRecord& rec, const SampleRun& run,
                   const SampleStatistics& st, const std::string& cmp, const LawComparison& lc, const Gmm& law) {
  const int d = problem.dim;
  const long N = run.yT.rows();
  SerialWriter h5(out);
  h5.matrix("/samples", run.yT);
  h5.matrix("/initial", run.y0);
  h5.vector("/path_cost", run.cost);
  h5.vector("/reward", st.reward);
  h5.vector("/outside", run.outside);
  h5.attr("solver", "sample/" + rec.scheme);
  h5.attr("version", HJBFT_VERSION);
  h5.attr("options", all_options_string());
  h5.attr("problem", problem.describe());
  h5.attr("control", rec.control);
  h5.attr("init", rec.init);
  h5.attr("dim", double(d));
  h5.attr("n", double(N));
  h5.attr("nsteps", double(run.steps));
  h5.attr("seed", rec.seed);
  h5.attr("ranks", double(rec.ranks));
  h5.attr("seconds", run.seconds);
  h5.attr("paths_per_second", N / std::max(run.seconds, 1e-12));
  h5.attr("mean_reward", st.mean_reward);
  h5.attr("mean_reward_stderr", st.reward_stderr);
  h5.attr("mean_cost", st.mean_cost);
  h5.attr("mean_cost_stderr", st.cost_stderr);
  if (problem.eta() > 0 && problem.control.beta().constant())
    h5.attr("path_kl", st.mean_cost / problem.control.beta()(0));
  h5.attr("objective", st.mean_objective);
  h5.attr("objective_stderr", st.objective_stderr);
  h5.attr("outside_fraction", st.outside_fraction);
  if (st.have_V0) h5.attr("mean_V0", st.mean_V0);
  if (cmp != "none" && N >= 2) write_comparison(h5, cmp, lc, law, d);
  h5.commit();
}

}  // namespace

int cmd_sample(MPI_Comm comm) {
  ProblemOptions po;
  HJBFT_PETSC(ReadProblemOptions(comm, &po));
  SampleOptions so;
  HJBFT_PETSC(ReadSampleOptions(comm, &so));
  const std::string out = read_output_option(comm, "samples.h5");
  if (help_requested()) return 0;
  check(so, out);
  const InitLaw law = init_law_from_string(so.init);
  const Problem problem = build_problem(po);
  const auto control = make_control_source(problem, so.control);
  const SamplerSettings ss = sampler_settings(so, problem);
  const Sampler sampler(problem, *control, ss);
  std::unique_ptr<ControlSource> exact_value;
  const ControlSource* value_src = value_source(problem, *control, &exact_value);

  int size;
  MPI_Comm_size(comm, &size);
  const long N = so.n;
  HJBFT_PETSC(PetscPrintf(comm, "hjbft sample: %s\n  control %s, sampler %s, %ld paths on %d rank(s)\n",
                          problem.describe().c_str(), control->name().c_str(), to_string(ss.scheme).c_str(), N, size));
  const InitialSampler init(comm, problem, law, value_src, ss.seed, N, static_cast<int>(so.pool_factor));
  HJBFT_PETSC(PetscPrintf(comm, "  initial law: %s (%s)\n", to_string(law).c_str(), init.method().c_str()));
  const SampleRun run = run_sampler(comm, sampler, init, N);
  require_all_options_used();  // on every rank, before anything is written (options_util.hpp)

  on_rank0(comm, [&] {
    const SampleStatistics st = sample_statistics(problem, run, *control, value_src);
    print_statistics(problem, so, run, st, value_src == control.get());
    Gmm target;
    const std::string cmp = comparison_law(problem, *control, so.compare, &target);
    LawComparison lc;
    if (cmp != "none" && N >= 2) {
      lc = compare_with_law(run.yT, target, ss.seed, static_cast<int>(so.energy_n));
      print_comparison(cmp, lc, so, problem.dim, N);
    }
    const SampleRecord rec{to_string(ss.scheme), control->name(), to_string(law) + ": " + init.method(),
                           double(so.seed), size};
    write_samples(out, problem, rec, run, st, cmp, lc, target);
    PetscPrintf(PETSC_COMM_SELF, "  wrote %s\n", out.c_str());
  });
  return 0;
}

}  // namespace hjbft
