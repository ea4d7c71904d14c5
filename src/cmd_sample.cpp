// hjbft sample: draw paths of the reference (-control none) or fine-tuned
// (-control exact | grid:FILE.h5) eta-sampler, write the terminal samples and
// measure them: mean reward, path cost (beta x path KL for eta > 0), the
// objective, and distances to the tilted law (or to p_data without control).
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.hpp"
#include "hjbft/errors.hpp"
#include "hjbft/options_util.hpp"
#include "hjbft/sampler.hpp"

namespace hjbft {

int cmd_sample(MPI_Comm comm);

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

// ---- a small serial HDF5 writer (rank 0), atomic through temp file + rename
class SerialH5 {
public:
  explicit SerialH5(std::string path) : path_(std::move(path)) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    tmp_ = path_ + ".tmp." + std::to_string(static_cast<long>(getpid()));
    file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw InputError("-o", "cannot create '" + tmp_ + "' (temporary name of the output file)");
  }
  ~SerialH5() {
    if (file_ >= 0) H5Fclose(file_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  void matrix(const std::string& name, const Matrix& M) {
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R = M;
    const hsize_t dims[2] = {static_cast<hsize_t>(R.rows()), static_cast<hsize_t>(R.cols())};
    write(name, 2, dims, R.data());
  }
  void vector(const std::string& name, const Vector& v) {
    const hsize_t dims[1] = {static_cast<hsize_t>(v.size())};
    write(name, 1, dims, v.data());
  }
  void attr(const std::string& name, double value) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t st = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    if (st < 0) throw SolverError("HDF5: cannot write attribute " + name);
  }
  void attr(const std::string& name, const std::string& value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, std::max<std::size_t>(1, value.size()));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file_, name.c_str(), type, sp, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t st = a < 0 ? -1 : H5Awrite(a, type, value.empty() ? " " : value.c_str());
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(type);
    if (st < 0) throw SolverError("HDF5: cannot write attribute " + name);
  }
  void commit() {
    if (H5Fclose(file_) < 0) throw SolverError("HDF5: cannot close " + tmp_);
    file_ = -1;
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) throw InputError("-o", "cannot rename output to " + path_);
    committed_ = true;
  }

private:
  void write(const std::string& name, int rank, const hsize_t* dims, const double* data) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(rank, dims, nullptr);
    hid_t d = H5Dcreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const herr_t st = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
    if (st < 0) throw SolverError("HDF5: cannot write dataset " + name);
  }
  std::string path_, tmp_;
  hid_t file_ = -1;
  bool committed_ = false;
};

// Gathers rows (n_local x cols) of every rank on rank 0, in rank order.
Matrix gather_rows(MPI_Comm comm, const Matrix& local, long n_total) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int cols = static_cast<int>(local.cols());
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R = local;
  std::vector<int> counts(size), displs(size);
  for (int r = 0; r < size; ++r) {
    const long lo = n_total * r / size, hi = n_total * (r + 1) / size;
    counts[r] = static_cast<int>((hi - lo) * cols);
    displs[r] = static_cast<int>(lo * cols);
  }
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> all(rank == 0 ? n_total : 0, cols);
  MPI_Gatherv(R.data(), counts[rank], MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, comm);
  return all;
}

std::string fmt_vec(const Vector& v) {
  std::ostringstream s;
  s << "[";
  for (Eigen::Index i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

}  // namespace

int cmd_sample(MPI_Comm comm) {
  ProblemOptions po;
  HJBFT_PETSC(ReadProblemOptions(comm, &po));
  SampleOptions so;
  HJBFT_PETSC(ReadSampleOptions(comm, &so));
  const std::string out = read_output_option(comm, "samples.h5");
  if (help_requested()) return 0;

  if (so.n < 1) throw InputError("-n", "must be a positive number of samples (got " + std::to_string(so.n) + ")");
  if (so.n > 2000000000) throw InputError("-n", "at most 2e9 samples");
  if (so.nsteps < 1) throw InputError("-nsteps", "must be a positive number of time steps (got " + std::to_string(so.nsteps) + ")");
  if (so.energy_n < 0) throw InputError("-energy_n", "must be >= 0 (0: no energy distance)");
  if (so.pool_factor < 1) throw InputError("-init_pool_factor", "must be >= 1");
  if (so.compare != "auto" && so.compare != "tilted" && so.compare != "data" && so.compare != "none")
    throw InputError("-compare", "unknown value '" + so.compare + "' (allowed: auto, tilted, data, none)");
  {
    namespace fs = std::filesystem;
    const fs::path dir = fs::absolute(fs::path(out)).parent_path();
    if (out.empty() || !fs::is_directory(dir) || access(dir.c_str(), W_OK) != 0 || fs::is_directory(out))
      throw InputError("-o", "cannot write '" + out + "': its directory does not exist or is not writable, "
                             "or the name is a directory");
  }
  const InitLaw law = init_law_from_string(so.init);
  const Problem problem = build_problem(po);
  const auto control = make_control_source(problem, so.control);

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
  const Sampler sampler(problem, *control, ss);

  // V(0, .): from the control source when it knows it, else from a closed form.
  const ControlSource* value_src = nullptr;
  std::unique_ptr<ControlSource> exact_value;
  {
    Vector V;
    std::vector<char> o(1, 0);
    if (control->value(0.0, Matrix::Zero(problem.dim, 1), V, o)) {
      value_src = control.get();
    } else {
      try {
        exact_value = make_exact_control(problem);
        value_src = exact_value.get();
      } catch (const InputError&) {
      }
    }
  }

  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const long N = so.n;
  const long first = N * rank / size, n_local = N * (rank + 1) / size - first;
  HJBFT_PETSC(PetscPrintf(comm, "hjbft sample: %s\n  control %s, sampler %s, %ld paths on %d rank(s)\n",
                          problem.describe().c_str(), control->name().c_str(), to_string(ss.scheme).c_str(), N, size));
  const InitialSampler init(comm, problem, law, value_src, ss.seed, N, static_cast<int>(so.pool_factor));
  HJBFT_PETSC(PetscPrintf(comm, "  initial law: %s (%s)\n", to_string(law).c_str(), init.method().c_str()));

  MPI_Barrier(comm);
  const double t0 = MPI_Wtime();
  const Matrix y0 = init.sample(first, n_local);
  const PathResults res = sampler.integrate(y0, static_cast<std::uint64_t>(first));
  const double seconds_local = MPI_Wtime() - t0;
  double seconds = 0;
  MPI_Allreduce(&seconds_local, &seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  long steps_max = 0;
  MPI_Allreduce(&res.steps, &steps_max, 1, MPI_LONG, MPI_MAX, comm);

  Matrix extra(n_local, 2);
  for (long i = 0; i < n_local; ++i) {
    extra(i, 0) = res.cost[i];
    extra(i, 1) = res.outside[i];
  }
  const Matrix YT = gather_rows(comm, res.yT, N), Y0 = gather_rows(comm, res.y0, N), EX = gather_rows(comm, extra, N);

  require_all_options_used();  // on every rank, before anything is written (options_util.hpp)

  // Everything below on rank 0; its failure is shared with the other ranks.
  int ok = 1;
  std::string err;
  int err_kind = 0;
  if (rank == 0) {
    try {
      const int d = problem.dim;
      Vector reward(N), V0;
      for (long i = 0; i < N; ++i) reward[i] = problem.reward->value(YT.row(i).transpose());
      const Vector cost = EX.col(0);
      const double outside_frac = EX.col(1).mean();
      auto stderr_of = [&](const Vector& x) {
        const double m = x.mean();
        return N > 1 ? std::sqrt((x.array() - m).square().sum() / (N - 1) / N) : 0.0;
      };
      const Vector obj = reward - cost;
      // A path that overflowed (a control of 1e300 from -beta 1e-300, an unstable sampler) makes
      // every statistic NaN: refused before anything is printed as a result or written.
      const long bad = N - static_cast<long>((YT.array().isFinite().rowwise().all() && obj.array().isFinite()).count());
      if (bad > 0)
        throw SolverError(std::to_string(bad) + " of " + std::to_string(N) + " paths are not finite (their end point, "
                          "reward or path cost overflowed); nothing was written");
      const double mean_r = reward.mean(), mean_c = cost.mean(), mean_obj = obj.mean();
      bool have_V0 = false;
      double mean_V0 = 0;
      if (value_src && !control->zero()) {
        std::vector<char> o(N, 0);
        have_V0 = value_src->value(0.0, Y0.transpose(), V0, o);
        if (have_V0) mean_V0 = V0.mean();
      }
      PetscPrintf(PETSC_COMM_SELF, "  %ld steps per path, %.3g s, %.4g paths/s\n", steps_max, seconds,
                  N / std::max(seconds, 1e-12));
      PetscPrintf(PETSC_COMM_SELF, "  mean reward E r(Y_T)      = %.6g +- %.2g\n", mean_r, stderr_of(reward));
      PetscPrintf(PETSC_COMM_SELF, "  mean path cost            = %.6g +- %.2g  (%s)\n", mean_c, stderr_of(cost),
                  problem.eta() > 0 ? "beta x path KL" : "L2 penalty, eta = 0");
      if (problem.eta() > 0 && problem.control.beta().constant())
        PetscPrintf(PETSC_COMM_SELF, "  path KL                   = %.6g\n", mean_c / problem.control.beta()(0));
      PetscPrintf(PETSC_COMM_SELF, "  objective E r - cost      = %.6g +- %.2g\n", mean_obj, stderr_of(obj));
      if (have_V0)
        PetscPrintf(PETSC_COMM_SELF, "  E V(0, Y_0) (%s)      = %.6g  (objective - E V = %.3g; 0 for the optimal control)\n",
                    value_src == control.get() ? "control" : "closed form", mean_V0, mean_obj - mean_V0);
      if (outside_frac > 0 || so.control.rfind("grid:", 0) == 0)
        PetscPrintf(PETSC_COMM_SELF, "  paths that left the control grid box: %.4g%% (control evaluated at the clamped point)\n",
                    100 * outside_frac);

      // The law to compare with.
      std::string cmp = so.compare;
      if (cmp == "auto") cmp = control->zero() ? "data" : (problem.reward->quadratic_form() ? "tilted" : "none");
      Gmm target;
      if (cmp == "data") target = problem.data();
      if (cmp == "tilted") {
        if (!problem.reward->quadratic_form())
          throw InputError("-compare", "tilted needs a linear or quadratic reward (the tilted law is closed form then)");
        target = tilted_law(problem.data(), *problem.reward, problem.control.beta()(0));
      }
      LawComparison lc;
      if (cmp != "none" && N >= 2) {
        lc = compare_with_law(YT, target, ss.seed, static_cast<int>(so.energy_n));
        PetscPrintf(PETSC_COMM_SELF, "  compared with the %s law:\n", cmp == "data" ? "data (p_data)" : "tilted");
        PetscPrintf(PETSC_COMM_SELF, "    mean %s vs %s: error %.3g (%.2f MC standard errors)\n",
                    fmt_vec(lc.sample_mean).c_str(), fmt_vec(lc.law_mean).c_str(), lc.mean_error, lc.mean_error_sigmas);
        PetscPrintf(PETSC_COMM_SELF, "    covariance error (Frobenius) %.3g\n", lc.cov_error);
        PetscPrintf(PETSC_COMM_SELF, "    mode weights %s vs %s (law weights %s), max error %.3g\n",
                    fmt_vec(lc.mode_weights).c_str(), fmt_vec(lc.law_assigned).c_str(),
                    fmt_vec(lc.law_weights).c_str(), lc.mode_weight_error);
        if (so.energy_n >= 2)
          PetscPrintf(PETSC_COMM_SELF, "    energy distance %.3g (two exact sample sets: %.3g)\n", lc.energy,
                      lc.energy_null);
        if (d == 1)
          PetscPrintf(PETSC_COMM_SELF, "    Kolmogorov-Smirnov distance %.4g (1.36/sqrt(n) = %.4g)\n", lc.ks,
                      1.36 / std::sqrt(double(N)));
      }

      SerialH5 h5(out);
      h5.matrix("/samples", YT);
      h5.matrix("/initial", Y0);
      h5.vector("/path_cost", cost);
      h5.vector("/reward", reward);
      h5.vector("/outside", EX.col(1));
      h5.attr("solver", "sample/" + to_string(ss.scheme));
      h5.attr("version", HJBFT_VERSION);
      h5.attr("options", all_options_string());
      h5.attr("problem", problem.describe());
      h5.attr("control", control->name());
      h5.attr("init", to_string(law) + ": " + init.method());
      h5.attr("dim", double(d));
      h5.attr("n", double(N));
      h5.attr("nsteps", double(steps_max));
      h5.attr("seed", double(so.seed));
      h5.attr("ranks", double(size));
      h5.attr("seconds", seconds);
      h5.attr("paths_per_second", N / std::max(seconds, 1e-12));
      h5.attr("mean_reward", mean_r);
      h5.attr("mean_reward_stderr", stderr_of(reward));
      h5.attr("mean_cost", mean_c);
      h5.attr("mean_cost_stderr", stderr_of(cost));
      if (problem.eta() > 0 && problem.control.beta().constant()) h5.attr("path_kl", mean_c / problem.control.beta()(0));
      h5.attr("objective", mean_obj);
      h5.attr("objective_stderr", stderr_of(obj));
      h5.attr("outside_fraction", outside_frac);
      if (have_V0) h5.attr("mean_V0", mean_V0);
      if (cmp != "none" && N >= 2) {
        h5.attr("compare", cmp);
        h5.vector("/compare/sample_mean", lc.sample_mean);
        h5.vector("/compare/law_mean", lc.law_mean);
        h5.matrix("/compare/sample_cov", lc.sample_cov);
        h5.matrix("/compare/law_cov", lc.law_cov);
        h5.vector("/compare/mode_weights", lc.mode_weights);
        h5.vector("/compare/law_weights", lc.law_weights);
        h5.vector("/compare/law_assigned", lc.law_assigned);
        Matrix means(target.size(), d), vars(target.size(), d * d);
        for (int k = 0; k < target.size(); ++k) {
          means.row(k) = target.component(k).mean.transpose();
          vars.row(k) = Eigen::Map<const Vector>(target.component(k).cov.data(), d * d).transpose();
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
      h5.commit();
      PetscPrintf(PETSC_COMM_SELF, "  wrote %s\n", out.c_str());
    } catch (const InputError& e) {
      ok = 0;
      err_kind = 1;
      err = e.what();
    } catch (const std::exception& e) {
      ok = 0;
      err_kind = 2;
      err = e.what();
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  if (!ok) {
    MPI_Bcast(&err_kind, 1, MPI_INT, 0, comm);
    int len = static_cast<int>(err.size());
    MPI_Bcast(&len, 1, MPI_INT, 0, comm);
    err.resize(len);
    MPI_Bcast(err.data(), len, MPI_CHAR, 0, comm);
    if (err_kind == 1) {
      // e.what() is "option X: ..."; rethrow with the option name
      const std::string opt = err.substr(7, err.find(':') - 7);
      throw InputError(opt, err.substr(err.find(':') + 2));
    }
    throw SolverError(err);
  }
  return 0;
}

}  // namespace hjbft
