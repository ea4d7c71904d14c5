// Problem options: every invalid input gets an InputError naming the option
// (build_problem from a ProblemOptions struct), and the options database is
// read with the option names of DESIGN.md section 6.
#include <catch2/catch.hpp>
#include <petscsys.h>

#include <sstream>

#include "hjbft/model/problem.hpp"
#include "test_util.hpp"

using namespace hjbft;
using namespace hjbft::test;

namespace {

ProblemOptions valid() {
  ProblemOptions o;
  o.dim = 1;
  o.weights = {0.5, 0.5};
  o.means = {-2.0, 2.0};
  o.vars = {0.25};
  return o;
}

// What build_problem reports for these options: the option name and the message.
std::pair<std::string, std::string> error_of(const ProblemOptions& o) {
  try {
    build_problem(o);
  } catch (const InputError& e) {
    return {e.option(), e.what()};
  } catch (const std::exception& e) {
    return {"<other>", e.what()};
  }
  return {"<no error>", ""};
}

// Inserts options into the PETSc database for the lifetime of the guard.
class OptionsGuard {
public:
  explicit OptionsGuard(const std::string& s) {
    REQUIRE(PetscOptionsInsertString(nullptr, s.c_str()) == 0);
    std::istringstream in(s);
    std::string w;
    while (in >> w)
      if (w.size() > 1 && w[0] == '-' && !std::isdigit(static_cast<unsigned char>(w[1])) && w[1] != '.')
        names_.push_back(w);
  }
  ~OptionsGuard() {
    for (const auto& n : names_) PetscOptionsClearValue(nullptr, n.c_str());
  }

private:
  std::vector<std::string> names_;
};

}  // namespace

TEST_CASE("build_problem accepts the valid baseline", "[options]") {
  const Problem p = build_problem(valid());
  CHECK(p.dim == 1);
  CHECK(p.data().size() == 2);
  CHECK(p.reward->name() == "quadratic");
  CHECK(p.gmm_closed_form_applies());
}

TEST_CASE("build_problem: each bad input names its option", "[options][input]") {
  struct Bad {
    const char* what;
    std::function<void(ProblemOptions&)> edit;
    const char* option;
  };
  const std::vector<Bad> cases = {
      {"beta = 0", [](ProblemOptions& o) { o.beta = 0; }, "-beta"},
      {"beta < 0", [](ProblemOptions& o) { o.beta = -1; }, "-beta"},
      {"beta NaN", [](ProblemOptions& o) { o.beta = std::nan(""); }, "-beta"},
      {"beta_end <= 0",
       [](ProblemOptions& o) {
         o.beta_end_set = true;
         o.beta_end = 0;
       },
       "-beta_end"},
      {"weights not summing to 1", [](ProblemOptions& o) { o.weights = {0.5, 0.6}; }, "-target_weights"},
      {"negative weight", [](ProblemOptions& o) { o.weights = {1.5, -0.5}; }, "-target_weights"},
      {"non-positive-definite covariance",
       [](ProblemOptions& o) {
         o.dim = 2;
         o.means = {0, 0, 1, 1};
         o.covs = {1, 0, 0, 1, 1, 2, 2, 1};  // second has eigenvalues 3, -1
       },
       "-target_covs"},
      {"non-symmetric covariance",
       [](ProblemOptions& o) {
         o.dim = 2;
         o.means = {0, 0, 1, 1};
         o.covs = {1, 0.5, 0, 1, 1, 0, 0, 1};
       },
       "-target_covs"},
      {"covariance count not K d d",
       [](ProblemOptions& o) {
         o.dim = 2;
         o.means = {0, 0, 1, 1};
         o.covs = {1, 0, 0, 1};
       },
       "-target_covs"},
      {"zero isotropic variance", [](ProblemOptions& o) { o.vars = {0.25, 0.0}; }, "-target_vars"},
      {"means count not K d (too few)", [](ProblemOptions& o) { o.means = {1.0}; }, "-target_means"},
      {"means count not K d (dim 2)", [](ProblemOptions& o) { o.dim = 2; }, "-target_means"},
      {"eta > 1", [](ProblemOptions& o) { o.eta = 1.5; }, "-eta"},
      {"eta < 0", [](ProblemOptions& o) { o.eta = -0.1; }, "-eta"},
      {"ill-posed quadratic reward",
       [](ProblemOptions& o) {
         o.reward = "quadratic";
         o.reward_scale = -5.0;  // S^{-1} + scale/beta = 4 - 5 < 0
       },
       "-reward_scale"},
      {"ill-posed quadratic reward for smaller beta",
       [](ProblemOptions& o) {
         o.reward_scale = -0.5;  // fine for beta = 1 (4 - 0.5), ill-posed for beta = 0.1 (4 - 5)
         o.beta = 0.1;
       },
       "-reward_scale"},
      {"unknown sde family", [](ProblemOptions& o) { o.sde = "vpp"; }, "-sde"},
      {"unknown reward", [](ProblemOptions& o) { o.reward = "quadratik"; }, "-reward"},
      {"dim 0", [](ProblemOptions& o) { o.dim = 0; }, "-dim"},
  };
  for (const auto& c : cases) {
    ProblemOptions o = valid();
    c.edit(o);
    const auto [opt, msg] = error_of(o);
    INFO(c.what << ": " << msg);
    CHECK(opt == c.option);
    CHECK(msg.find(c.option) != std::string::npos);
  }
}

TEST_CASE("build_problem: error messages say what is allowed", "[options][input]") {
  ProblemOptions o = valid();
  o.sde = "foo";
  const std::string sde_msg = error_of(o).second;
  for (const char* f : {"vp", "subvp", "ve", "cou", "cvp", "csubvp"}) CHECK(sde_msg.find(f) != std::string::npos);
  o = valid();
  o.reward = "foo";
  const std::string r_msg = error_of(o).second;
  for (const char* f : {"linear", "quadratic", "bump", "mixture", "doublewell"})
    CHECK(r_msg.find(f) != std::string::npos);
  o = valid();
  o.eta = 2;
  CHECK(error_of(o).second.find("[0, 1]") != std::string::npos);
  // The well-posedness threshold is stated: scale > -beta / lambda_max(S) = -4 for beta 1, var 0.25.
  o = valid();
  o.reward_scale = -5;
  CHECK(error_of(o).second.find("scale > -4") != std::string::npos);
}

TEST_CASE("The quadratic reward's well-posedness boundary is where E[exp(r/beta)] diverges", "[options]") {
  // var 0.25, beta 1: finite iff 1/0.25 + scale > 0, i.e. scale > -4.
  ProblemOptions o = valid();
  o.reward_scale = -3.99;
  CHECK(error_of(o).first == "<no error>");
  o.reward_scale = -4.01;
  CHECK(error_of(o).first == "-reward_scale");
}

TEST_CASE("Options database: problem options are read with the DESIGN.md names", "[options]") {
  OptionsGuard g(
      "-dim 2 -sde cou -sde_theta 0.5 -sde_s 2 -eta 0.5 -target_weights 0.25,0.75 -target_means 0,1,2,3 "
      "-target_covs 1,0.2,0.2,0.5,0.3,0,0,0.4 -reward linear -reward_vector 1,-2 -beta 0.4 -beta_end 0.8");
  const Problem p = problem_from_options(PETSC_COMM_WORLD);
  CHECK(p.dim == 2);
  CHECK(p.sde.params().family == SdeFamily::cou);
  CHECK(p.sde.params().theta == 0.5);
  CHECK(p.sde.params().s == 2.0);
  CHECK(p.eta() == 0.5);
  REQUIRE(p.data().size() == 2);
  CHECK(p.data().component(0).weight == 0.25);
  CHECK(p.data().component(1).mean[0] == 2.0);
  CHECK(p.data().component(1).mean[1] == 3.0);
  CHECK(p.data().component(0).cov(0, 1) == 0.2);
  CHECK(p.data().component(1).cov(1, 1) == 0.4);
  CHECK(p.reward->name() == "linear");
  const Vector x = Vector::Ones(2);
  CHECK(p.reward->value(x) == Approx(-1.0));
  CHECK(p.control.beta()(0) == 0.4);
  CHECK(p.control.beta()(1.0) == Approx(0.8));
  CHECK_FALSE(p.gmm_closed_form_applies());
}

TEST_CASE("Options database: quadratic reward r = -scale/2 |x - c|^2 (+ vector . x)", "[options]") {
  OptionsGuard g("-dim 2 -reward quadratic -reward_scale 3 -reward_center 1,-1 -reward_vector 0.5");
  const Problem p = problem_from_options(PETSC_COMM_WORLD);
  const Vector x = (Vector(2) << 0.2, 0.7).finished();
  const double expected = -1.5 * ((0.2 - 1) * (0.2 - 1) + (0.7 + 1) * (0.7 + 1)) + 0.5 * (0.2 + 0.7);
  CHECK(p.reward->value(x) == Approx(expected).epsilon(1e-14));
}

TEST_CASE("Options database: bad values from the command line name the option", "[options][input]") {
  {
    OptionsGuard g("-target_weights 0.2,0.2 -target_means 0,1");
    CHECK(option_of([] { problem_from_options(PETSC_COMM_WORLD); }) == "-target_weights");
  }
  {
    OptionsGuard g("-target_weights 1 -target_means 0,1");
    CHECK(option_of([] { problem_from_options(PETSC_COMM_WORLD); }) == "-target_means");
  }
  {
    OptionsGuard g("-target_weights 0.5,0.5");
    CHECK(option_of([] { problem_from_options(PETSC_COMM_WORLD); }) == "-target_means");
  }
  {
    OptionsGuard g("-eta 1.01");
    CHECK(option_of([] { problem_from_options(PETSC_COMM_WORLD); }) == "-eta");
  }
}

TEST_CASE("Rewards: gradients equal finite differences of the values", "[reward]") {
  const char* names[] = {"linear", "quadratic", "bump", "mixture", "doublewell"};
  for (const char* name : names) {
    ProblemOptions o = valid();
    o.dim = 2;
    o.means = {-2, 0, 2, 0};
    o.reward = name;
    o.reward_center = {0.3, -0.2};
    o.reward_width = 1.3;
    o.reward_vector = {0.4, -0.7};
    if (std::string(name) == "mixture") {
      o.mix_weights = {0.4, 0.6};
      o.mix_means = {1, 1, -1, 0};
      o.mix_vars = {0.5, 0.8};
    }
    const Problem p = build_problem(o);
    INFO("reward " << name);
    for (const Vector& x : {(Vector(2) << 0.1, 0.5).finished(), (Vector(2) << -1.4, 0.9).finished(),
                            (Vector(2) << 2.0, -1.0).finished()}) {
      const Vector g = p.reward->gradient(x);
      const Vector fd = fd_gradient([&](const Vector& y) { return p.reward->value(y); }, x, 1e-5);
      CHECK((g - fd).norm() <= 1e-6 * (1 + g.norm()));
    }
  }
}
