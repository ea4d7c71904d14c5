#pragma once
// The subcommands of the hjbft executable.  Each reads its options from the
// PETSc options database, prints them and returns 0 under -help, and throws
// InputError / SolverError on failure (main turns these into exit codes).
#include <petscsys.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hjbft/io/field_io.hpp"
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

int cmd_solve(MPI_Comm comm);
int cmd_exact(MPI_Comm comm);
int cmd_compare(MPI_Comm comm);  // exit status 4: the files differ by more than -tol
int cmd_bellman(MPI_Comm comm);  // discrete-time Bellman ground truth
int cmd_neural(MPI_Comm comm);
int cmd_pg(MPI_Comm comm);       // policy gradient
int cmd_sample(MPI_Comm comm);

// Non-option arguments after the command (hjbft compare A.h5 B.h5), in order.
// Only commands marked so in main.cpp's table accept them; the others fail on any.
const std::vector<std::string>& positional_args();

// hjbft neural and hjbft pg (cli/cmd_neural.cpp): the reference of -neural_reference /
// -pg_reference (auto | none | exact | grid:FILE.h5; null for none), and the result
// file: the networks on the grid, /history, weights, summary and `attributes`; commits.
std::unique_ptr<ControlSource> make_neural_reference(const Problem& p, const std::string& spec,
                                                     const std::string& option, bool continuous);
void write_neural_result(FieldWriter& writer, const Problem& problem, const Grid& grid,
                         const NeuralPiftSolver& solver, const ControlSource* reference,
                         const std::map<std::string, std::string>& attributes);

// --- the set-up and the result file every grid command shares (cli/command_common.cpp)

// The options every grid command reads first: the problem, then its grid.
struct ProblemAndGridOptions {
  ProblemOptions problem;
  GridOptions grid;
};
ProblemAndGridOptions read_problem_and_grid_options(MPI_Comm comm);

// Fills V (dof 1) and U (dof d) with the fields of saved step s and returns the
// vector to write as /value (V, or a vector of the solver's own).
using SavedFields = std::function<::Vec(int s, ::Vec V, ::Vec U)>;
// /value and /control at every saved step (DESIGN.md section 6).
void write_saved_fields(FieldWriter& writer, const Grid& grid, const SavedFields& fill);
void write_history(FieldWriter& writer, const History& history);  // /history/<name>, in the order added
void write_summary(FieldWriter& writer, const std::map<std::string, double>& summary);  // root attributes
// The "options" and "problem" attributes, commit (the file appears), and the XDMF
// description of /value, `scalar_fields` and /control for ParaView.
void commit_result(FieldWriter& writer, const Grid& grid, const Problem& problem,
                   const std::vector<std::string>& scalar_fields = {"value"});

// -o FILE (default given); shared by every command that writes fields.
std::string read_output_option(MPI_Comm comm, const std::string& default_name);
// The output file this run was asked to write (empty before read_output_option).
const std::string& requested_output();

}  // namespace hjbft
