// hjbft pg: policy-gradient training of the control network (solvers/pg/),
// writing V and u on the output grid in the common layout (DESIGN.md section
// 6), one /history entry per iteration, the weights and the summary
// attributes -- the same file as hjbft neural, so the two compare directly.
#include <cstdio>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/solvers/pg.hpp"

namespace hjbft {

int cmd_pg(MPI_Comm comm) {
  const ProblemAndGridOptions common = read_problem_and_grid_options(comm);
  NeuralOptions no;  // the value network and its fit
  no.adam.lr = 3e-3;
  no.adam.schedule = "cosine";
  no.outer = 100;
  no.value_steps = 200;
  no.control_form = "free";  // the estimators differentiate u = N_theta itself
  no.diverge = 1e6;  // Adam's first steps move only the last layer: later changes are naturally larger
  HJBFT_PETSC(ReadNeuralOptions(comm, &no));
  PgOptions pg;
  pg.adam.lr = 1e-2;
  HJBFT_PETSC(ReadPgOptions(comm, &pg, &no));
  const std::string out = read_output_option(comm, "pg.h5");
  if (help_requested()) return 0;

  int size;
  MPI_Comm_size(comm, &size);
  const Problem problem = build_problem(common.problem);
  validate(&pg, no, problem, size);  // -pg_* names first
  validate(no, size);
  const Grid grid(comm, problem, common.grid);
  const std::unique_ptr<ControlSource> reference =
      make_neural_reference(problem, pg.reference, "-pg_reference", true);
  HJBFT_PETSC(PetscPrintf(comm, "hjbft pg (%s estimator, %s update): %s\n  %s\n  reference: %s\n",
                          pg.estimator_name.c_str(), pg.method_name.c_str(), problem.describe().c_str(),
                          grid.describe().c_str(),
                          reference ? reference->name().c_str() : "none"));
  FieldWriter writer(grid, out, "pg/" + to_string(pg.estimator));  // fails early on a bad -o
  NeuralPiftSolver solver(comm, problem, grid, no, reference.get(),
                          std::make_unique<PgControlUpdate>(comm, problem, pg, no.paths));
  const bool completed = solver.run();

  write_neural_result(writer, problem, grid, solver, reference.get(), {{"pg_estimator", to_string(pg.estimator)}, {"pg_method", to_string(pg.update.method)}});
  HJBFT_PETSC(PetscPrintf(comm, "  done in %.2fs; wrote %s\n", solver.summary().at("wall_time"), out.c_str()));
  if (!completed)
    throw SolverError("policy gradient stopped: " + solver.stop_reason() + "; the iterations up to there are in " +
                      out);
  return 0;
}

}  // namespace hjbft
