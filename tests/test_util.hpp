#pragma once
// Small independent numerical tools for the tests: finite differences,
// quadrature, Monte Carlo moments.  Nothing here calls into the code under test.
#include <cmath>
#include <functional>
#include <initializer_list>
#include <numbers>
#include <string>

#include "hjbft/core/errors.hpp"
#include "hjbft/model/gmm.hpp"

namespace hjbft::test {

// Central-difference gradient of a scalar function.
// Small literals: mat(2, {a, b, c, d}) is row-major; vec({x, y}).
inline Matrix mat(int d, std::initializer_list<double> v) {
  Matrix M(d, d);
  auto it = v.begin();
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) M(i, j) = *it++;
  return M;
}
inline Vector vec(std::initializer_list<double> v) {
  Vector x(static_cast<int>(v.size()));
  int i = 0;
  for (double a : v) x[i++] = a;
  return x;
}

inline Vector fd_gradient(const std::function<double(const Vector&)>& f, const Vector& x, double h) {
  Vector g(x.size());
  for (int i = 0; i < x.size(); ++i) {
    Vector xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    g[i] = (f(xp) - f(xm)) / (2 * h);
  }
  return g;
}

// Central-difference Laplacian.
inline double fd_laplacian(const std::function<double(const Vector&)>& f, const Vector& x, double h) {
  const double f0 = f(x);
  double lap = 0;
  for (int i = 0; i < x.size(); ++i) {
    Vector xp = x, xm = x;
    xp[i] += h;
    xm[i] -= h;
    lap += (f(xp) - 2 * f0 + f(xm)) / (h * h);
  }
  return lap;
}

// Composite Simpson rule on [a, b] with n (even) intervals.
inline double simpson(const std::function<double(double)>& f, double a, double b, int n) {
  if (n % 2) ++n;
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h);
  return s * h / 3;
}

inline double normal_pdf(double x, double mean, double var) {
  return std::exp(-0.5 * (x - mean) * (x - mean) / var) / std::sqrt(2 * std::numbers::pi * var);
}

inline double normal_cdf(double x, double mean, double var) {
  return 0.5 * std::erfc(-(x - mean) / std::sqrt(2 * var));
}

// Option named by the InputError that fn throws, or "<no error>" / "<other: ...>".
template <class F>
std::string option_of(F&& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.option();
  } catch (const std::exception& e) {
    return std::string("<other: ") + e.what() + ">";
  }
  return "<no error>";
}

// Sample mean and covariance of the rows of X, with the standard errors of
// every entry estimated from the same samples.
struct SampleMoments {
  Vector mean, mean_se;
  Matrix cov, cov_se;
};
inline SampleMoments sample_moments(const Matrix& X) {
  const double n = static_cast<double>(X.rows());
  const int d = static_cast<int>(X.cols());
  SampleMoments s;
  s.mean = X.colwise().mean().transpose();
  const Matrix Z = X.rowwise() - s.mean.transpose();
  s.cov = Z.transpose() * Z / (n - 1);
  s.mean_se = (s.cov.diagonal() / n).cwiseSqrt();
  s.cov_se.resize(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      const Eigen::ArrayXd prod = Z.col(i).array() * Z.col(j).array();
      const double var = (prod - prod.mean()).square().sum() / (n - 1);
      s.cov_se(i, j) = std::sqrt(var / n);
    }
  return s;
}

}  // namespace hjbft::test
