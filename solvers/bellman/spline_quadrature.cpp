// Gauss-Hermite quadrature and the not-a-knot (bi)cubic spline of the
// discrete Bellman solver (include/hjbft/solvers/bellman.hpp).
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

#include "hjbft/core/errors.hpp"
#include "hjbft/solvers/bellman.hpp"

namespace hjbft {

// Golub-Welsch: the nodes of the n-point rule for N(0, 1) are the eigenvalues
// of the Jacobi matrix of the (probabilists') Hermite polynomials, which has
// zero diagonal and off-diagonal sqrt(k), k = 1..n-1.  Each node is polished by
// Newton steps on the orthonormal polynomial psi_n (psi_n' = sqrt(n) psi_{n-1});
// the weights are the Christoffel numbers 1 / sum_{k<n} psi_k(x_i)^2.
GaussHermite gauss_hermite(int n) {
  if (n < 1 || n > 200) throw InputError("-bellman_quad", "needs 1 to 200 nodes, got " + std::to_string(n));
  Eigen::MatrixXd J = Eigen::MatrixXd::Zero(n, n);
  for (int k = 1; k < n; ++k) J(k - 1, k) = J(k, k - 1) = std::sqrt(static_cast<double>(k));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(J, Eigen::EigenvaluesOnly);
  GaussHermite g;
  g.x.assign(es.eigenvalues().data(), es.eigenvalues().data() + n);
  // psi_0..psi_n at x (orthonormal w.r.t. N(0,1)); returns psi_n, psi_{n-1} and sum_{k<n} psi_k^2.
  auto psi = [n](double x, double* pn1, double* sum) {
    double p0 = 1, p1 = x, s = 1;
    if (n == 1) {
      *pn1 = 1;
      *sum = 1;
      return x;
    }
    s += x * x;
    for (int k = 1; k < n; ++k) {
      const double p2 = (x * p1 - std::sqrt(static_cast<double>(k)) * p0) / std::sqrt(k + 1.0);
      p0 = p1;
      p1 = p2;
      if (k + 1 < n) s += p2 * p2;
    }
    *pn1 = p0;
    *sum = s;
    return p1;
  };
  g.w.resize(n);
  for (int i = 0; i < n; ++i) {
    double pn1, s;
    for (int it = 0; it < 3; ++it) {
      const double pn = psi(g.x[i], &pn1, &s);
      g.x[i] -= pn / (std::sqrt(static_cast<double>(n)) * pn1);
    }
    psi(g.x[i], &pn1, &s);
    g.w[i] = 1 / s;
  }
  // Exact symmetry (x_i = -x_{n-1-i}, equal weights), and weights summing to 1.
  for (int i = 0; i < n / 2; ++i) {
    const int j = n - 1 - i;
    const double x = 0.5 * (g.x[j] - g.x[i]), w = 0.5 * (g.w[i] + g.w[j]);
    g.x[i] = -x;
    g.x[j] = x;
    g.w[i] = g.w[j] = w;
  }
  if (n % 2) g.x[n / 2] = 0;
  double total = 0;
  for (double w : g.w) total += w;
  for (double& w : g.w) w /= total;
  return g;
}

// Not-a-knot slopes m_i of the cubic spline through f_i (uniform spacing h):
//   m_0 + 2 m_1             = (-5 f_0 + 4 f_1 + f_2) / (2h)          (third derivative continuous at x_1)
//   m_{i-1} + 4 m_i + m_{i+1} = 3 (f_{i+1} - f_{i-1}) / h,   0 < i < n-1
//   2 m_{n-2} + m_{n-1}     = (5 f_{n-1} - 4 f_{n-2} - f_{n-3}) / (2h)  (... at x_{n-2})
// Thomas algorithm; the factorization depends on n only.
void SplineField::Tridiagonal::factor(int nn) {
  n = nn;
  diag_inv.assign(n, 0);
  upper.assign(n, 0);
  double c_prev = 0;
  for (int i = 0; i < n; ++i) {
    const double lower = i == 0 ? 0 : i == n - 1 ? 2 : 1;
    const double diag = i == 0 || i == n - 1 ? 1 : 4;
    const double up = i == 0 ? 2 : i == n - 1 ? 0 : 1;
    const double dd = diag - lower * c_prev;
    diag_inv[i] = 1 / dd;
    upper[i] = up / dd;
    c_prev = upper[i];
  }
}

void SplineField::Tridiagonal::solve(const double* f, std::ptrdiff_t s, double h, double* m,
                                     std::ptrdiff_t ms) const {
  auto F = [&](int i) { return f[i * s]; };
  double r_prev = 0;
  for (int i = 0; i < n; ++i) {
    double r;
    if (i == 0) r = (-5 * F(0) + 4 * F(1) + F(2)) / (2 * h);
    else if (i == n - 1) r = (5 * F(n - 1) - 4 * F(n - 2) - F(n - 3)) / (2 * h);
    else r = 3 * (F(i + 1) - F(i - 1)) / h;
    const double lower = i == 0 ? 0 : i == n - 1 ? 2 : 1;
    r_prev = (r - lower * r_prev) * diag_inv[i];
    m[i * ms] = r_prev;
  }
  for (int i = n - 2; i >= 0; --i) m[i * ms] -= upper[i] * m[(i + 1) * ms];
}

SplineField::SplineField(int d, std::array<double, 2> lo, std::array<double, 2> h, std::array<int, 2> n)
    : d_(d), lo_(lo), h_(h), n_(n) {
  if (d < 1 || d > 2) throw InputError("-dim", "the spline interpolant supports d = 1 or 2");
  if (d == 1) n_[1] = 1;
  for (int a = 0; a < d; ++a) {
    if (n_[a] < 4) throw InputError("-da_grid_x", "the cubic spline needs at least 4 points per axis");
    tri_[a].factor(n_[a]);
  }
  const std::size_t cells = static_cast<std::size_t>(n_[0] - 1) * (d == 2 ? n_[1] - 1 : 1);
  coef_.resize(cells * (d == 1 ? 4 : 16));
  fx_.resize(static_cast<std::size_t>(n_[0]) * n_[1]);
  if (d == 2) {
    fy_.resize(fx_.size());
    fxy_.resize(fx_.size());
  }
}

void SplineField::fit(const double* f) {
  const int n0 = n_[0], n1 = n_[1];
  const double hx = h_[0], hy = h_[1];
  if (d_ == 1) {
    tri_[0].solve(f, 1, hx, fx_.data(), 1);
    for (int i = 0; i + 1 < n0; ++i) {
      const double f0 = f[i], f1 = f[i + 1], m0 = hx * fx_[i], m1 = hx * fx_[i + 1];
      double* c = &coef_[4 * i];
      c[0] = f0;
      c[1] = m0;
      c[2] = -3 * f0 + 3 * f1 - 2 * m0 - m1;
      c[3] = 2 * f0 - 2 * f1 + m0 + m1;
    }
    return;
  }
  for (int j = 0; j < n1; ++j) tri_[0].solve(f + j * n0, 1, hx, &fx_[j * n0], 1);
  for (int i = 0; i < n0; ++i) {
    tri_[1].solve(f + i, n0, hy, &fy_[i], n0);
    tri_[1].solve(&fx_[i], n0, hy, &fxy_[i], n0);
  }
  // Bicubic Hermite form on each cell: p(tx, ty) = px' A py, A = M F M', with
  // F rows (f(x0), f(x1), hx fx(x0), hx fx(x1)) and columns likewise in y.
  static const double M[4][4] = {{1, 0, 0, 0}, {0, 0, 1, 0}, {-3, 3, -2, -1}, {2, -2, 1, 1}};
  for (int j = 0; j + 1 < n1; ++j)
    for (int i = 0; i + 1 < n0; ++i) {
      double F[4][4];
      for (int p = 0; p < 2; ++p)
        for (int q = 0; q < 2; ++q) {
          const int k = (j + q) * n0 + (i + p);
          F[p][q] = f[k];
          F[p][2 + q] = hy * fy_[k];
          F[2 + p][q] = hx * fx_[k];
          F[2 + p][2 + q] = hx * hy * fxy_[k];
        }
      double T[4][4];  // M F
      for (int p = 0; p < 4; ++p)
        for (int q = 0; q < 4; ++q) {
          double s = 0;
          for (int r = 0; r < 4; ++r) s += M[p][r] * F[r][q];
          T[p][q] = s;
        }
      double* A = &coef_[16 * (static_cast<std::size_t>(j) * (n0 - 1) + i)];
      for (int p = 0; p < 4; ++p)
        for (int q = 0; q < 4; ++q) {
          double s = 0;
          for (int r = 0; r < 4; ++r) s += T[p][r] * M[q][r];
          A[4 * p + q] = s;
        }
    }
}

namespace {
// Cell index (clamped to the box: outside, the end cell is continued) and local coordinate.
inline int locate(double x, double lo, double h, int n, double* t) {
  const double s = (x - lo) / h;
  int i = static_cast<int>(std::floor(s));
  i = std::clamp(i, 0, n - 2);
  *t = s - i;
  return i;
}
}  // namespace

double SplineField::value(const double* x) const {
  double f;
  eval(x, &f, nullptr, nullptr);
  return f;
}

void SplineField::eval(const double* x, double* f, double* grad, double* hess) const {
  double tx;
  const int i = locate(x[0], lo_[0], h_[0], n_[0], &tx);
  if (d_ == 1) {
    const double* c = &coef_[4 * i];
    if (f) *f = c[0] + tx * (c[1] + tx * (c[2] + tx * c[3]));
    if (grad) grad[0] = (c[1] + tx * (2 * c[2] + 3 * tx * c[3])) / h_[0];
    if (hess) hess[0] = (2 * c[2] + 6 * tx * c[3]) / (h_[0] * h_[0]);
    return;
  }
  double ty;
  const int j = locate(x[1], lo_[1], h_[1], n_[1], &ty);
  const double* A = &coef_[16 * (static_cast<std::size_t>(j) * (n_[0] - 1) + i)];
  const double px[4] = {1, tx, tx * tx, tx * tx * tx};
  double Ay[4], Ady[4], Addy[4];
  for (int p = 0; p < 4; ++p) {
    const double* a = A + 4 * p;
    Ay[p] = a[0] + ty * (a[1] + ty * (a[2] + ty * a[3]));
    Ady[p] = a[1] + ty * (2 * a[2] + 3 * ty * a[3]);
    Addy[p] = 2 * a[2] + 6 * ty * a[3];
  }
  const double dpx[4] = {0, 1, 2 * tx, 3 * tx * tx};
  auto dot = [](const double* u, const double* v) { return u[0] * v[0] + u[1] * v[1] + u[2] * v[2] + u[3] * v[3]; };
  if (f) *f = dot(px, Ay);
  if (grad) {
    grad[0] = dot(dpx, Ay) / h_[0];
    grad[1] = dot(px, Ady) / h_[1];
  }
  if (hess) {
    const double ddpx[4] = {0, 0, 2, 6 * tx};
    hess[0] = dot(ddpx, Ay) / (h_[0] * h_[0]);
    hess[1] = dot(dpx, Ady) / (h_[0] * h_[1]);
    hess[2] = dot(px, Addy) / (h_[1] * h_[1]);
  }
}

// E S(m + sigma Z), E S'(m + sigma Z), E S''(m + sigma Z) for the 1-D spline, exactly: on each
// cell S is a cubic in t = (x - x_i)/h = alpha + beta z (alpha = (m - x_i)/h, beta = sigma/h),
// so each term is sum_j d_j M_j with the truncated normal moments
//   M_j = int_a^b z^j phi(z) dz:  M_0 = Q(a) - Q(b),  M_j = (j-1) M_{j-2} + a^{j-1} phi(a) - b^{j-1} phi(b),
// Q the upper tail.  Cells beyond |z| = 10 are dropped (phi(10) ~ 1e-23); outside the box the end
// cells' polynomials are integrated over the half-lines, as eval() continues them.
void SplineField::gauss_expect(double m, double sigma, double* E, double* G, double* H) const {
  if (d_ != 1) throw SolverError("SplineField::gauss_expect: 1-D only");
  constexpr double zmax = 10, inv_sqrt2 = 0.70710678118654752440, inv_sqrt2pi = 0.39894228040143267794;
  const double h = h_[0], lo = lo_[0], hi = lo_[0] + (n_[0] - 1) * h, beta = sigma / h;
  const double b2 = beta * beta, b3 = b2 * beta;
  double e = 0, g = 0, hh = 0;
  // A cell boundary z (+-inf allowed): z, phi(z), the upper tail Q(z).
  struct Edge {
    double z, phi, Q;
  };
  auto edge = [&](double z) {
    if (z == -INFINITY) return Edge{0, 0, 1};
    if (z == INFINITY) return Edge{0, 0, 0};
    return Edge{z, inv_sqrt2pi * std::exp(-0.5 * z * z), 0.5 * std::erfc(z * inv_sqrt2)};
  };
  // Adds the integral of cell `cell`'s polynomial between the boundaries A and B.
  auto add = [&](int cell, const Edge& A, const Edge& B) {
    const double* c = &coef_[4 * cell];
    const double alpha = (m - (lo + cell * h)) / h;
    double M[4];
    M[0] = A.Q - B.Q;
    M[1] = A.phi - B.phi;
    M[2] = M[0] + A.z * A.phi - B.z * B.phi;
    M[3] = 2 * M[1] + A.z * A.z * A.phi - B.z * B.z * B.phi;
    const double d0 = c[0] + alpha * (c[1] + alpha * (c[2] + alpha * c[3]));
    const double d1 = beta * (c[1] + alpha * (2 * c[2] + 3 * alpha * c[3]));
    const double d2 = b2 * (c[2] + 3 * alpha * c[3]);
    const double d3 = b3 * c[3];
    e += d0 * M[0] + d1 * M[1] + d2 * M[2] + d3 * M[3];
    g += d1 * M[0] + 2 * d2 * M[1] + 3 * d3 * M[2];  // d p / dz; / sigma below
    hh += 2 * d2 * M[0] + 6 * d3 * M[1];             // d^2 p / dz^2; / sigma^2 below
  };
  const double xa = m - zmax * sigma, xb = m + zmax * sigma;
  if (xa < lo) add(0, edge(-INFINITY), edge(std::min((lo - m) / sigma, zmax)));
  if (xb > hi) add(n_[0] - 2, edge(std::max((hi - m) / sigma, -zmax)), edge(INFINITY));
  if (xb > lo && xa < hi) {
    const int i0 = std::clamp(static_cast<int>(std::floor((xa - lo) / h)), 0, n_[0] - 2);
    const int i1 = std::clamp(static_cast<int>(std::floor((xb - lo) / h)), 0, n_[0] - 2);
    Edge A = edge(std::clamp((lo + i0 * h - m) / sigma, -zmax, zmax));
    for (int i = i0; i <= i1; ++i) {  // each boundary's exp and erfc once
      const Edge B = edge(std::clamp((lo + (i + 1) * h - m) / sigma, -zmax, zmax));
      if (B.z > A.z) add(i, A, B);
      A = B;
    }
  }
  *E = e;
  if (G) *G = g / sigma;
  if (H) *H = hh / (sigma * sigma);
}

}  // namespace hjbft
