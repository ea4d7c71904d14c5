// What the commands share (see commands.hpp): reading the options every command
// reads, the reference of neural PI-FT and pg, and the one result-writing path.
#include "commands.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/core/petsc_vec.hpp"
#include "hjbft/io/network_io.hpp"
#include "hjbft/io/xdmf.hpp"
#include "hjbft/solvers/sample.hpp"

namespace hjbft {

ProblemAndGridOptions read_problem_and_grid_options(MPI_Comm comm) {
  ProblemAndGridOptions o;
  HJBFT_PETSC(ReadProblemOptions(comm, &o.problem));
  HJBFT_PETSC(ReadGridOptions(comm, static_cast<int>(o.problem.dim), &o.grid));
  return o;
}

namespace {
std::string g_requested_output;  // the -o of this run, for main's note on a failed run
}

const std::string& requested_output() { return g_requested_output; }

std::string read_output_option(MPI_Comm comm, const std::string& default_name) {
  char buf[PETSC_MAX_PATH_LEN];
  HJBFT_PETSC(PetscStrncpy(buf, default_name.c_str(), sizeof buf));
  HJBFT_PETSC(PetscOptionsGetString(nullptr, nullptr, "-o", buf, sizeof buf, nullptr));
  if (help_requested())
    HJBFT_PETSC(PetscPrintf(comm, "Output options:\n  -o <%s>: HDF5 output file (written atomically)\n", buf));
  g_requested_output = buf;
  return buf;
}

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
  save_network(writer.handle(), "/networks/control", solver.fields().control_net(), solver.fields().control_form());
  write_summary(writer, solver.summary());
  writer.set_attribute("reference", reference ? reference->name() : std::string("none"));
  for (const auto& [name, v] : attributes) writer.set_attribute(name, v);
  if (!solver.stop_reason().empty()) writer.set_attribute("stop_reason", solver.stop_reason());
  commit_result(writer, grid, problem);
}


void write_saved_fields(FieldWriter& writer, const Grid& grid, const SavedFields& fill) {
  const OwnedVec V(grid.da()), U(grid.da_vector());
  for (std::size_t i = 0; i < grid.saved_steps().size(); ++i) {
    const ::Vec v = fill(static_cast<int>(i), V, U);
    writer.write_value(static_cast<int>(i), v);
    writer.write_control(static_cast<int>(i), U);
  }
}

void write_history(FieldWriter& writer, const History& history) {
  for (const auto& name : history.order) writer.write_series("/history/" + name, history.columns.at(name));
}

void write_summary(FieldWriter& writer, const std::map<std::string, double>& summary) {
  for (const auto& [name, v] : summary) writer.set_attribute(name, v);
}

void commit_result(FieldWriter& writer, const Grid& grid, const Problem& problem,
                   const std::vector<std::string>& scalar_fields) {
  writer.set_attribute("options", all_options_string());
  writer.set_attribute("problem", problem.describe());
  writer.commit();
  write_xdmf(grid, writer.path(), scalar_fields, true);  // FILE.xmf next to FILE.h5, for ParaView
}

}  // namespace hjbft
