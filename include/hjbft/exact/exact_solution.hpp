#pragma once
// One interface over the closed forms, for commands and solvers that compare
// against them: V*(t, .) and grad V*(t, .) at any time.
//   gmm      eta = 1, exact score, constant beta, GMM data, linear/quadratic reward
//   riccati  Gaussian (one-component) data, exact score, any eta, any beta(t),
//            linear/quadratic reward
#include <functional>
#include <memory>
#include <string>

#include "hjbft/exact/closed_form.hpp"
#include "hjbft/model/problem.hpp"

namespace hjbft {

struct ValueAndGradient {
  double V;
  Vector grad;
};

class ExactSolution {
public:
  using Field = std::function<ValueAndGradient(const Vector&)>;
  virtual ~ExactSolution() = default;
  virtual Field at_time(double t) const = 0;
  virtual std::string name() const = 0;
};

// method: auto | gmm | riccati.  Returns nullptr when no closed form applies
// (auto), throws InputError(-exact_method) when the requested one does not.
std::unique_ptr<ExactSolution> make_exact_solution(const Problem& p, const std::string& method = "auto");
const char* exact_solution_requirements();

}  // namespace hjbft
