// The MLP layer: gradients against central finite differences, determinism of
// init, Adam and its schedule, HDF5 round trips and refusals, and a small fit
// that exercises the whole training path.
#include <hdf5.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <numbers>
#include <random>
#include <string>

#include "hjbft/core/errors.hpp"
#include "hjbft/io/network_io.hpp"
#include "hjbft/nn/mlp.hpp"

using hjbft::InputError;
using hjbft::Matrix;
using hjbft::Vector;
using namespace hjbft::nn;

namespace {

Matrix random_matrix(int rows, int cols, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01;
  Matrix M(rows, cols);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) M(i, j) = scale * n01(rng);
  return M;
}

// A network with every parameter (biases included) random, so no term of the
// gradient is trivially zero.
Mlp random_net(const MlpShape& shape, std::uint64_t seed) {
  Mlp net(shape);
  net.params() = random_matrix(net.n_params(), 1, seed, 0.7);
  return net;
}

// Central differences of f with respect to every entry of x (x restored after).
template <class Mat>
Mat fd_gradient(const std::function<double()>& f, Mat& x, double h = 1e-5) {
  Mat g(x.rows(), x.cols());
  for (long i = 0; i < x.size(); ++i) {
    const double x0 = x.data()[i];
    x.data()[i] = x0 + h;
    const double fp = f();
    x.data()[i] = x0 - h;
    const double fm = f();
    x.data()[i] = x0;
    g.data()[i] = (fp - fm) / (2 * h);
  }
  return g;
}

// Componentwise, relative to the largest component: catches a single wrong entry.
double rel_error(const Matrix& a, const Matrix& b) {
  const double scale = std::max(a.cwiseAbs().maxCoeff(), b.cwiseAbs().maxCoeff());
  REQUIRE(scale > 0);
  return (a - b).cwiseAbs().maxCoeff() / scale;
}

std::vector<MlpShape> test_shapes() {
  std::vector<MlpShape> shapes;
  for (Activation act : {Activation::tanh, Activation::silu}) {
    shapes.push_back({2, {}, 1, act});
    shapes.push_back({3, {}, 2, act});
    shapes.push_back({1, {6}, 1, act});
    shapes.push_back({3, {5, 4}, 1, act});
    shapes.push_back({2, {4, 3, 5}, 3, act});
  }
  return shapes;
}

struct TempH5 {
  std::string path;
  hid_t file;
  TempH5() {
    path = (std::filesystem::temp_directory_path() / ("hjbft_test_mlp_" + std::to_string(getpid()) + ".h5")).string();
    file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(file >= 0);
  }
  ~TempH5() {
    H5Fclose(file);
    std::filesystem::remove(path);
  }
};

std::string input_error_message(const std::function<void()>& f, const std::string& option) {
  try {
    f();
  } catch (const InputError& e) {
    CHECK(e.option() == option);
    return e.what();
  }
  FAIL("no InputError thrown");
  return {};
}

}  // namespace

TEST_CASE("mlp parameter gradients match finite differences", "[mlp]") {
  const int n = 7;
  for (const MlpShape& shape : test_shapes()) {
    INFO("shape " << shape.describe());
    Mlp net = random_net(shape, 11);
    const Matrix X = random_matrix(shape.in, n, 12);
    const Matrix T = random_matrix(shape.out, n, 13);
    const Matrix w = random_matrix(1, n, 14).cwiseAbs();  // per-point weights

    {  // loss 0.5 |Y - T|^2 (no SECTIONs inside a loop: Catch2 would run them once)
      auto loss = [&] {
        Matrix Y;
        net.forward(X, Y);
        return 0.5 * (Y - T).squaredNorm();
      };
      MlpTape tape;
      Matrix Y;
      net.forward(X, Y, tape);
      Vector grad = Vector::Zero(net.n_params());
      net.backward(tape, Y - T, grad);
      const Vector fd = fd_gradient<Vector>(loss, net.params());
      CHECK(rel_error(grad, fd) < 1e-6);
    }
    {  // weighted loss sum_j w_j 0.5 |Y_j - T_j|^2; backward adds to grad
      auto loss = [&] {
        Matrix Y;
        net.forward(X, Y);
        return 0.5 * ((Y - T).array().square().rowwise() * w.row(0).array()).sum();
      };
      MlpTape tape;
      Matrix Y;
      net.forward(X, Y, tape);
      const Matrix dY = (Y - T).array().rowwise() * w.row(0).array();
      const Vector g0 = random_matrix(net.n_params(), 1, 15);
      Vector grad = g0;
      net.backward(tape, dY, grad);
      net.backward(tape, dY, grad);  // twice: backward accumulates
      const Vector fd = fd_gradient<Vector>(loss, net.params());
      CHECK(rel_error(grad - g0, 2 * fd) < 1e-6);
    }
  }
}

TEST_CASE("mlp input gradients match finite differences", "[mlp]") {
  const int n = 5;
  for (const MlpShape& shape : test_shapes()) {
    INFO("shape " << shape.describe());
    const Mlp net = random_net(shape, 21);
    Matrix X = random_matrix(shape.in, n, 22);
    const Matrix T = random_matrix(shape.out, n, 23);

    auto loss = [&] {
      Matrix Y;
      net.forward(X, Y);
      return 0.5 * (Y - T).squaredNorm();
    };
    MlpTape tape;
    Matrix Y, dX;
    net.forward(X, Y, tape);
    Vector grad = Vector::Zero(net.n_params());
    net.backward(tape, Y - T, grad, &dX);
    REQUIRE(dX.rows() == shape.in);
    REQUIRE(dX.cols() == n);
    CHECK(rel_error(dX, fd_gradient<Matrix>(loss, X)) < 1e-6);

    if (shape.out == 1) {
      Matrix G;
      net.input_gradient(X, G);
      auto sum = [&] {
        Matrix Yx;
        net.forward(X, Yx);
        return Yx.sum();  // point j's output depends on x_j only
      };
      CHECK(rel_error(G, fd_gradient<Matrix>(sum, X)) < 1e-6);
      net.forward(X, Y, tape);
      Matrix dX1;
      Vector unused = Vector::Zero(net.n_params());
      net.backward(tape, Matrix::Ones(1, n), unused, &dX1);
      CHECK((G - dX1).cwiseAbs().maxCoeff() <= 1e-14 * G.cwiseAbs().maxCoeff());
    }
  }
}

TEST_CASE("mlp jvp: directional derivatives in the parameters, adjoint of backward", "[mlp]") {
  const int n = 6;
  for (const MlpShape& shape : test_shapes()) {
    INFO("shape " << shape.describe());
    Mlp net = random_net(shape, 31);
    const Matrix X = random_matrix(shape.in, n, 32);
    const Vector v = random_matrix(net.n_params(), 1, 33);
    Matrix dY;
    net.jvp(X, v, dY);
    REQUIRE(dY.rows() == shape.out);
    REQUIRE(dY.cols() == n);
    // Central difference along v (theta restored after).
    const Vector theta = net.params();
    const double h = 1e-5;
    Matrix Yp, Ym;
    net.params() = theta + h * v;
    net.forward(X, Yp);
    net.params() = theta - h * v;
    net.forward(X, Ym);
    net.params() = theta;
    CHECK(rel_error(dY, (Yp - Ym) / (2 * h)) < 1e-6);
    // <J v, W> = <v, J^T W>: forward and reverse mode are adjoint (to rounding).
    const Matrix W = random_matrix(shape.out, n, 34);
    MlpTape tape;
    Matrix Y;
    net.forward(X, Y, tape);
    Vector JtW = Vector::Zero(net.n_params());
    net.backward(tape, W, JtW);
    CHECK(std::abs((dY.array() * W.array()).sum() - v.dot(JtW)) <= 1e-12 * (1 + std::abs(v.dot(JtW))));
  }
  Matrix dY;
  CHECK_THROWS_AS(Mlp({2, {3}, 1}).jvp(Matrix::Zero(2, 3), Vector::Zero(2), dY), std::invalid_argument);
}

TEST_CASE("mlp input_gradient refuses out > 1 and may overwrite its input", "[mlp]") {
  Matrix G;
  CHECK_THROWS_AS(Mlp({2, {3}, 2}).input_gradient(Matrix::Zero(2, 3), G), std::invalid_argument);
  const Mlp net = random_net({2, {3}, 1, Activation::silu}, 5);
  Matrix X = random_matrix(2, 4, 6);
  net.input_gradient(X, G);
  net.input_gradient(X, X);
  CHECK(X == G);
}

TEST_CASE("mlp forward on a batch equals forward column by column, with or without tape", "[mlp]") {
  const int n = 600;  // several of the implementation's column blocks (256), the last one partial
  for (const MlpShape& shape : test_shapes()) {
    INFO("shape " << shape.describe());
    const Mlp net = random_net(shape, 31);
    const Matrix X = random_matrix(shape.in, n, 32, 2.0);
    Matrix Y, Yt;
    MlpTape tape;
    net.forward(X, Y);
    net.forward(X, Yt, tape);
    REQUIRE(Y.rows() == shape.out);
    REQUIRE(Y.cols() == n);
    const double tol = 1e-13 * (1 + Y.cwiseAbs().maxCoeff());  // GEMM rounding depends on the block shapes
    CHECK((Y - Yt).cwiseAbs().maxCoeff() <= tol);
    for (int j = 0; j < n; ++j) {
      Matrix yj;
      net.forward(X.col(j), yj);
      CHECK((yj - Y.col(j)).cwiseAbs().maxCoeff() <= tol);
    }
    net.forward(X.leftCols(3), Yt, tape);  // a smaller batch reuses the tape
    CHECK((Yt - Y.leftCols(3)).cwiseAbs().maxCoeff() <= tol);

    if (shape.out == 1) {  // input_gradient (blockwise) vs backward's dX on the whole batch
      Matrix G, dX;
      net.input_gradient(X, G);
      net.forward(X, Yt, tape);
      Vector unused = Vector::Zero(net.n_params());
      net.backward(tape, Matrix::Ones(1, n), unused, &dX);
      CHECK((G - dX).cwiseAbs().maxCoeff() <= 1e-13 * G.cwiseAbs().maxCoeff());
    }
  }
}

TEST_CASE("mlp gradient of a large batch is the sum of its points' gradients", "[mlp]") {
  const int n = 600;  // several column blocks
  for (const MlpShape& shape : {MlpShape{3, {8, 6}, 2, Activation::tanh}, MlpShape{2, {5}, 1, Activation::silu}}) {
    INFO("shape " << shape.describe());
    const Mlp net = random_net(shape, 61);
    const Matrix X = random_matrix(shape.in, n, 62), dY = random_matrix(shape.out, n, 63);
    MlpTape tape;
    Matrix Y, dX, dXj;
    Vector grad = Vector::Zero(net.n_params()), sum = Vector::Zero(net.n_params());
    net.forward(X, Y, tape);
    net.backward(tape, dY, grad, &dX);
    for (int j = 0; j < n; ++j) {
      net.forward(X.col(j), Y, tape);
      net.backward(tape, dY.col(j), sum, &dXj);
      CHECK((dXj - dX.col(j)).cwiseAbs().maxCoeff() <= 1e-13 * dX.cwiseAbs().maxCoeff());
    }
    CHECK(rel_error(grad, sum) < 1e-13);
  }
}

TEST_CASE("mlp forward into its own input", "[mlp]") {
  for (const MlpShape& shape : {MlpShape{3, {}, 3}, MlpShape{3, {4}, 3}, MlpShape{3, {4}, 2}}) {
    INFO("shape " << shape.describe());
    const Mlp net = random_net(shape, 7);
    Matrix X = random_matrix(3, 300, 8), Y;
    net.forward(X, Y);
    net.forward(X, X);
    CHECK(X == Y);
  }
}

TEST_CASE("mlp activations are accurate and finite for large arguments", "[mlp]") {
  // A 1-1 "hidden" layer with unit weight exposes act(z) directly: y = act(x).
  for (Activation act : {Activation::tanh, Activation::silu}) {
    Mlp net({1, {1}, 1, act});
    net.params() << 1, 0, 1, 0;  // W1, b1, W2, b2
    Matrix X(1, 9);
    X << -800, -40, -3, -1e-3, 0, 1e-3, 2.5, 40, 800;
    Matrix Y;
    net.forward(X, Y);
    for (int j = 0; j < X.cols(); ++j) {
      const double x = X(0, j);
      const double exact = act == Activation::tanh ? std::tanh(x) : x / (1 + std::exp(-x));
      INFO(to_string(act) << " at " << x);
      CHECK(std::isfinite(Y(0, j)));
      CHECK(std::abs(Y(0, j) - exact) <= 4e-16 * std::max(1.0, std::abs(exact)));
    }
    Matrix G;
    net.input_gradient(X, G);
    CHECK(G.allFinite());
  }
}

TEST_CASE("mlp init: Glorot bounds, zero biases, out_scale 0 is the zero function", "[mlp]") {
  const MlpShape shape{3, {64, 32}, 2, Activation::tanh};
  Mlp net(shape);
  CHECK(net.n_params() == 64 * 3 + 64 + 32 * 64 + 32 + 2 * 32 + 2);
  CHECK(net.params().isZero(0));
  net.init(7);
  // Layer 0 occupies params [0, 192) (weights) and [192, 256) (biases).
  const double a0 = std::sqrt(6.0 / (3 + 64));
  const Vector w0 = net.params().head(192);
  CHECK(w0.cwiseAbs().maxCoeff() <= a0);
  CHECK(w0.cwiseAbs().maxCoeff() > 0.9 * a0);
  CHECK(std::abs(w0.squaredNorm() / 192 - a0 * a0 / 3) < 0.25 * a0 * a0 / 3);  // Var U(-a, a) = a^2/3
  CHECK(net.params().segment(192, 64).isZero(0));
  // Portable: the first weight is a(2u - 1), u = top 53 bits of the engine's first output.
  std::mt19937_64 rng(7);
  CHECK(net.params()[0] == a0 * (2.0 * static_cast<double>(rng() >> 11) * 0x1.0p-53 - 1.0));

  net.init(7, 0.0);
  const Matrix X = random_matrix(3, 10, 1);
  Matrix Y;
  net.forward(X, Y);
  CHECK(Y.isZero(0));
  // ... but it can learn: the last layer's gradient is not zero.
  MlpTape tape;
  net.forward(X, Y, tape);
  Vector grad = Vector::Zero(net.n_params());
  net.backward(tape, Matrix::Ones(2, 10), grad);
  CHECK(grad.tail(2 * 32 + 2).norm() > 0);
}

TEST_CASE("mlp init: same seed same parameters, different seeds differ", "[mlp]") {
  const MlpShape shape{2, {16, 16}, 1, Activation::silu};
  Mlp a(shape), b(shape), c(shape);
  a.init(123);
  b.init(123);
  c.init(124);
  CHECK(a.params() == b.params());
  CHECK(a.params() != c.params());
  b.init(123, 0.5);
  const long last = 16 * 16 + 16 + 16 * 2 + 16;  // offset of the last layer's weights
  CHECK(b.params().head(last) == a.params().head(last));
  CHECK(b.params().segment(last, 16) == 0.5 * a.params().segment(last, 16));
}

TEST_CASE("mlp shapes: describe, activation names, invalid widths", "[mlp]") {
  CHECK(MlpShape{3, {64, 64}, 1, Activation::tanh}.describe() == "3-64-64-1 tanh");
  CHECK(MlpShape{2, {}, 1, Activation::silu}.describe() == "2-1 silu");
  CHECK(activation_from_string("tanh", "-act") == Activation::tanh);
  CHECK(activation_from_string("silu", "-act") == Activation::silu);
  CHECK(to_string(Activation::silu) == "silu");
  const std::string msg = input_error_message([] { activation_from_string("relu", "-nn_activation"); }, "-nn_activation");
  CHECK_THAT(msg, Catch::Contains("relu") && Catch::Contains("allowed: tanh, silu"));
  CHECK_THROWS_AS(Mlp({2, {8, 0}, 1}), std::invalid_argument);
  CHECK_THROWS_AS(Mlp({0, {}, 1}), std::invalid_argument);
}

TEST_CASE("time embedding writes t/T and sin, cos pairs", "[mlp]") {
  const TimeEmbedding emb{2, 2.0};
  REQUIRE(emb.size() == 5);
  Matrix X = Matrix::Constant(7, 3, -9);
  emb.write(0.5, X, 1, 2);
  const double s = 0.25, w = 2 * std::numbers::pi * s;
  CHECK(X(1, 2) == s);
  CHECK(X(2, 2) == Approx(std::sin(w)).margin(1e-15));
  CHECK(X(3, 2) == Approx(std::cos(w)).margin(1e-15));
  CHECK(X(4, 2) == Approx(std::sin(2 * w)).margin(1e-15));
  CHECK(X(5, 2) == Approx(std::cos(2 * w)).margin(1e-15));
  CHECK(X(0, 2) == -9);
  CHECK(X(6, 2) == -9);
  CHECK(X.leftCols(2).isConstant(-9));
}

TEST_CASE("adam: first step is lr sign(grad), and it minimizes a convex quadratic", "[adam]") {
  SECTION("bias correction") {
    Adam adam(3, {.lr = 0.1});
    Vector theta = Vector::Zero(3), g(3);
    g << 3, -0.5, 1e-3;
    adam.step(theta, g);
    CHECK(adam.steps() == 1);
    // mhat = g, vhat = g^2: the step is lr g / (|g| + eps), eps = 1e-8 (without the
    // correction it would be lr 0.1 g / (sqrt(0.001) |g|), 3.2 times larger)
    for (int i = 0; i < 3; ++i) {
      CHECK(theta[i] == Approx(-0.1 * g[i] / (std::abs(g[i]) + 1e-8)).epsilon(1e-12));
      CHECK(theta[i] == Approx(g[i] > 0 ? -0.1 : 0.1).epsilon(2e-5));
    }
    adam.reset();
    CHECK(adam.steps() == 0);
    theta.setZero();
    adam.step(theta, -g);
    CHECK(theta[0] == Approx(0.1 * 3 / (3 + 1e-8)).epsilon(1e-12));  // moments were reset too
  }
  SECTION("quadratic") {
    // f = 0.5 t^T A t - b^T t, badly scaled; minimum A^{-1} b.
    Vector diag(4), bvec(4);
    diag << 10, 1, 0.1, 3;
    bvec << 1, -2, 0.3, 0.5;
    const Vector opt = bvec.cwiseQuotient(diag);
    Adam adam(4, {.lr = 0.05, .schedule = "cosine", .lr_min_ratio = 0.001});
    Vector theta = Vector::Zero(4);
    const long S = 4000;
    for (long s = 0; s < S; ++s) adam.step(theta, diag.cwiseProduct(theta) - bvec, S);
    CHECK((theta - opt).cwiseAbs().maxCoeff() < 1e-3);
  }
}

TEST_CASE("adam: constant and cosine schedules", "[adam]") {
  const long S = 10;
  Adam cosine(2, {.lr = 0.1, .schedule = "cosine", .lr_min_ratio = 0.1});
  CHECK(cosine.current_lr(S) == Approx(0.1).epsilon(1e-15));
  CHECK(cosine.current_lr(0) == 0.1);  // total_steps <= 0: constant
  // With a constant gradient mhat = g and vhat = g^2 exactly, so each step moves
  // by the learning rate of that step.
  const Vector g = Vector::Constant(2, 0.5);
  Vector theta = Vector::Zero(2);
  for (long s = 0; s < S; ++s) {
    const double lr = cosine.current_lr(S);
    const double expected = 0.1 * (0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * s / S)));
    CHECK(lr == Approx(expected).epsilon(1e-13));
    const double before = theta[0];
    cosine.step(theta, g, S);
    CHECK(before - theta[0] == Approx(lr).epsilon(1e-7));
  }
  CHECK(cosine.steps() == S);
  CHECK(cosine.current_lr(S) == Approx(0.01).epsilon(1e-13));  // s = S: lr * lr_min_ratio
  CHECK(cosine.current_lr(S / 2) == Approx(0.01).epsilon(1e-13));  // past the end: stays at the minimum
  Adam constant(2, {.lr = 0.1});
  for (int s = 0; s < 5; ++s) constant.step(theta, g, S);
  CHECK(constant.current_lr(S) == 0.1);
  CHECK_THROWS_AS(Adam(2, {.schedule = "linear"}), std::invalid_argument);
}

TEST_CASE("mlp save and load: bit-identical round trip", "[mlp][hdf5]") {
  TempH5 h5;
  for (const MlpShape& shape : {MlpShape{3, {8, 5}, 1, Activation::silu}, MlpShape{2, {}, 2, Activation::tanh}}) {
    INFO("shape " << shape.describe());
    const std::string name = "nets/" + shape.describe();
    const Mlp saved = random_net(shape, 41);
    hjbft::save_network(h5.file, name, saved);
    Mlp loaded(shape);
    hjbft::load_network(h5.file, name, "-value_net", loaded);
    CHECK(loaded.params() == saved.params());
    CHECK(loaded.shape() == saved.shape());
  }
  CHECK_THROWS_AS(hjbft::save_network(h5.file, "nets/3-8-5-1 silu", Mlp({3, {8, 5}, 1, Activation::silu})),
                  hjbft::SolverError);
}

TEST_CASE("mlp load refuses other shapes, missing groups and bad parameters", "[mlp][hdf5]") {
  TempH5 h5;
  const MlpShape shape{3, {16}, 1, Activation::tanh};
  hjbft::save_network(h5.file, "net", random_net(shape, 51));

  for (const MlpShape& other : {MlpShape{3, {16, 16}, 1, Activation::tanh}, MlpShape{3, {16}, 1, Activation::silu},
                                MlpShape{2, {16}, 1, Activation::tanh}, MlpShape{3, {}, 1, Activation::tanh}}) {
    Mlp net(other);
    net.init(1);
    const Vector before = net.params();
    const std::string msg = input_error_message([&] { hjbft::load_network(h5.file, "net", "-init_net", net); }, "-init_net");
    CHECK_THAT(msg, Catch::Contains(shape.describe()) && Catch::Contains(other.describe()));
    CHECK(net.params() == before);  // untouched
  }
  Mlp net(shape);
  CHECK_THAT(input_error_message([&] { hjbft::load_network(h5.file, "nothere", "-init_net", net); }, "-init_net"),
             Catch::Contains("nothere"));
  CHECK_THAT(input_error_message([&] { hjbft::load_network(h5.file, "a/b/c", "-init_net", net); }, "-init_net"),
             Catch::Contains("a/b/c"));

  SECTION("non-finite parameter") {
    Mlp bad = random_net(shape, 52);
    bad.params()[3] = std::nan("");
    hjbft::save_network(h5.file, "bad", bad);
    CHECK_THAT(input_error_message([&] { hjbft::load_network(h5.file, "bad", "-init_net", net); }, "-init_net"),
               Catch::Contains("non-finite"));
  }
  SECTION("wrong parameter count") {
    hjbft::save_network(h5.file, "short", random_net(shape, 53));
    hid_t g = H5Gopen2(h5.file, "short", H5P_DEFAULT);
    REQUIRE(H5Ldelete(g, "params", H5P_DEFAULT) >= 0);
    const hsize_t n = 5;
    const double v[5] = {1, 2, 3, 4, 5};
    hid_t sp = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(g, "params", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(sp);
    H5Gclose(g);
    CHECK_THAT(input_error_message([&] { hjbft::load_network(h5.file, "short", "-init_net", net); }, "-init_net"),
               Catch::Contains("5 parameters") && Catch::Contains(std::to_string(net.n_params())));
  }
  SECTION("missing parameters") {
    hjbft::save_network(h5.file, "noparams", random_net(shape, 55));
    hid_t g = H5Gopen2(h5.file, "noparams", H5P_DEFAULT);
    REQUIRE(H5Ldelete(g, "params", H5P_DEFAULT) >= 0);
    H5Gclose(g);
    CHECK_THAT(input_error_message([&] { hjbft::load_network(h5.file, "noparams", "-init_net", net); }, "-init_net"),
               Catch::Contains("no dataset 'params'"));
  }
  SECTION("missing attribute") {
    hjbft::save_network(h5.file, "noattr", random_net(shape, 54));
    hid_t g = H5Gopen2(h5.file, "noattr", H5P_DEFAULT);
    REQUIRE(H5Adelete(g, "out") >= 0);
    H5Gclose(g);
    CHECK_THAT(input_error_message([&] { hjbft::load_network(h5.file, "noattr", "-init_net", net); }, "-init_net"),
               Catch::Contains("attribute"));
  }
}

TEST_CASE("mlp regression: a 1-32-32-1 tanh net fits sin on [-2, 2]", "[mlp][adam]") {
  Mlp net({1, {32, 32}, 1, Activation::tanh});
  net.init(2024);
  const int n = 128;
  const Matrix X = Vector::LinSpaced(n, -2, 2).transpose();
  const Matrix T = X.array().sin();
  Adam adam(net.n_params(), {.lr = 1e-2, .schedule = "cosine", .lr_min_ratio = 0.01});
  MlpTape tape;
  Matrix Y;
  Vector grad(net.n_params());
  const long S = 3000;
  for (long s = 0; s < S; ++s) {
    net.forward(X, Y, tape);
    grad.setZero();
    net.backward(tape, (Y - T) / n, grad);  // loss: mean of 0.5 (y - sin x)^2
    adam.step(net.params(), grad, S);
  }
  // Judged between the training points.
  const Matrix Xt = Vector::LinSpaced(n - 1, -2 + 2.0 / (n - 1), 2 - 2.0 / (n - 1)).transpose();
  net.forward(Xt, Y);
  const double mse = (Y - Xt.array().sin().matrix()).squaredNorm() / Xt.cols();
  INFO("mse " << mse);
  CHECK(mse < 1e-3);
}

// Not run by default: ./neural_tests "[.benchmark]"
TEST_CASE("mlp benchmark 3-64-64-1 on 4096 points", "[.benchmark]") {
  const int n = 4096, reps = 100;
  for (Activation act : {Activation::tanh, Activation::silu}) {
    Mlp net({3, {64, 64}, 1, act});
    net.init(1);
    const Matrix X = random_matrix(3, n, 2);
    MlpTape tape;
    Matrix Y, G;
    Vector grad = Vector::Zero(net.n_params());
    auto time_ms = [&](const std::function<void()>& f) {
      f();  // warm up (allocations)
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; ++r) f();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
    };
    const double fb = time_ms([&] {
      net.forward(X, Y, tape);
      net.backward(tape, Y, grad);
    });
    const double f = time_ms([&] { net.forward(X, Y); });
    const double ig = time_ms([&] { net.input_gradient(X, G); });
    std::cout << "3-64-64-1 " << to_string(act) << ", n = " << n << ": forward+backward " << fb << " ms, forward "
              << f << " ms, input_gradient " << ig << " ms (mean of " << reps << ")\n";
  }
}
