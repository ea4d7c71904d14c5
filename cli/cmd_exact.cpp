// hjbft exact: the closed-form V*(t,x) and u*(t,x) = gain(t) grad V*(t,x) on a
// grid, written in the common HDF5 layout.  This is the reference every grid,
// neural and policy-gradient result is compared with.
#include <petscdmda.h>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/grid/grid_fields.hpp"
#include "hjbft/io/field_io.hpp"

namespace hjbft {

namespace {

PetscErrorCode ReadExactOptions(MPI_Comm comm, std::string* method) {
  char buf[64] = "auto";
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "exact: closed-form value and control", nullptr);
  PetscCall(PetscOptionsString("-exact_method", "Closed form: auto|gmm|riccati", nullptr, buf, buf, sizeof buf, nullptr));
  PetscOptionsEnd();
  *method = buf;
  PetscFunctionReturn(0);
}

}  // namespace

int cmd_exact(MPI_Comm comm) {
  const ProblemAndGridOptions pg = read_problem_and_grid_options(comm);
  std::string method;
  HJBFT_PETSC(ReadExactOptions(comm, &method));
  const std::string out = read_output_option(comm, "exact.h5");
  if (help_requested()) return 0;

  const Problem problem = build_problem(pg.problem);
  const auto exact = make_exact_solution(problem, method);
  if (!exact) throw InputError("-exact_method", std::string("no closed form applies: ") + exact_solution_requirements());
  const Grid grid(comm, problem, pg.grid);
  HJBFT_PETSC(PetscPrintf(comm, "hjbft exact: %s\n  %s\n  closed form: %s\n", problem.describe().c_str(),
                          grid.describe().c_str(), exact->name().c_str()));

  FieldWriter writer(grid, out, "exact/" + exact->name());
  double vmin = INFINITY, vmax = -INFINITY;
  write_saved_fields(writer, grid, [&](int s, ::Vec V, ::Vec U) {
    evaluate_on_grid(*exact, problem.control, grid, grid.time(grid.saved_steps()[s]), V, U);
    PetscReal lo, hi;
    HJBFT_PETSC(VecMin(V, nullptr, &lo));
    HJBFT_PETSC(VecMax(V, nullptr, &hi));
    vmin = std::min(vmin, static_cast<double>(lo));
    vmax = std::max(vmax, static_cast<double>(hi));
    return V;
  });
  commit_result(writer, grid, problem);
  HJBFT_PETSC(PetscPrintf(comm, "  V* in [%g, %g]; wrote %s\n", vmin, vmax, out.c_str()));
  return 0;
}

}  // namespace hjbft
