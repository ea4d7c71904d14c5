// Steps 2 and 3 of neural PI-FT: policy evaluation (fit V_psi to the cost to
// go of the current control) and policy improvement (fit u_theta to the
// improved control computed from V_psi), by minibatch Adam.
//
// Data-parallel: every rank draws the same global minibatch of -neural_batch
// pairs (step i, global path id) from one shared stream and keeps the pairs
// of its own paths; the summed gradient (MPI_Allreduce) divided by the batch
// size is the gradient of the global mean loss, and every rank takes the
// same Adam step.  So the minibatches, hence the iterates, do not depend on
// the rank count (up to the summation order of the reductions).
// Rank 0's parameters are broadcast after each fit so the copies stay
// bit-identical whatever the reduction order.
#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <sstream>

#include "hjbft/core/errors.hpp"
#include "hjbft/model/ddpm.hpp"
#include "pift_internal.hpp"

namespace hjbft {


namespace {

// Global minibatches of pairs (step i < nsteps, global path id) from a stream
// shared by all ranks; next() returns this rank's pairs as local columns
// i * n + (id - first).
class Minibatches {
public:
  Minibatches(std::uint64_t seed, long total_paths, int nsteps, long first, long n, int batch)
      : rng_(seed), P_(total_paths), N_(nsteps), first_(first), n_(n), batch_(batch) {}
  const std::vector<long>& next() {
    idx_.clear();
    for (int b = 0; b < batch_; ++b) {
      const auto g = static_cast<long>(rng_() % static_cast<std::uint64_t>(P_ * N_));
      const long i = g / P_, id = g % P_;
      if (id >= first_ && id < first_ + n_) idx_.push_back(i * n_ + id - first_);
    }
    return idx_;
  }

private:
  std::mt19937_64 rng_;
  long P_;
  int N_;
  long first_, n_;
  int batch_;
  std::vector<long> idx_;
};

void check_loss(double loss, const char* what, int k, int step) {
  if (std::isfinite(loss)) return;
  std::ostringstream s;
  s << "neural PI-FT: the " << what << " fit's loss became non-finite at outer iteration " << k << ", Adam step "
    << step << " (lower -neural_lr, or check the problem's scale)";
  throw SolverError(s.str());
}

}  // namespace

// Minibatch Adam on `net`: o_.batch global pairs per step, this rank's part
// of the loss from `local`, the summed gradient over the batch size (the
// gradient of the global mean loss) on every rank.  Returns the mean loss
// over the last quarter of the steps (the first ones measure the start, not the fit).
double NeuralPiftSolver::adam_fit(nn::Mlp& net, const char* what, int k, int steps, std::uint64_t seed,
                                  const Paths& P, const LocalLoss& local) {
  nn::Adam adam(net.n_params(), o_.adam);
  Minibatches batches(seed, o_.paths, P.nsteps(), first_path_, P.n(), o_.batch);
  Vector grad(net.n_params());
  double tail = 0;
  int tail_n = 0;
  for (int s = 0; s < steps; ++s) {
    const std::vector<long>& idx = batches.next();
    grad.setZero();
    double loss = local(s, idx, grad);
    allreduce_sum(comm_, grad.data(), static_cast<int>(grad.size()));
    allreduce_sum(comm_, &loss, 1);
    loss /= o_.batch;
    check_loss(loss, what, k, s);
    adam.step(net.params(), grad, steps);
    if (4 * s >= 3 * steps) tail += loss, ++tail_n;
  }
  MPI_Bcast(net.params().data(), net.n_params(), MPI_DOUBLE, 0, comm_);
  return tail / std::max(tail_n, 1);
}

namespace {

// Per pair (i, j), column i * n + j: r(Y_i) and the weight 1 - t_i/T of the
// network in V_psi = r + (1 - t/T) N_psi (so V_psi(T) = r whatever N_psi),
// i = 0..N; and the Monte Carlo cost to go G_i = r(Y_N) - sum_{l >= i} c_l, i < N.
struct ValueTargets {
  Vector r, w, G;
};

ValueTargets value_targets(const Problem& p, const std::vector<double>& times, const SimulatedPaths& P) {
  const int N = P.nsteps();
  const long n = P.n();
  ValueTargets v{Vector(n * (N + 1)), Vector(n * (N + 1)), Vector(n * N)};
  for (int i = 0; i <= N; ++i)
    for (long j = 0; j < n; ++j) {
      v.r[i * n + j] = p.reward->value(P.Y[i].col(j));
      v.w[i * n + j] = 1 - times[i] / p.T();
    }
  Vector togo = P.reward;
  for (int i = N - 1; i >= 0; --i) {
    togo -= P.cost.row(i).transpose();
    v.G.segment(i * n, n) = togo;
  }
  return v;
}

// TD targets V_frozen(t_{i+1}, Y_{i+1}) - c_i of the pairs idx (one forward
// pass of the frozen network on the next states); at i + 1 = N the weight is
// 0 and the target is r(Y_N) - c_{N-1} exactly.
void td_targets(const nn::Mlp& frozen, const NeuralPiftSolver::Paths& P, const ValueTargets& v,
                const std::vector<long>& idx, Vector& target) {
  const long n = P.n();
  const int bl = static_cast<int>(idx.size());
  Matrix Xn(P.In.rows(), bl), Yn;
  for (int b = 0; b < bl; ++b) Xn.col(b) = P.In.col(idx[b] + n);
  frozen.forward(Xn, Yn);
  for (int b = 0; b < bl; ++b) {
    const long q = idx[b], qn = q + n;  // (i, j) and (i + 1, j)
    const int i = static_cast<int>(q / n);
    const double vnext = v.r[qn] + v.w[qn] * Yn(0, b);
    target[b] = vnext - P.cost(i, q % n);
  }
}

}  // namespace

// Policy evaluation.  Loss: mean over pairs of (V_psi(t_i, Y_i) - target)^2 with
//   mc: target = G_i = r(Y_N) - sum_{l >= i} c_l          (Monte Carlo cost to go)
//   td: target = V_frozen(t_{i+1}, Y_{i+1}) - c_i         (V_frozen(T) = r)
// The TD target network is frozen between refreshes so that the regression
// has a fixed target (a moving one chases itself).
double NeuralPiftSolver::fit_value(int k, const Paths& P) {
  const ValueTargets vt = value_targets(p_, times_, P);
  nn::Mlp& net = fields_->value_net();
  const bool td = o_.evaluation == "td";
  nn::Mlp frozen = net;
  Matrix Xb, Yb, dY;
  Vector target;
  nn::MlpTape tape;
  auto local = [&](int s, const std::vector<long>& idx, Vector& grad) {
    if (td && s % o_.td_refresh == 0) frozen.params() = net.params();
    const int bl = static_cast<int>(idx.size());
    if (bl == 0) return 0.0;
    target.resize(bl);
    if (td)
      td_targets(frozen, P, vt, idx, target);
    else
      for (int b = 0; b < bl; ++b) target[b] = vt.G[idx[b]];
    Xb.resize(P.In.rows(), bl);
    for (int b = 0; b < bl; ++b) Xb.col(b) = P.In.col(idx[b]);
    net.forward(Xb, Yb, tape);
    dY.resize(1, bl);
    double loss = 0;
    for (int b = 0; b < bl; ++b) {
      const double e = vt.r[idx[b]] + vt.w[idx[b]] * Yb(0, b) - target[b];
      loss += e * e;
      dY(0, b) = 2 * e * vt.w[idx[b]] / o_.batch;
    }
    net.backward(tape, dY, grad);
    return loss;
  };
  return adam_fit(net, "value", k, o_.value_steps, o_.seed * 7919 + 104729ULL * k + 1, P, local);
}

namespace {

// Per step i: the improvement gain (u = gain grad V) and the loss weight,
// the running-cost weight Lambda (beta_t b^2/sigma^2 for the chain)
// normalised to mean one, so the fit is accurate in the metric of the
// objective (for eta > 0 the path KL): where g^2 is large an error of u costs most.
struct ImprovementWeights {
  std::vector<double> gain, weight;
};

ImprovementWeights improvement_weights(const Problem& p, const std::vector<double>& times, int N, bool discrete) {
  ImprovementWeights iw{std::vector<double>(N), std::vector<double>(N)};
  std::unique_ptr<DdpmChain> chain;
  if (discrete) chain = std::make_unique<DdpmChain>(p, N);
  double wsum = 0;
  for (int i = 0; i < N; ++i) {
    const ControlCoefficients c = p.control.coefficients(times[i]);
    iw.gain[i] = discrete ? chain->step(i).improvement_gain() : c.gain();
    iw.weight[i] = discrete ? chain->step(i).c() : c.beta * c.Lambda;
    wsum += iw.weight[i];
  }
  for (double& w : iw.weight) w *= N / wsum;
  return iw;
}

}  // namespace

// Policy improvement.  Loss: mean over pairs of w_i |u_theta(t_i, Y_i) - target|^2, u_theta of
// the control form (u = offset grad r + scale N_theta, so d/dN = scale d/du), with
//   continuous: target = gain(t_i) grad V_psi(t_i, Y_i)                 (B grad V / (beta Lambda))
//   discrete:   target = sigma_i^2/(beta_i b_i) grad V_psi(t_{i+1}, Y_{i+1})
// (the targets of each minibatch are computed from the fitted V_psi on the fly;
// grad V_psi = grad r + (1 - t/T) grad_x N_psi).
double NeuralPiftSolver::fit_control(int k, const Paths& P) {
  const int d = p_.dim;
  const long n = P.n();
  const bool discrete = o_.mode == "discrete";
  const ImprovementWeights iw = improvement_weights(p_, times_, P.nsteps(), discrete);
  const nn::Mlp& vnet = fields_->value_net();
  nn::Mlp& net = fields_->control_net();
  std::vector<NeuralFields::ControlMap> maps;
  for (int i = 0; i < P.nsteps(); ++i) maps.push_back(fields_->control_map(times_[i]));
  Matrix Xb, Xv, Yb, Gin, target, dY;
  nn::MlpTape tape;
  auto local = [&](int, const std::vector<long>& idx, Vector& grad) {
    const int bl = static_cast<int>(idx.size());
    if (bl == 0) return 0.0;
    Xb.resize(P.In.rows(), bl);
    Xv.resize(P.In.rows(), bl);
    target.resize(d, bl);
    for (int b = 0; b < bl; ++b) {
      Xb.col(b) = P.In.col(idx[b]);
      // The gradient of V is taken at (t_i, Y_i), or at (t_{i+1}, Y_{i+1}) for the chain.
      Xv.col(b) = P.In.col(discrete ? idx[b] + n : idx[b]);
    }
    vnet.input_gradient(Xv, Gin);
    for (int b = 0; b < bl; ++b) {
      const long q = discrete ? idx[b] + n : idx[b];
      const int i = static_cast<int>(idx[b] / n), iv = static_cast<int>(q / n);
      const auto x = P.In.col(q).head(d);
      target.col(b) = iw.gain[i] * (p_.reward->gradient(x) + (1 - times_[iv] / p_.T()) * Gin.col(b).head(d));
    }
    net.forward(Xb, Yb, tape);
    for (int b = 0; b < bl; ++b) {  // u = offset grad r + scale N_theta (the control form)
      const NeuralFields::ControlMap& m = maps[idx[b] / n];
      if (m.offset != 0 || m.scale != 1)
        Yb.col(b) = m.offset * p_.reward->gradient(P.In.col(idx[b]).head(d)) + m.scale * Yb.col(b);
    }
    dY = Yb - target;
    double loss = 0;
    for (int b = 0; b < bl; ++b) {
      const double w = iw.weight[idx[b] / n];
      loss += w * dY.col(b).squaredNorm();
      dY.col(b) *= 2.0 * w * maps[idx[b] / n].scale / o_.batch;  // d loss / d N_theta
    }
    net.backward(tape, dY, grad);
    return loss;
  };
  const double loss = adam_fit(net, "control", k, o_.control_steps, o_.seed * 6271 + 130363ULL * k + 2, P, local);
  fields_->set_control_fitted();
  return loss;
}

}  // namespace hjbft
