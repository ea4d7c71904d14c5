// hjbft neural: neural PI-FT (solvers/neural/), writing the networks' V and u
// on the output grid in the common layout, the per-iteration /history, the
// weights (/networks/value, /networks/control) and the summary attributes.
#include <cstdio>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"
#include "hjbft/io/network_io.hpp"
#include "hjbft/solvers/neural.hpp"
#include "hjbft/solvers/sample.hpp"

namespace hjbft {

// The reference the iterates are measured against (null: none); `spec` is the
// value of `option`.  auto: the closed form when one applies and the run is
// in continuous time (for the DDPM chain the reference is hjbft bellman's).
std::unique_ptr<ControlSource> make_neural_reference(const Problem& p, const std::string& spec,
                                                     const std::string& option, bool continuous) {
  if (spec == "none") return nullptr;
  if (spec == "auto") {
    if (!continuous) return nullptr;
    try {
      return make_exact_control(p);
    } catch (const InputError&) {
      return nullptr;  // no closed form: no errors, only the objective and the regularity
    }
  }
  if (spec != "exact" && spec.rfind("grid:", 0) != 0)
    throw InputError(option, "unknown reference '" + spec + "' (allowed: auto, none, exact, grid:FILE.h5)");
  try {
    return make_control_source(p, spec);
  } catch (const InputError& e) {
    // Same message, under the option the user gave.
    const std::string what = e.what();
    throw InputError(option, what.substr(what.find(": ") + 2));
  }
}

void write_neural_result(FieldWriter& writer, const Problem& problem, const Grid& grid,
                         const NeuralPiftSolver& solver, const ControlSource* reference,
                         const std::map<std::string, std::string>& attributes) {
  write_saved_fields(writer, grid, [&](int s, ::Vec V, ::Vec U) {
    solver.fields_on_grid(s, V, U);
    return V;
  });
  write_history(writer, solver.history());
  save_network(writer.handle(), "/networks/value", solver.fields().value_net());
  save_network(writer.handle(), "/networks/control", solver.fields().control_net());
  write_summary(writer, solver.summary());
  writer.set_attribute("reference", reference ? reference->name() : std::string("none"));
  for (const auto& [name, v] : attributes) writer.set_attribute(name, v);
  if (!solver.stop_reason().empty()) writer.set_attribute("stop_reason", solver.stop_reason());
  commit_result(writer, grid, problem);
}


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
