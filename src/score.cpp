#include "hjbft/score.hpp"

#include <cmath>

namespace hjbft {

Vector ScoreError::at(const Vector& x) const {
  if (amp == 0.0) return Vector::Zero(x.size());
  return amp * (freq * x.array()).sin().matrix();
}

Vector ScoreAtTime::operator()(const Vector& x) const {
  Vector s = marg_.score(x);
  if (err_.amp != 0.0) s += err_.at(x);
  return s;
}

ScoreAtTime PretrainedScore::at_tau(double tau) const {
  const double m = sde_.m(tau), v = sde_.v(tau);
  return ScoreAtTime(data_.affine_marginal(m, v), err_, m, v);
}

}  // namespace hjbft
