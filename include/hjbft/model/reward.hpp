#pragma once
// Terminal rewards r(x) with value and gradient.
//
// Rewards of the form r(x) = -1/2 (x-c)^T A (x-c) + b^T x ("quadratic form":
// the linear and quadratic rewards) have closed-form value functions
// (DESIGN.md section 4); they expose that form through quadratic_form().
#include <memory>
#include <optional>
#include <string>

#include "hjbft/model/gmm.hpp"

namespace hjbft {

struct QuadraticForm {
  Matrix A;  // symmetric
  Vector c;
  Vector b;
  double value(const Vector& x) const;
  Vector gradient(const Vector& x) const;
};

class Reward {
public:
  virtual ~Reward() = default;
  virtual double value(const Vector& x) const = 0;
  virtual Vector gradient(const Vector& x) const = 0;
  virtual std::string name() const = 0;
  virtual std::optional<QuadraticForm> quadratic_form() const { return std::nullopt; }
};

// r = -1/2 (x-c)^T A (x-c) + b^T x.  "linear" is A = 0, "quadratic" is A = scale I.
class QuadraticFormReward final : public Reward {
public:
  QuadraticFormReward(QuadraticForm q, std::string name) : q_(std::move(q)), name_(std::move(name)) {}
  double value(const Vector& x) const override { return q_.value(x); }
  Vector gradient(const Vector& x) const override { return q_.gradient(x); }
  std::string name() const override { return name_; }
  std::optional<QuadraticForm> quadratic_form() const override { return q_; }

private:
  QuadraticForm q_;
  std::string name_;
};

// r = scale * exp(-|x-c|^2 / (2 width^2)): a non-concave bump.
class GaussianBumpReward final : public Reward {
public:
  GaussianBumpReward(Vector c, double scale, double width) : c_(std::move(c)), scale_(scale), width_(width) {}
  double value(const Vector& x) const override;
  Vector gradient(const Vector& x) const override;
  std::string name() const override { return "bump"; }

private:
  Vector c_;
  double scale_, width_;
};

// r = scale * log q(x) for a Gaussian mixture q (a "preference" density).
class MixtureLogDensityReward final : public Reward {
public:
  MixtureLogDensityReward(Gmm q, double scale) : q_(std::move(q)), scale_(scale) {}
  double value(const Vector& x) const override { return scale_ * q_.log_density(x); }
  Vector gradient(const Vector& x) const override { return scale_ * q_.score(x); }
  std::string name() const override { return "mixture"; }

private:
  Gmm q_;
  double scale_;
};

// r = -scale (|x-c|^2 - width^2)^2: two wells at c +- width in 1-D, a ring in 2-D.
class DoubleWellReward final : public Reward {
public:
  DoubleWellReward(Vector c, double scale, double width) : c_(std::move(c)), scale_(scale), width_(width) {}
  double value(const Vector& x) const override;
  Vector gradient(const Vector& x) const override;
  std::string name() const override { return "doublewell"; }

private:
  Vector c_;
  double scale_, width_;
};

}  // namespace hjbft
