// Initial laws of the sampler: N(0, v(T) I), the exact p_T, the value-tilted
// law p_T(y) e^{V(0,y)/beta} / Z (DESIGN.md section 4).
#include <mpi.h>

#include <algorithm>
#include <cmath>

#include "hjbft/core/errors.hpp"
#include "hjbft/exact/closed_form.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/simulation/sampler.hpp"

namespace hjbft {

namespace {
constexpr std::uint64_t kTagInit = 2, kTagPool = 3, kTagResample = 4;
}

InitLaw init_law_from_string(const std::string& s) {
  if (s == "gaussian") return InitLaw::gaussian;
  if (s == "exact") return InitLaw::exact;
  if (s == "tilted") return InitLaw::tilted;
  throw InputError("-init", "unknown initial law '" + s +
                                "' (allowed: gaussian = N(0, v(T) I), exact = p_T, tilted = p_T e^{V(0,.)/beta}/Z)");
}

std::string to_string(InitLaw l) {
  switch (l) {
    case InitLaw::gaussian: return "gaussian";
    case InitLaw::exact: return "exact";
    case InitLaw::tilted: return "tilted";
  }
  return "?";
}

namespace {

// log e^{V(0,y)/beta} of every pool point; each rank evaluates its share of the
// pool (V may be costly: a grid interpolation), then every rank gets all of them.
std::vector<double> pool_log_weights(MPI_Comm comm, const Matrix& pool, const ControlSource& value, double beta,
                                     long* outside) {
  const long M = pool.rows();
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::vector<int> counts(size), displs(size);
  for (int r = 0; r < size; ++r) {
    const long lo = M * r / size, hi = M * (r + 1) / size;
    counts[r] = static_cast<int>(hi - lo);
    displs[r] = static_cast<int>(lo);
  }
  std::vector<double> logw(M);
  const long lo = displs[rank], cnt = counts[rank];
  long outside_local = 0;
  for (long b = 0; b < cnt; b += 4096) {
    const long nb = std::min<long>(4096, cnt - b);
    const Matrix Yc = pool.middleRows(lo + b, nb).transpose();
    Vector V;
    std::vector<char> out(nb, 0);
    value.value(0.0, Yc, V, out);
    for (long j = 0; j < nb; ++j) {
      logw[lo + b + j] = V[j] / beta;
      outside_local += out[j];
    }
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, logw.data(), counts.data(), displs.data(), MPI_DOUBLE, comm);
  MPI_Allreduce(&outside_local, outside, 1, MPI_LONG, MPI_SUM, comm);
  return logw;
}

// n_total rows drawn from the pool with probabilities proportional to e^{logw}
// by systematic resampling (one uniform, equally spaced points), then shuffled:
// the resampled rows come in pool order, and any prefix (one rank's share) must
// be a fair sample.  *ess: effective sample size / pool size.
Matrix systematic_resample(const Matrix& pool, const std::vector<double>& logw, long n_total, std::uint64_t seed,
                           double* ess) {
  const long M = pool.rows();
  const double mx = *std::max_element(logw.begin(), logw.end());
  std::vector<double> cum(M);
  double s = 0, s2 = 0;
  for (long j = 0; j < M; ++j) {
    const double w = std::exp(logw[j] - mx);
    s += w;
    s2 += w * w;
    cum[j] = s;
  }
  if (!std::isfinite(s) || s <= 0) throw SolverError("tilted initial law: importance weights are not finite");
  *ess = s * s / s2 / M;
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  auto rrng = path_stream(seed, 0, kTagResample);
  const double u0 = unif(rrng);
  Matrix resampled(n_total, pool.cols());
  long j = 0;
  for (long i = 0; i < n_total; ++i) {
    const double target = (i + u0) / n_total * s;
    while (j < M - 1 && cum[j] < target) ++j;
    resampled.row(i) = pool.row(j);
  }
  std::vector<long> perm(n_total);
  for (long i = 0; i < n_total; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rrng);
  Matrix shuffled(n_total, pool.cols());
  for (long i = 0; i < n_total; ++i) shuffled.row(i) = resampled.row(perm[i]);
  return shuffled;
}

}  // namespace

InitialSampler::InitialSampler(MPI_Comm comm, const Problem& p, InitLaw law, const ControlSource* value_source,
                               std::uint64_t seed, long n_total, int pool_factor)
    : p_(p), law_(law), seed_(seed) {
  const int d = p.dim;
  const double T = p.T(), mT = p.sde.m(T), vT = p.sde.v(T);
  if (law == InitLaw::gaussian) {
    direct_ = Gmm({{1.0, Vector::Zero(d), vT * Matrix::Identity(d, d)}});
    method_ = "N(0, v(T) I)";
    return;
  }
  if (law == InitLaw::exact) {
    direct_ = p.data().affine_marginal(mT, vT);
    method_ = "exact p_T";
    return;
  }
  // Tilted.  For eta = 1 with the exact score, (Y_0, Y_T) under the reference
  // has the law of (X_T, X_0) of the forward process, so
  // p_T(y) E[e^{r(Y_T)/beta} | Y_0 = y] is the tilted data law pushed to tau = T.
  if (p.gmm_closed_form_applies()) {
    direct_ = tilted_law(p.data(), *p.reward, p.control.beta()(0)).affine_marginal(mT, vT);
    method_ = "exact (tilted data law pushed forward to tau = T)";
    return;
  }
  if (!p.control.beta().constant())
    throw InputError("-init", "tilted needs a constant beta (V(0,.)/beta with beta = beta(0) is used otherwise)");
  // Otherwise importance resampling of a pool of p_T samples with weights e^{V(0,y)/beta}.
  Vector probe_V;
  std::vector<char> probe_out(1, 0);
  if (!value_source || !value_source->value(0.0, Matrix::Zero(d, 1), probe_V, probe_out))
    throw InputError("-init", "tilted needs V(0, .): a closed form (" + std::string(exact_solution_requirements()) +
                                  ") or -control grid:FILE.h5 with a /value dataset");
  if (n_total < 1) throw InputError("-n", "must be a positive number of samples");
  const long M = std::min<long>(std::max<long>(static_cast<long>(pool_factor) * n_total, 10000), 4000000);
  auto rng = path_stream(seed, 0, kTagPool);
  const Matrix pool = p.data().affine_marginal(mT, vT).sample(rng, static_cast<int>(M));  // same on every rank
  long outside = 0;
  const std::vector<double> logw = pool_log_weights(comm, pool, *value_source, p.control.beta()(0), &outside);
  resampled_ = systematic_resample(pool, logw, n_total, seed, &ess_);
  method_ = "importance resampling of " + std::to_string(M) + " p_T samples, ESS " +
            std::to_string(ess_ * 100).substr(0, 5) + "%" +
            (outside ? ", " + std::to_string(outside) + " pool points outside the grid box (clamped)" : "");
}

Matrix InitialSampler::sample(long first_id, long n) const {
  const int d = p_.dim;
  if (law_ == InitLaw::tilted && resampled_.rows() > 0) {
    if (first_id < 0 || first_id + n > resampled_.rows()) throw SolverError("initial sampler: path range out of pool");
    return resampled_.middleRows(first_id, n);
  }
  Matrix Y(n, d);
  for (long i = 0; i < n; ++i) {
    auto rng = path_stream(seed_, first_id + i, kTagInit);
    Y.row(i) = direct_.sample(rng, 1).row(0);
  }
  return Y;
}

}  // namespace hjbft
