// hjbft neural: neural PI-FT (solvers/neural/), writing the networks' V and u
// on the output grid in the common layout, the per-iteration /history, the
// weights (/networks/value, /networks/control) and the summary attributes.
#include <cstdio>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

int cmd_neural(MPI_Comm comm) {
  ProblemAndGridOptions pg = read_problem_and_grid_options(comm);
  NeuralOptions no;
  no.adam.lr = 3e-3;
  no.adam.schedule = "cosine";
  HJBFT_PETSC(ReadNeuralOptions(comm, &no));
  const std::string out = read_output_option(comm, "neural.h5");
  if (help_requested()) return 0;

  int size;
  MPI_Comm_size(comm, &size);
  validate(no, size);
  const Problem problem = build_problem(pg.problem);
  // The discrete chain lives at t = j T/K: the output grid saves at those times.
  if (no.mode == "discrete") pg.grid.nt = no.nsteps;
  const Grid grid(comm, problem, pg.grid);
  const std::unique_ptr<ControlSource> reference =
      make_neural_reference(problem, no.reference, "-neural_reference", no.mode == "continuous");
  HJBFT_PETSC(PetscPrintf(comm, "hjbft neural: %s\n  %s\n  reference: %s\n", problem.describe().c_str(),
                          grid.describe().c_str(), reference ? reference->name().c_str() : "none"));
  FieldWriter writer(grid, out, "neural/" + no.mode);  // fails early on a bad -o
  NeuralPiftSolver solver(comm, problem, grid, no, reference.get());
  const bool completed = solver.run();

  write_neural_result(writer, problem, grid, solver, reference.get(), {{"neural_evaluation", no.evaluation}});
  HJBFT_PETSC(PetscPrintf(comm, "  done in %.2fs; wrote %s\n", solver.summary().at("wall_time"), out.c_str()));
  if (!completed)
    throw SolverError("neural PI-FT stopped: " + solver.stop_reason() + "; the iterations up to there are in " + out);
  return 0;
}

}  // namespace hjbft
