// hjbft solve: the ground-truth grid HJB solver (solvers/hjb/), writing
// V and u = gain grad V at the saved times, the per-iteration /history, and
// the summary (errors against the closed form where one applies) as root
// attributes.
#include <petscdmda.h>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/solvers/hjb.hpp"

namespace hjbft {

int cmd_solve(MPI_Comm comm) {
  const ProblemAndGridOptions pg = read_problem_and_grid_options(comm);
  // hjbft solve's defaults: the fastest method at the accuracy of the others
  // (Howard: the discrete solution of global PI, one time step at a time; see
  // docs/performance.md), with tolerances from the discretization error.
  HjbOptions ho;
  ho.method = "howard";
  ho.tolerance = "auto";
  HJBFT_PETSC(ReadHjbOptions(comm, &ho));
  const std::string out = read_output_option(comm, "solve.h5");
  PetscBool named;
  HJBFT_PETSC(PetscOptionsHasName(nullptr, nullptr, "-checkpoint_file", &named));
  if (!named) {  // next to the output: run.h5 -> run.checkpoint.h5
    const bool h5 = out.size() > 3 && out.compare(out.size() - 3, 3, ".h5") == 0;
    ho.checkpoint_file = (h5 ? out.substr(0, out.size() - 3) : out) + ".checkpoint.h5";
  }
  if (help_requested()) {
    // The linear solver's own options (-ksp_type, -pc_type, ...).
    KSP ksp;
    HJBFT_PETSC(KSPCreate(comm, &ksp));
    HJBFT_PETSC(KSPSetFromOptions(ksp));
    HJBFT_PETSC(KSPDestroy(&ksp));
    return 0;
  }

  const Problem problem = build_problem(pg.problem);
  const Grid grid(comm, problem, pg.grid);
  if (ho.monitor)
    HJBFT_PETSC(PetscPrintf(comm, "hjbft solve (%s): %s\n  %s\n", ho.method.c_str(), problem.describe().c_str(),
                            grid.describe().c_str()));
  FieldWriter writer(grid, out, "solve/" + ho.method);  // fails early on a bad -o
  HjbGridSolver solver(problem, grid, ho);
  solver.solve();
  if (solver.stopped()) {  // -hjb_stop_after: the checkpoint is the result of this run
    HJBFT_PETSC(PetscPrintf(comm, "  stopped after %d steps (-hjb_stop_after %d); continue with -restart %s\n",
                            static_cast<int>(solver.steps_this_run()), static_cast<int>(ho.stop_after),
                            ho.checkpoint_file.c_str()));
    return 0;
  }

  write_saved_fields(writer, grid, [&](int s, ::Vec, ::Vec U) {
    const PetscInt j = grid.saved_steps()[s];
    solver.control(j, U);
    return solver.value(j);
  });
  if (ho.fp_init != "none") {
    std::vector<::Vec> density;
    solver.fokker_planck(&density);
    for (std::size_t i = 0; i < density.size(); ++i) writer.write_scalar_field("density", static_cast<int>(i), density[i]);
    for (auto& v : density) HJBFT_PETSC(VecDestroy(&v));
  }
  write_history(writer, solver.history());
  write_summary(writer, solver.summary());
  if (solver.exact()) writer.set_attribute("exact_solution", solver.exact()->name());
  std::vector<std::string> fields{"value"};
  if (ho.fp_init != "none") fields.push_back("density");
  commit_result(writer, grid, problem, fields);
  if (ho.monitor) {
    HJBFT_PETSC(PetscPrintf(comm, "  done in %.2fs", solver.summary().at("wall_time")));
    if (solver.exact())
      HJBFT_PETSC(PetscPrintf(comm, "; vs closed form (%s), %.1f%% mass region: sup|V-V*| %.3e, sup|u-u*| %.3e",
                              solver.exact()->name().c_str(), 100 * ho.mass,
                              solver.summary().at("error_value_sup"), solver.summary().at("error_control_sup")));
    HJBFT_PETSC(PetscPrintf(comm, "\n  wrote %s\n", out.c_str()));
  }
  return 0;
}

}  // namespace hjbft
