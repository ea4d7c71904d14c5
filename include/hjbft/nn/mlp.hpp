#pragma once
// Small multilayer perceptrons for the neural solvers (issues 5 and 6), on
// Eigen, with everything a fine-tuning loop needs and nothing more:
//
//   y = W_L act( ... act(W_1 x + b_1) ... ) + b_L,     act = tanh or SiLU,
//
// * batches are matrices with one point per COLUMN (in x n -> out x n), so each
//   layer is one GEMM;
// * all parameters live in one flat vector (layer weights and biases are
//   Eigen::Map views into it): Adam, MPI_Allreduce of gradients and file I/O
//   act on one contiguous array;
// * reverse mode by hand: gradients with respect to the parameters (of any
//   loss through dL/dy) and with respect to the input (the control needs
//   grad_x V), both checked against finite differences in tests;
// * a sinusoidal time embedding; Adam with an optional cosine schedule;
//   the weights are saved and loaded by the io layer (io/network_io.hpp),
//   with their shape, so a file whose shape does not match is refused by name.
//
// Eigen has no neural-network layers (its unsupported Tensor module has
// contractions, not layers or autodiff of GEMM chains; AutoDiffScalar is
// forward mode, one derivative direction per pass, far too slow for
// thousands of parameters), so the two passes are written here, ~200 lines.
#include <cstdint>
#include <string>
#include <vector>

#include "hjbft/core/linalg.hpp"

namespace hjbft::nn {

enum class Activation { tanh, silu };
Activation activation_from_string(const std::string& s, const std::string& option);  // InputError(option)
std::string to_string(Activation a);

struct MlpShape {
  int in = 1;
  std::vector<int> hidden;  // widths of the hidden layers (may be empty: affine map)
  int out = 1;
  Activation act = Activation::tanh;
  bool operator==(const MlpShape& o) const = default;
  std::string describe() const;  // "3-64-64-1 tanh"
};

// Intermediate values of one forward pass, kept for the backward pass.
struct MlpTape {
  std::vector<Matrix> z;  // pre-activations of the hidden layers (width x n)
  std::vector<Matrix> a;  // inputs of every layer: a[0] = x, a[l] = act(z[l-1])
  // backward()'s workspace (dL/dz per hidden layer), kept here so that repeated
  // passes on same-sized batches allocate nothing; not part of the tape's value.
  mutable std::vector<Matrix> dz;
};

class Mlp {
public:
  explicit Mlp(MlpShape shape);  // parameters zero; call init()
  const MlpShape& shape() const { return shape_; }
  int n_params() const { return static_cast<int>(theta_.size()); }
  Vector& params() { return theta_; }
  const Vector& params() const { return theta_; }

  // Glorot-uniform weights, zero biases, from the given seed (same on every
  // rank); the last layer's weights are multiplied by out_scale (0: the
  // network starts as the zero function, e.g. the pre-trained model u = 0).
  void init(std::uint64_t seed, double out_scale = 1.0);

  // Y = net(X), X: in x n, Y: out x n.
  void forward(const Matrix& X, Matrix& Y) const;
  void forward(const Matrix& X, Matrix& Y, MlpTape& tape) const;
  // Given dL/dY (out x n) for the tape's batch: ADDS dL/dtheta to grad (size
  // n_params) and, when dX is not null, writes dL/dX (in x n).
  void backward(const MlpTape& tape, const Matrix& dY, Vector& grad, Matrix* dX = nullptr) const;
  // For out == 1: G = d net / d X (in x n), the input gradient at every point.
  void input_gradient(const Matrix& X, Matrix& G) const;
  // Forward mode in the parameters: dY = (d net(X) / d theta) dtheta (out x n),
  // the directional derivative along dtheta at every point (Fisher-vector
  // products of the trust-region policy gradient need it).
  void jvp(const Matrix& X, const Vector& dtheta, Matrix& dY) const;

private:
  struct Layer {
    int rows, cols;
    long w_offset, b_offset;
  };
  Eigen::Map<const Matrix> W(int l) const;
  Eigen::Map<const Vector> b(int l) const;
  // Hidden layers of the forward pass: fills tape.a and tape.z for the columns X.
  void record(const Eigen::Ref<const Matrix>& X, MlpTape& tape) const;
  // Back-propagates dY through the tape, adding dL/dtheta to *grad unless grad is
  // null; returns dL/d(first layer's pre-activation), so dL/dX = W_0^T (that).
  const Matrix& backprop(const MlpTape& tape, const Matrix& dY, Vector* grad) const;
  MlpShape shape_;
  std::vector<Layer> layers_;
  Vector theta_;
};

// Time features appended to x:  t/T, then the pairs sin(2 pi j t/T), cos(2 pi j t/T), j = 1..n_freq.
struct TimeEmbedding {
  int n_freq = 2;
  double T = 1.0;
  int size() const { return 1 + 2 * n_freq; }
  // Rows [row, row + size()) of column `col` of X get the features of t.
  void write(double t, Matrix& X, int row, int col) const;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // "constant" or "cosine": lr * (lr_min_ratio + (1 - lr_min_ratio) (1 + cos(pi s/S))/2) at step s of S.
  std::string schedule = "constant";
  double lr_min_ratio = 0.1;
};

class Adam {
public:
  Adam(int n_params, AdamOptions o);
  // One step: theta -= lr_s * mhat / (sqrt(vhat) + eps); `total_steps` sets the schedule's length.
  void step(Vector& theta, const Vector& grad, long total_steps = 0);
  void reset();  // moments and step count to zero (a new fit)
  long steps() const { return t_; }
  double current_lr(long total_steps) const;

private:
  AdamOptions o_;
  Vector m_, v_;
  long t_ = 0;
};

}  // namespace hjbft::nn
