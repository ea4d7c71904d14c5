// hjbft <command> [options]: one executable, all configuration in the PETSc
// options database (command line, -options_file, -options_file_yaml).
#include <petscsys.h>

#include <cctype>
#include <cstdlib>
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
    "  solve     ground truth: the HJB on a PETSc grid by policy iteration, Howard or Cole-Hopf\n"
    "  exact     evaluate the closed-form value V* and control u* on a grid, write HDF5\n"
    "  compare   hjbft compare A.h5 B.h5 [-tol X]: errors between two results on the same grid\n"
    "  sample    draw samples of the reference or fine-tuned sampler, measure them, write HDF5\n"
    "  neural    neural PI-FT: value and control networks by policy iteration, measured against a reference\n"
    "  bellman   discrete-time ground truth: the Bellman recursion of the K-step DDPM chain on a grid\n"
    "  pg        policy gradient (scores as actions): lr / td / pathwise estimators, measured against a reference\n\n"
    "Options come from the command line, -options_file FILE or -options_file_yaml FILE.\n"
    "Options that no part of the program used are reported at the end of the run.\n";

namespace hjbft {
int cmd_sample(MPI_Comm comm);  // src/cmd_sample.cpp
int cmd_neural(MPI_Comm comm);  // src/cmd_neural.cpp
}

namespace {

struct Command {
  const char* name;
  int (*run)(MPI_Comm);
  bool takes_positionals = false;  // file names etc. after the command (hjbft compare A.h5 B.h5)
};
const Command kCommands[] = {{"solve", hjbft::cmd_solve}, {"exact", hjbft::cmd_exact}, {"compare", hjbft::cmd_compare, true},
                             {"sample", hjbft::cmd_sample}, {"neural", hjbft::cmd_neural},
                             {"bellman", hjbft::cmd_bellman}, {"pg", hjbft::cmd_pg}};

std::vector<std::string> g_positional;

// PETSc reads "-name value" pairs: a token is an option name when it starts with
// '-' (or '--') and a letter and is not a number such as -inf (the rule of
// PetscOptionsValidKey); the token after an option name is its value unless it is
// itself an option name.  Any other token is a positional argument.
bool is_option_name(const char* s) {
  if (s[0] != '-') return false;
  if (s[1] == '-') ++s;
  if (!std::isalpha(static_cast<unsigned char>(s[1]))) return false;
  char* end = nullptr;
  (void)std::strtod(s, &end);
  return end == s || *end == '_' || std::isalnum(static_cast<unsigned char>(*end));
}

std::string allowed_commands() {
  std::string s;
  for (const auto& c : kCommands) s += (s.empty() ? "" : ", ") + std::string(c.name);
  return s;
}

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

const std::vector<std::string>& hjbft::positional_args() { return g_positional; }

int main(int argc, char** argv) {
  // The first argument, when it is not an option, is the command; PETSc sees the rest.
  std::string command;
  // Positional arguments (not option names nor option values) are kept from PETSc.
  std::vector<char*> args{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (i == 1 && argv[i][0] != '-') command = argv[i];
    else if (is_option_name(argv[i]) || (i > 1 && is_option_name(argv[i - 1]))) args.push_back(argv[i]);
    else g_positional.emplace_back(argv[i]);
  }
  int pargc = static_cast<int>(args.size());
  args.push_back(nullptr);  // argv[argc] must be NULL: MPI_Init (Open MPI's opal_argv_join) reads up to it
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
        PetscPrintf(comm, "%s\nhjbft: error: no command given (allowed: %s)\n", help, allowed_commands().c_str());
        rc = 1;
      }
    } else if (!cmd) {
      throw hjbft::InputError("<command>", "unknown command '" + command + "' (allowed: " + allowed_commands() + ")");
    } else if (!cmd->takes_positionals && !g_positional.empty()) {
      throw hjbft::InputError("<arguments>", "'hjbft " + command + "' takes no positional argument, got '" +
                                                 g_positional.front() + "' (options are written -name value)");
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
