// The one result-writing path of the grid commands (see commands.hpp).
#include "commands.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/core/petsc_vec.hpp"
#include "hjbft/io/xdmf.hpp"

namespace hjbft {

ProblemAndGridOptions read_problem_and_grid_options(MPI_Comm comm) {
  ProblemAndGridOptions o;
  HJBFT_PETSC(ReadProblemOptions(comm, &o.problem));
  HJBFT_PETSC(ReadGridOptions(comm, static_cast<int>(o.problem.dim), &o.grid));
  return o;
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
