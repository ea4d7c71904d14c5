#include <cmath>
#include <sstream>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/model/gaussian_tilt.hpp"
#include "hjbft/model/problem.hpp"

namespace hjbft {

namespace {
constexpr PetscInt kMaxArray = 4096;
}  // namespace

// Longer than a screen on purpose: one PetscOptionsBegin/End block registers
// every problem option, one call per option, so that -help lists them together
// under one heading in the order a user reads them.  Splitting it would split
// that listing (each block prints its own heading).
PetscErrorCode ReadProblemOptions(MPI_Comm comm, ProblemOptions* o) {
  PetscFunctionBeginUser;
  std::vector<double> buf(kMaxArray);
  char sbuf[256];
  PetscBool set;
  // Reads a real array option; leaves v untouched (the default) when not given.
  auto real_array = [&](PetscOptionItems* PetscOptionsObject, const char* name, const char* text,
                        std::vector<double>& v) -> PetscErrorCode {
    PetscInt n = kMaxArray;
    std::copy(v.begin(), v.end(), buf.begin());
    PetscFunctionBeginUser;
    PetscCall(PetscOptionsRealArray(name, text, nullptr, buf.data(), &n, &set));
    if (set) v.assign(buf.begin(), buf.begin() + n);
    PetscFunctionReturn(0);
  };
  auto string_opt = [&](PetscOptionItems* PetscOptionsObject, const char* name, const char* text,
                        std::string& v) -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscCall(PetscStrncpy(sbuf, v.c_str(), sizeof sbuf));
    PetscCall(PetscOptionsString(name, text, nullptr, v.c_str(), sbuf, sizeof sbuf, &set));
    if (set) v = sbuf;
    PetscFunctionReturn(0);
  };

  PetscOptionsBegin(comm, nullptr, "Problem options (DESIGN.md sections 2-3)", nullptr);
  PetscCall(PetscOptionsInt("-dim", "State dimension d (grid commands: 1, 2 or 3)", nullptr, o->dim, &o->dim, nullptr));
  PetscCall(string_opt(PetscOptionsObject, "-sde", "Forward SDE family: vp|subvp|ve|cou|cvp|csubvp", o->sde));
  auto& sp = o->sde_params;
  PetscCall(PetscOptionsReal("-sde_T", "Horizon T", nullptr, sp.T, &sp.T, nullptr));
  PetscCall(PetscOptionsReal("-sde_hmin", "vp-type schedule h(0)", nullptr, sp.h_min, &sp.h_min, nullptr));
  PetscCall(PetscOptionsReal("-sde_hmax", "vp-type schedule h(T)", nullptr, sp.h_max, &sp.h_max, nullptr));
  PetscCall(PetscOptionsReal("-sde_smin", "ve: sigma(0)", nullptr, sp.s_min, &sp.s_min, nullptr));
  PetscCall(PetscOptionsReal("-sde_smax", "ve: sigma(T)", nullptr, sp.s_max, &sp.s_max, nullptr));
  PetscCall(PetscOptionsReal("-sde_theta", "cou: drift rate theta", nullptr, sp.theta, &sp.theta, nullptr));
  PetscCall(PetscOptionsReal("-sde_s", "cou: diffusion s", nullptr, sp.s, &sp.s, nullptr));
  PetscCall(PetscOptionsReal("-eta", "Sampler stochasticity in [0,1] (1 reverse SDE, 0 ODE)", nullptr, o->eta, &o->eta,
                             nullptr));

  // Default target: two components at -2 e_0 and +2 e_0, variance 0.25.  A
  // user-given -target_weights needs its own -target_means; the variance
  // defaults to 0.25 for every component.
  const int d = static_cast<int>(o->dim > 0 ? o->dim : 1);
  if (o->weights.empty()) {
    o->weights = {0.5, 0.5};
    o->means.assign(2 * d, 0.0);
    o->means[0] = -2.0;
    o->means[d] = 2.0;
    o->vars = {0.25};
  }
  PetscCall(real_array(PetscOptionsObject, "-target_weights", "Mixture weights pi_k (K values, sum 1)", o->weights));
  if (set) o->means.clear();
  PetscCall(real_array(PetscOptionsObject, "-target_means", "Mixture means, K x d row-major", o->means));
  PetscCall(real_array(PetscOptionsObject, "-target_vars", "Isotropic variance per component (K values, or 1)",
                       o->vars));
  PetscCall(real_array(PetscOptionsObject, "-target_covs",
                       "Full covariances, K x d x d row-major (overrides -target_vars)", o->covs));

  PetscCall(string_opt(PetscOptionsObject, "-reward", "Reward: linear|quadratic|bump|mixture|doublewell", o->reward));
  PetscCall(real_array(PetscOptionsObject, "-reward_center", "Reward center c (d values, or 1 for all)",
                       o->reward_center));
  PetscCall(PetscOptionsReal("-reward_scale", "Reward scale (quadratic: r = -scale/2 |x-c|^2)", nullptr, o->reward_scale,
                             &o->reward_scale, nullptr));
  PetscCall(real_array(PetscOptionsObject, "-reward_vector",
                       "Linear reward r = vector.x (d values, or 1); quadratic: added linear part", o->reward_vector));
  PetscCall(PetscOptionsReal("-reward_width", "bump: width; doublewell: well radius", nullptr, o->reward_width,
                             &o->reward_width, nullptr));
  PetscCall(real_array(PetscOptionsObject, "-reward_mix_weights", "mixture reward: weights of q", o->mix_weights));
  PetscCall(real_array(PetscOptionsObject, "-reward_mix_means", "mixture reward: means of q (K x d)", o->mix_means));
  PetscCall(real_array(PetscOptionsObject, "-reward_mix_vars", "mixture reward: isotropic variances of q", o->mix_vars));

  PetscCall(PetscOptionsReal("-beta", "KL weight beta > 0 (at t = 0 when -beta_end is given)", nullptr, o->beta,
                             &o->beta, nullptr));
  PetscCall(PetscOptionsReal("-beta_end", "KL weight at t = T: beta(t) linear in t (default: constant)", nullptr,
                             o->beta_end, &o->beta_end, &set));
  o->beta_end_set = set;
  PetscCall(PetscOptionsReal("-score_error_amp", "Known error added to the score: amp * sin(freq x_i)", nullptr,
                             o->score_error.amp, &o->score_error.amp, nullptr));
  PetscCall(PetscOptionsReal("-score_error_freq", "Frequency of the score error field", nullptr, o->score_error.freq,
                             &o->score_error.freq, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

Gmm gmm_from_arrays(int d, const std::vector<double>& w, const std::vector<double>& means,
                    const std::vector<double>& vars, const std::vector<double>& covs, const std::string& prefix) {
  const int K = static_cast<int>(w.size());
  if (K == 0) throw InputError(prefix + "_weights", "at least one weight is needed");
  if (static_cast<int>(means.size()) != K * d)
    throw InputError(prefix + "_means", "has " + std::to_string(means.size()) + " values; expected K x d = " +
                                            std::to_string(K) + " x " + std::to_string(d) + " = " +
                                            std::to_string(K * d) + " (row-major)");
  std::vector<GaussianComponent> comp;
  for (int k = 0; k < K; ++k) {
    GaussianComponent c{w[k], Eigen::Map<const Vector>(means.data() + k * d, d), Matrix()};
    if (!covs.empty()) {
      if (static_cast<int>(covs.size()) != K * d * d)
        throw InputError(prefix + "_covs", "has " + std::to_string(covs.size()) + " values; expected K x d x d = " +
                                               std::to_string(K * d * d));
      c.cov = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          covs.data() + k * d * d, d, d);
    } else {
      if (static_cast<int>(vars.size()) != K && vars.size() != 1)
        throw InputError(prefix + "_vars", "has " + std::to_string(vars.size()) + " values; expected 1 or K = " +
                                               std::to_string(K) + " (one isotropic variance per component)");
      const double s2 = vars.size() == 1 ? vars[0] : vars[k];
      if (!std::isfinite(s2) || s2 <= 0)
        throw InputError(prefix + "_vars", "variances must be finite and > 0 (component " + std::to_string(k) +
                                               " has " + std::to_string(s2) + ")");
      c.cov = s2 * Matrix::Identity(d, d);
    }
    comp.push_back(std::move(c));
  }
  // Gmm's own checks name -target_*; re-raise with this prefix.
  try {
    return Gmm(std::move(comp));
  } catch (const InputError& e) {
    std::string opt = e.option();
    if (opt.rfind("-target", 0) == 0) opt = prefix + opt.substr(7);
    // Gmm names covariance problems -target_vars; full covariances came from <prefix>_covs.
    if (!covs.empty() && opt == prefix + "_vars") opt = prefix + "_covs";
    std::string msg = e.what();
    throw InputError(opt, msg.substr(msg.find(": ") + 2));
  }
}

namespace {

std::shared_ptr<const Reward> build_reward(const ProblemOptions& o, int d, const Gmm& data, const KlWeight& beta) {
  auto finite = [](double x) { return std::isfinite(x); };
  if (!finite(o.reward_scale)) throw InputError("-reward_scale", "must be finite");
  const std::vector<double> center =
      o.reward_center.empty() ? std::vector<double>(d, o.reward == "quadratic" ? 1.0 : 0.0)
                              : broadcast(o.reward_center, d, "-reward_center");
  const Vector c = Eigen::Map<const Vector>(center.data(), d);
  if (!c.allFinite()) throw InputError("-reward_center", "must be finite");
  if (o.reward == "linear" || o.reward == "quadratic") {
    const bool lin = o.reward == "linear";
    const std::vector<double> bv = o.reward_vector.empty() ? std::vector<double>(d, lin ? 1.0 : 0.0)
                                                           : broadcast(o.reward_vector, d, "-reward_vector");
    QuadraticForm q{lin ? Matrix::Zero(d, d) : Matrix(o.reward_scale * Matrix::Identity(d, d)), lin ? Vector::Zero(d) : c,
                    Eigen::Map<const Vector>(bv.data(), d)};
    if (!q.b.allFinite()) throw InputError("-reward_vector", "must be finite");
    if (!quadratic_reward_well_posed(data, q, beta.min())) {
      double lmax = 0;
      for (int k = 0; k < data.size(); ++k)
        lmax = std::max(lmax, Eigen::SelfAdjointEigenSolver<Matrix>(data.component(k).cov).eigenvalues().maxCoeff());
      std::ostringstream s;
      s << "the quadratic reward is ill-posed for beta = " << beta.min() << ": E[exp(r/beta)] is infinite under the "
        << "data; need S_k^{-1} + scale/beta I positive definite, i.e. scale > " << -beta.min() / lmax;
      throw InputError("-reward_scale", s.str());
    }
    return std::make_shared<QuadraticFormReward>(std::move(q), o.reward);
  }
  if (o.reward == "bump") {
    if (!(o.reward_width > 0) || !finite(o.reward_width)) throw InputError("-reward_width", "must be > 0");
    return std::make_shared<GaussianBumpReward>(c, o.reward_scale, o.reward_width);
  }
  if (o.reward == "doublewell") {
    if (!(o.reward_width > 0) || !finite(o.reward_width)) throw InputError("-reward_width", "must be > 0");
    if (o.reward_scale < 0) throw InputError("-reward_scale", "doublewell needs scale >= 0 (r is bounded above)");
    return std::make_shared<DoubleWellReward>(c, o.reward_scale, o.reward_width);
  }
  if (o.reward == "mixture") {
    if (o.mix_weights.empty())
      throw InputError("-reward_mix_weights", "the mixture reward needs -reward_mix_weights/_means/_vars");
    Gmm q = gmm_from_arrays(d, o.mix_weights, o.mix_means, o.mix_vars, {}, "-reward_mix");
    if (o.reward_scale < 0) throw InputError("-reward_scale", "mixture reward needs scale >= 0");
    return std::make_shared<MixtureLogDensityReward>(std::move(q), o.reward_scale);
  }
  throw InputError("-reward", "unknown reward '" + o.reward + "' (allowed: linear, quadratic, bump, mixture, doublewell)");
}

}  // namespace

Problem build_problem(const ProblemOptions& o) {
  if (o.dim < 1 || o.dim > 16) throw InputError("-dim", "must be between 1 and 16 (got " + std::to_string(o.dim) + ")");
  const int d = static_cast<int>(o.dim);
  SdeParams sp = o.sde_params;
  sp.family = sde_family_from_string(o.sde);
  ForwardSde sde(sp);
  if (!std::isfinite(o.beta) || o.beta <= 0)
    throw InputError("-beta", "must be a finite number > 0 (got " + std::to_string(o.beta) + ")");
  if (o.beta_end_set && (!std::isfinite(o.beta_end) || o.beta_end <= 0))
    throw InputError("-beta_end", "must be a finite number > 0 (got " + std::to_string(o.beta_end) + ")");
  KlWeight beta(o.beta, o.beta_end_set ? o.beta_end : o.beta, sp.T);
  ControlProblem control(sde, o.eta, beta);
  if (o.means.empty() && !o.weights.empty())
    throw InputError("-target_means", "required (K x d values) when -target_weights gives " +
                                          std::to_string(o.weights.size()) + " components");
  Gmm data = gmm_from_arrays(d, o.weights, o.means, o.vars, o.covs, "-target");
  if (!std::isfinite(o.score_error.amp) || !std::isfinite(o.score_error.freq))
    throw InputError("-score_error_amp", "must be finite");
  auto reward = build_reward(o, d, data, beta);
  return Problem{d, sde, control, PretrainedScore(sde, data, o.score_error), reward};
}

Problem problem_from_options(MPI_Comm comm) {
  ProblemOptions o;
  HJBFT_PETSC(ReadProblemOptions(comm, &o));
  return build_problem(o);
}

bool Problem::gmm_closed_form_applies() const {
  return eta() == 1.0 && score.exact() && control.beta().constant() && reward->quadratic_form().has_value();
}

std::string Problem::describe() const {
  std::ostringstream s;
  s << "d=" << dim << " sde=" << to_string(sde.params().family) << " T=" << T() << " eta=" << eta()
    << " K=" << data().size() << " reward=" << reward->name() << " beta=" << control.beta()(0);
  if (!control.beta().constant()) s << ".." << control.beta()(T());
  if (!score.exact()) s << " score_error_amp=" << score.error().amp;
  return s.str();
}

}  // namespace hjbft
