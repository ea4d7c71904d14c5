// hjbft bellman: the discrete-time ground truth (DESIGN.md section 5), the
// Bellman recursion of the K-step DDPM chain on a grid (solvers/bellman/),
// written in the common HDF5 layout: V_t and the fine-tuning control
// u_t = U_t - s_t at the saved steps t (time t T/K), /history for -bellman_method pi.
// At t = K no step starts; the control written there is grad r / beta, the
// eta = 1 continuous-time limit.
#include <petscdmda.h>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/solvers/bellman.hpp"

namespace hjbft {

int cmd_bellman(MPI_Comm comm) {
  ProblemAndGridOptions pg = read_problem_and_grid_options(comm);
  GridOptions& go = pg.grid;
  BellmanOptions bo;
  HJBFT_PETSC(ReadBellmanOptions(comm, &bo));
  const std::string out = read_output_option(comm, "bellman.h5");
  if (help_requested()) return 0;

  const Problem problem = build_problem(pg.problem);
  validate_bellman_options(problem, bo);
  // The time grid is the chain's: grid step j = chain step t, time j T / K.
  PetscBool nt_set = PETSC_FALSE;
  HJBFT_PETSC(PetscOptionsHasName(nullptr, nullptr, "-nt", &nt_set));
  if (nt_set && go.nt != bo.K)
    throw InputError("-nt", "hjbft bellman uses the chain's time grid: give -ddpm_steps K (here " +
                                std::to_string(bo.K) + ") and omit -nt, or set it equal (got " +
                                std::to_string(go.nt) + ")");
  go.nt = bo.K;
  const Grid grid(comm, problem, go);
  if (bo.monitor)
    HJBFT_PETSC(PetscPrintf(comm, "hjbft bellman (%s): %s\n  K = %d DDPM steps, %d Gauss-Hermite nodes per axis\n  %s\n",
                            bo.method.c_str(), problem.describe().c_str(), static_cast<int>(bo.K),
                            static_cast<int>(bo.quad), grid.describe().c_str()));
  FieldWriter writer(grid, out, "bellman/" + bo.method);  // fails early on a bad -o
  BellmanGridSolver solver(problem, grid, bo);
  solver.solve();

  write_saved_fields(writer, grid, [&](int s, ::Vec V, ::Vec U) {
    solver.to_vec(solver.value(s), 1, V);
    solver.to_vec(solver.control(s), grid.dim(), U);
    return V;
  });
  write_history(writer, solver.history());
  write_summary(writer, solver.summary());
  if (solver.continuous()) writer.set_attribute("exact_solution", solver.continuous()->name());
  commit_result(writer, grid, problem);
  if (bo.monitor) {
    const auto& s = solver.summary();
    HJBFT_PETSC(PetscPrintf(comm, "  done in %.2fs: J* = %.10g", s.at("wall_time"), s.at("objective")));
    if (bo.method == "pi")
      HJBFT_PETSC(PetscPrintf(comm, "; PI %s after %d iterations, last iterate vs optimum: sup|u-u*| %.3e",
                              s.at("pi_converged") ? "converged" : "NOT converged",
                              static_cast<int>(s.at("pi_iterations")), s.at("error_control_sup")));
    HJBFT_PETSC(PetscPrintf(comm, "\n  wrote %s\n", out.c_str()));
  }
  return 0;
}

}  // namespace hjbft
