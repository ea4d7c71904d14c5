#pragma once
// Distances between samples and a law (the sampler's measurements, DESIGN.md
// section 4): Kolmogorov-Smirnov in 1-D, the energy distance, and a
// comparison of moments and mode weights with a Gaussian mixture.
#include <cstdint>

#include "hjbft/core/linalg.hpp"
#include "hjbft/model/gmm.hpp"

namespace hjbft {

double ks_distance_1d(const Vector& x, const Gmm& law);
// Energy distance 2 E|X-Y| - E|X-X'| - E|Y-Y'| (rows are points; U-statistics).
double energy_distance(const Matrix& X, const Matrix& Y);

struct LawComparison {
  Vector sample_mean, law_mean;
  Matrix sample_cov, law_cov;
  double mean_error = 0;        // |sample mean - law mean|
  double mean_error_sigmas = 0; // mean error / (MC standard error of the mean)
  double cov_error = 0;         // Frobenius norm
  Vector mode_weights;          // fraction of samples assigned to each component (largest responsibility)
  Vector law_weights;           // the law's component weights
  Vector law_assigned;          // fraction of exact samples of the law assigned the same way
  double mode_weight_error = 0; // max |mode_weights - law_assigned|
  double energy = 0;            // energy distance to exact samples of the law
  double energy_null = 0;       // the same between two independent exact sample sets (MC noise scale)
  double ks = -1;               // 1-D only
};
// Compares samples (rows) with a GMM; energy distance on at most energy_n points of each.
LawComparison compare_with_law(const Matrix& samples, const Gmm& law, std::uint64_t seed, int energy_n = 2000);

}  // namespace hjbft
