#pragma once
// The subcommands of the hjbft executable.  Each reads its options from the
// PETSc options database, prints them and returns 0 under -help, and throws
// InputError / SolverError on failure (main turns these into exit codes).
#include <petscsys.h>

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
int cmd_bellman(MPI_Comm comm);  // src/cmd_bellman.cpp: discrete-time Bellman ground truth
int cmd_pg(MPI_Comm comm);       // src/cmd_pg.cpp: policy gradient (issue 6)

// Non-option arguments after the command (hjbft compare A.h5 B.h5), in order.
// Only commands marked so in main.cpp's table accept them; the others fail on any.
const std::vector<std::string>& positional_args();

// hjbft neural and hjbft pg (src/cmd_neural.cpp): the reference of -neural_reference /
// -pg_reference (auto | none | exact | grid:FILE.h5; null for none), and the result
// file: the networks on the grid, /history, weights, summary and `attributes`; commits.
std::unique_ptr<ControlSource> make_neural_reference(const Problem& p, const std::string& spec,
                                                     const std::string& option, bool continuous);
void write_neural_result(FieldWriter& writer, const Problem& problem, const Grid& grid,
                         const NeuralPiftSolver& solver, const ControlSource* reference,
                         const std::map<std::string, std::string>& attributes);

// -o FILE (default given); shared by every command that writes fields.
std::string read_output_option(MPI_Comm comm, const std::string& default_name);
// The output file this run was asked to write (empty before read_output_option).
const std::string& requested_output();

}  // namespace hjbft
