#include "hjbft/model/reward.hpp"

#include <cmath>

namespace hjbft {

double QuadraticForm::value(const Vector& x) const {
  const Vector r = x - c;
  return -0.5 * r.dot(A * r) + b.dot(x);
}

Vector QuadraticForm::gradient(const Vector& x) const { return -(A * (x - c)) + b; }

double GaussianBumpReward::value(const Vector& x) const {
  return scale_ * std::exp(-(x - c_).squaredNorm() / (2 * width_ * width_));
}

Vector GaussianBumpReward::gradient(const Vector& x) const {
  return -value(x) / (width_ * width_) * (x - c_);
}

double DoubleWellReward::value(const Vector& x) const {
  const double q = (x - c_).squaredNorm() - width_ * width_;
  return -scale_ * q * q;
}

Vector DoubleWellReward::gradient(const Vector& x) const {
  const double q = (x - c_).squaredNorm() - width_ * width_;
  return -4.0 * scale_ * q * (x - c_);
}

}  // namespace hjbft
