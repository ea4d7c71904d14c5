#pragma once
// The subcommands of the hjbft executable.  Each reads its options from the
// PETSc options database, prints them and returns 0 under -help, and throws
// InputError / SolverError on failure (main turns these into exit codes).
#include <petscsys.h>

#include <string>
#include <vector>

namespace hjbft {

int cmd_solve(MPI_Comm comm);
int cmd_exact(MPI_Comm comm);
int cmd_compare(MPI_Comm comm);  // exit status 4: the files differ by more than -tol
int cmd_bellman(MPI_Comm comm);  // src/cmd_bellman.cpp: discrete-time Bellman ground truth
int cmd_pg(MPI_Comm comm);       // src/cmd_pg.cpp: policy gradient (issue 6)

// Non-option arguments after the command (hjbft compare A.h5 B.h5), in order.
// Only commands marked so in main.cpp's table accept them; the others fail on any.
const std::vector<std::string>& positional_args();

// -o FILE (default given); shared by every command that writes fields.
std::string read_output_option(MPI_Comm comm, const std::string& default_name);

}  // namespace hjbft
