// hjbft <command> [options]: one executable, all configuration in the PETSc
// options database (command line, -options_file, -options_file_yaml).
#include <petscsys.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "hjbft/errors.hpp"
#include "hjbft/options_util.hpp"
#include "hjbft/problem.hpp"

static const char help[] =
    "hjbft: KL-regularized fine-tuning of diffusion models, verified on toy problems.\n\n"
    "Usage: hjbft <command> [options]      (hjbft <command> -help lists that command's options)\n\n"
    "Commands:\n"
    "  exact     evaluate the closed-form value V* and control u* on a grid, write HDF5\n\n"
    "Options come from the command line, -options_file FILE or -options_file_yaml FILE.\n"
    "Options that no part of the program used are reported at the end of the run.\n";

namespace {

struct Command {
  const char* name;
  int (*run)(MPI_Comm);
};
const Command kCommands[] = {{"exact", hjbft::cmd_exact}};

// Reports options that nothing read (typos); returns their number.
int report_unused_options() {
  PetscInt n = 0;
  char **names = nullptr, **values = nullptr;
  PetscOptionsLeftGet(nullptr, &n, &names, &values);
  for (PetscInt i = 0; i < n; ++i)
    PetscPrintf(PETSC_COMM_WORLD, "hjbft: warning: option -%s%s%s was given but not used by any part of the program\n",
                names[i], values[i] ? " " : "", values[i] ? values[i] : "");
  PetscOptionsLeftRestore(nullptr, &n, &names, &values);
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  // The first argument, when it is not an option, is the command; PETSc sees the rest.
  std::string command;
  std::vector<char*> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (i == 1 && argv[i][0] != '-') command = argv[i];
    else args.push_back(argv[i]);
  }
  int pargc = static_cast<int>(args.size());
  char** pargv = args.data();
  PetscCall(PetscInitialize(&pargc, &pargv, nullptr, help));
  const MPI_Comm comm = PETSC_COMM_WORLD;
  int rc = 0;
  try {
    const Command* cmd = nullptr;
    for (const auto& c : kCommands)
      if (command == c.name) cmd = &c;
    if (command.empty()) {
      if (hjbft::help_requested()) {
        hjbft::ProblemOptions o;  // list the problem options too
        HJBFT_PETSC(hjbft::ReadProblemOptions(comm, &o));
      } else {
        PetscPrintf(comm, "%s\nhjbft: error: no command given (allowed: exact)\n", help);
        rc = 1;
      }
    } else if (!cmd) {
      throw hjbft::InputError("<command>", "unknown command '" + command + "' (allowed: exact)");
    } else {
      rc = cmd->run(comm);
      if (rc == 0 && !hjbft::help_requested()) report_unused_options();
    }
  } catch (const hjbft::InputError& e) {
    PetscPrintf(comm, "hjbft: error: %s\n", e.what());
    rc = 1;
  } catch (const hjbft::SolverError& e) {
    PetscPrintf(comm, "hjbft: solver error: %s\n", e.what());
    rc = 2;
  } catch (const std::exception& e) {
    std::cerr << "hjbft: error: " << e.what() << std::endl;
    rc = 3;
  }
  // Unused options were reported above; keep PETSc from repeating them.
  PetscOptionsSetValue(nullptr, "-options_left", "0");
  PetscFinalize();
  return rc;
}
