// hjbft bellman: the discrete-time ground truth (DESIGN.md section 5), the
// Bellman recursion of the K-step DDPM chain on a grid (solvers/discrete/),
// written in the common HDF5 layout: V_t and the fine-tuning control
// u_t = U_t - s_t at the saved steps t (time t T/K), /history for -bellman_method pi.
// At t = K no step starts; the control written there is grad r / beta, the
// eta = 1 continuous-time limit.
#include <petscdmda.h>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/io/xdmf.hpp"
#include "hjbft/solvers/bellman.hpp"

namespace hjbft {

int cmd_bellman(MPI_Comm comm) {
  ProblemOptions po;
  HJBFT_PETSC(ReadProblemOptions(comm, &po));
  GridOptions go;
  HJBFT_PETSC(ReadGridOptions(comm, static_cast<int>(po.dim), &go));
  BellmanOptions bo;
  HJBFT_PETSC(ReadBellmanOptions(comm, &bo));
  const std::string out = read_output_option(comm, "bellman.h5");
  if (help_requested()) return 0;

  const Problem problem = build_problem(po);
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

  ::Vec V, U;
  HJBFT_PETSC(DMCreateGlobalVector(grid.da(), &V));
  HJBFT_PETSC(DMCreateGlobalVector(grid.da_vector(), &U));
  try {
    for (std::size_t i = 0; i < grid.saved_steps().size(); ++i) {
      solver.to_vec(solver.value(static_cast<int>(i)), 1, V);
      solver.to_vec(solver.control(static_cast<int>(i)), grid.dim(), U);
      writer.write_value(static_cast<int>(i), V);
      writer.write_control(static_cast<int>(i), U);
    }
  } catch (...) {
    VecDestroy(&V);
    VecDestroy(&U);
    throw;
  }
  HJBFT_PETSC(VecDestroy(&V));
  HJBFT_PETSC(VecDestroy(&U));
  const History& h = solver.history();
  for (const auto& name : h.order) writer.write_series("/history/" + name, h.columns.at(name));
  for (const auto& [name, v] : solver.summary()) writer.set_attribute(name, v);
  if (solver.continuous()) writer.set_attribute("exact_solution", solver.continuous()->name());
  writer.set_attribute("options", all_options_string());
  writer.set_attribute("problem", problem.describe());
  writer.commit();
  write_xdmf(grid, out, {"value"}, true);
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
