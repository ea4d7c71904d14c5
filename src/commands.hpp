#pragma once
// The subcommands of the hjbft executable.  Each reads its options from the
// PETSc options database, prints them and returns 0 under -help, and throws
// InputError / SolverError on failure (main turns these into exit codes).
#include <petscsys.h>

#include <string>

namespace hjbft {

int cmd_exact(MPI_Comm comm);

// -o FILE (default given); shared by every command that writes fields.
std::string read_output_option(MPI_Comm comm, const std::string& default_name);

}  // namespace hjbft
