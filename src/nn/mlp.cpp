#include "hjbft/nn/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <sstream>
#include <stdexcept>

#include "hjbft/core/errors.hpp"

namespace hjbft::nn {

namespace {

// Eigen 3.4 has no vectorized tanh for double (std::tanh per element would cost
// more than the GEMMs), but its exp is vectorized: tanh z = 1 - 2/(e^{2z} + 1).
// Absolute error a few ulp of 1; no overflow (Eigen clamps exp's argument, and
// e^{2z} = inf would give exactly 1 anyway).  a may be z (in place).
void activate(Activation act, const Eigen::Ref<const Matrix>& z, Eigen::Ref<Matrix> a) {
  if (act == Activation::tanh)
    a.array() = 1.0 - 2.0 / ((2.0 * z.array()).exp() + 1.0);
  else
    a.array() = z.array() / (1.0 + (-z.array()).exp());  // z sigmoid(z): finite / huge -> 0 for z -> -inf
}

// d *= act'(z), from the stored a = act(z): tanh' = 1 - a^2 and, for SiLU with
// s = sigmoid(z), s + z s (1 - s) = a + s (1 - a), which needs one exp, not two.
void times_derivative(Activation act, const Matrix& z, const Matrix& a, Matrix& d) {
  if (act == Activation::tanh)
    d.array() *= 1.0 - a.array().square();
  else
    d.array() *= a.array() + (1.0 - a.array()) / (1.0 + (-z.array()).exp());
}

// Batches are processed in blocks of kBlock columns where the whole batch is
// not needed at once: the blocks' intermediates stay in cache, and for 64-wide
// layers Eigen's GEMM packing buffers (64 x 256 doubles) stay on its stack.
constexpr long kBlock = 256;

// Per-thread work space of the block passes (forward without tape,
// input_gradient): bounded by the block size whatever the batch, and reused, so
// these calls neither allocate nor touch fresh pages (page faults on new memory
// cost more than the GEMMs).
struct Workspace {
  Matrix h[2];
  MlpTape tape;
  Matrix ones;
};
Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

void check_input(const MlpShape& shape, const Matrix& X) {
  if (X.rows() != shape.in)
    throw std::invalid_argument("Mlp: X has " + std::to_string(X.rows()) + " rows, the network " + shape.describe() +
                                " takes " + std::to_string(shape.in));
}

// Uniform on [0, 1) from the top 53 bits: the same numbers on every machine and
// standard library (std::uniform_real_distribution's output is implementation-defined).
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Activation activation_from_string(const std::string& s, const std::string& option) {
  if (s == "tanh") return Activation::tanh;
  if (s == "silu") return Activation::silu;
  throw InputError(option, "unknown activation '" + s + "'; allowed: tanh, silu");
}

std::string to_string(Activation a) { return a == Activation::tanh ? "tanh" : "silu"; }

std::string MlpShape::describe() const {
  std::ostringstream s;
  s << in;
  for (int h : hidden) s << '-' << h;
  s << '-' << out << ' ' << to_string(act);
  return s.str();
}

// ---------------------------------------------------------------------------
// Mlp

Mlp::Mlp(MlpShape shape) : shape_(std::move(shape)) {
  std::vector<int> widths{shape_.in};
  widths.insert(widths.end(), shape_.hidden.begin(), shape_.hidden.end());
  widths.push_back(shape_.out);
  if (*std::min_element(widths.begin(), widths.end()) < 1)
    throw std::invalid_argument("Mlp: every layer width must be >= 1, got " + shape_.describe());
  long offset = 0;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const Layer layer{widths[l + 1], widths[l], offset, offset + long{widths[l + 1]} * widths[l]};
    layers_.push_back(layer);
    offset = layer.b_offset + layer.rows;
  }
  theta_ = Vector::Zero(offset);
}

Eigen::Map<const Matrix> Mlp::W(int l) const {
  const Layer& L = layers_[l];
  return {theta_.data() + L.w_offset, L.rows, L.cols};
}

Eigen::Map<const Vector> Mlp::b(int l) const {
  const Layer& L = layers_[l];
  return {theta_.data() + L.b_offset, L.rows};
}

void Mlp::init(std::uint64_t seed, double out_scale) {
  std::mt19937_64 rng(seed);
  theta_.setZero();
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    const double a = std::sqrt(6.0 / (L.rows + L.cols));  // Glorot: Var = 2 / (fan_in + fan_out)
    const double scale = l + 1 == layers_.size() ? out_scale : 1.0;
    for (long i = 0; i < long{L.rows} * L.cols; ++i)
      theta_[L.w_offset + i] = scale * a * (2.0 * uniform01(rng) - 1.0);
  }
}

void Mlp::forward(const Matrix& X, Matrix& Y) const {
  check_input(shape_, X);
  if (&X == &Y) {  // Y is resized and written block by block
    const Matrix Xc = X;
    forward(Xc, Y);
    return;
  }
  const int nl = static_cast<int>(layers_.size());
  const long n = X.cols();
  Workspace& ws = workspace();
  int width = 1;
  for (int h : shape_.hidden) width = std::max(width, h);
  for (Matrix& h : ws.h)
    if (h.rows() < width) h.resize(width, kBlock);
  Y.resize(shape_.out, n);
  // Column blocks: the hidden activations (ping-pong in ws.h) stay in cache.
  for (long c = 0; c < n; c += kBlock) {
    const long w = std::min(kBlock, n - c);
    auto affine = [&](int l, auto&& out) {  // out = W_l (input of layer l) + b_l
      out.colwise() = b(l);
      if (l == 0)
        out.noalias() += W(0) * X.middleCols(c, w);
      else
        out.noalias() += W(l) * ws.h[(l - 1) % 2].topLeftCorner(layers_[l].cols, w);
    };
    for (int l = 0; l + 1 < nl; ++l) {
      auto z = ws.h[l % 2].topLeftCorner(layers_[l].rows, w);
      affine(l, z);
      activate(shape_.act, z, z);
    }
    affine(nl - 1, Y.middleCols(c, w));
  }
}

void Mlp::record(const Eigen::Ref<const Matrix>& X, MlpTape& tape) const {
  const int nl = static_cast<int>(layers_.size());
  const long n = X.cols();
  tape.a.resize(nl);
  tape.z.resize(nl - 1);
  tape.dz.resize(nl - 1);
  tape.a[0] = X;  // same-sized batches: Eigen reuses the storage
  for (int l = 0; l + 1 < nl; ++l) {
    Matrix& z = tape.z[l];
    z.resize(layers_[l].rows, n);
    z.colwise() = b(l);  // the GEMM then accumulates: no zeroing pass, no bias pass
    z.noalias() += W(l) * tape.a[l];
    tape.a[l + 1].resize(z.rows(), n);
    activate(shape_.act, z, tape.a[l + 1]);
  }
}

void Mlp::forward(const Matrix& X, Matrix& Y, MlpTape& tape) const {
  check_input(shape_, X);
  record(X, tape);
  const int last = static_cast<int>(layers_.size()) - 1;
  Y.resize(shape_.out, X.cols());
  Y.colwise() = b(last);
  Y.noalias() += W(last) * tape.a[last];
}

void Mlp::backward(const MlpTape& tape, const Matrix& dY, Vector& grad, Matrix* dX) const {
  if (grad.size() != theta_.size())
    throw std::invalid_argument("Mlp::backward: grad has size " + std::to_string(grad.size()) + ", expected " +
                                std::to_string(theta_.size()));
  const Matrix& d0 = backprop(tape, dY, &grad);
  if (dX) dX->noalias() = W(0).transpose() * d0;
}

const Matrix& Mlp::backprop(const MlpTape& tape, const Matrix& dY, Vector* grad) const {
  const int nl = static_cast<int>(layers_.size());
  if (static_cast<int>(tape.a.size()) != nl || dY.rows() != shape_.out || dY.cols() != tape.a[0].cols())
    throw std::invalid_argument("Mlp::backward: dY or the tape does not match the network " + shape_.describe() +
                                " and the tape's batch");
  const long n = dY.cols();
  const Matrix* delta = &dY;  // dL/d(pre-activation output of layer l)
  for (int l = nl - 1; l >= 0; --l) {
    if (grad) {
      const Layer& L = layers_[l];
      Eigen::Map<Matrix> gW(grad->data() + L.w_offset, L.rows, L.cols);
      // dW = delta a^T has depth n: as one product, Eigen packs depth panels too
      // large for L2 into buffers malloc'd on every call; in blocks of kBlock
      // columns it runs about twice as fast.
      for (long c = 0; c < n; c += kBlock) {
        const long w = std::min(kBlock, n - c);
        gW.noalias() += delta->middleCols(c, w) * tape.a[l].middleCols(c, w).transpose();
      }
      Eigen::Map<Vector>(grad->data() + L.b_offset, L.rows) += delta->rowwise().sum();
    }
    if (l > 0) {
      Matrix& d = tape.dz[l - 1];
      d.noalias() = W(l).transpose() * *delta;
      times_derivative(shape_.act, tape.z[l - 1], tape.a[l], d);
      delta = &d;
    }
  }
  return *delta;
}

void Mlp::input_gradient(const Matrix& X, Matrix& G) const {
  if (shape_.out != 1)
    throw std::invalid_argument("Mlp::input_gradient needs out == 1, the network is " + shape_.describe());
  check_input(shape_, X);
  Workspace& ws = workspace();
  const long n = X.cols();
  G.resize(shape_.in, n);  // G may be X: block c of X is copied into the tape before block c of G is written
  for (long c = 0; c < n; c += kBlock) {
    const long w = std::min(kBlock, n - c);
    record(X.middleCols(c, w), ws.tape);
    ws.ones.setOnes(1, w);
    G.middleCols(c, w).noalias() = W(0).transpose() * backprop(ws.tape, ws.ones, nullptr);
  }
}

void Mlp::jvp(const Matrix& X, const Vector& dtheta, Matrix& dY) const {
  check_input(shape_, X);
  if (dtheta.size() != theta_.size())
    throw std::invalid_argument("Mlp::jvp: dtheta has size " + std::to_string(dtheta.size()) + ", expected " +
                                std::to_string(theta_.size()));
  MlpTape tape;
  record(X, tape);
  const int nl = static_cast<int>(layers_.size());
  Matrix dz, da;  // tangents of the pre-activation and of the layer input (X has none)
  for (int l = 0; l < nl; ++l) {
    const Layer& L = layers_[l];
    const Eigen::Map<const Matrix> dW(dtheta.data() + L.w_offset, L.rows, L.cols);
    const Eigen::Map<const Vector> db(dtheta.data() + L.b_offset, L.rows);
    dz.resize(L.rows, X.cols());
    dz.colwise() = db;
    dz.noalias() += dW * tape.a[l];
    if (l > 0) dz.noalias() += W(l) * da;
    if (l + 1 < nl) {
      times_derivative(shape_.act, tape.z[l], tape.a[l + 1], dz);
      da.swap(dz);
    }
  }
  dY = dz;
}

// ---------------------------------------------------------------------------

void TimeEmbedding::write(double t, Matrix& X, int row, int col) const {
  const double s = t / T;
  X(row, col) = s;
  for (int j = 1; j <= n_freq; ++j) {
    const double w = 2.0 * std::numbers::pi * j * s;
    X(row + 2 * j - 1, col) = std::sin(w);
    X(row + 2 * j, col) = std::cos(w);
  }
}

Adam::Adam(int n_params, AdamOptions o) : o_(std::move(o)), m_(Vector::Zero(n_params)), v_(Vector::Zero(n_params)) {
  if (o_.schedule != "constant" && o_.schedule != "cosine")
    throw std::invalid_argument("Adam: unknown schedule '" + o_.schedule + "'; allowed: constant, cosine");
}

void Adam::reset() {
  m_.setZero();
  v_.setZero();
  t_ = 0;
}

double Adam::current_lr(long total_steps) const {
  if (o_.schedule == "constant" || total_steps <= 0) return o_.lr;
  const double frac = static_cast<double>(std::min(t_, total_steps)) / static_cast<double>(total_steps);
  return o_.lr * (o_.lr_min_ratio + (1.0 - o_.lr_min_ratio) * 0.5 * (1.0 + std::cos(std::numbers::pi * frac)));
}

void Adam::step(Vector& theta, const Vector& grad, long total_steps) {
  if (theta.size() != m_.size() || grad.size() != m_.size())
    throw std::invalid_argument("Adam::step: theta or grad size differs from the optimizer's " +
                                std::to_string(m_.size()));
  const double lr = current_lr(total_steps);  // at s = steps taken so far: the first step uses lr
  ++t_;
  const double c1 = 1.0 / (1.0 - std::pow(o_.beta1, static_cast<double>(t_)));
  const double c2 = 1.0 / (1.0 - std::pow(o_.beta2, static_cast<double>(t_)));
  m_ = o_.beta1 * m_ + (1.0 - o_.beta1) * grad;
  v_.array() = o_.beta2 * v_.array() + (1.0 - o_.beta2) * grad.array().square();
  theta.array() -= lr * (c1 * m_.array()) / ((c2 * v_.array()).sqrt() + o_.eps);
}

}  // namespace hjbft::nn
