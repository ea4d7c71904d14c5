// hjbft <command> [options]: one executable, all configuration in the PETSc
// options database (command line, -options_file, -options_file_yaml).
#include <petscsys.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/model/problem.hpp"

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
    "An option that no part of the program reads is an error (exit 1, nothing written, the closest\n"
    "known option named): -allow_unused_options makes it a warning, for scripts that pass options\n"
    "meant for other programs on purpose.\n";

namespace hjbft {
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

// --- PETSc's own errors in hjbft's format -----------------------------------------------
// PETSc's default handler prints a traceback for every error (a value "21.5" for the integer
// option -da_grid_x is one).  This handler only keeps the first message; main prints it in
// hjbft's format and, when it is about an option value, names the option (exit 1).
std::string g_petsc_message;
PetscErrorCode keep_petsc_message(MPI_Comm, int, const char*, const char*, PetscErrorCode n, PetscErrorType p,
                                  const char* mess, void*) {
  if (p == PETSC_ERROR_INITIAL && mess) g_petsc_message = mess;
  return n;
}

// The option whose value is `value` ("" when none is), read from the options database.
std::string option_with_value(const std::string& value) {
  std::istringstream all(hjbft::all_options_string());
  std::string prev, tok;
  while (all >> tok) {
    if (tok == value && !prev.empty() && prev[0] == '-') return prev;
    prev = tok;
  }
  return "";
}

// PETSc's messages for option values it cannot convert: "Input string 21.5 has no integer
// value (do not include . in it)", "... has no numeric value", "Unknown logical value: x".
void rethrow_as_input_error(const std::string& message) {
  static const std::regex bad_value(R"(Input string (\S+) has no (integer|numeric) value|Unknown logical value: (\S+))");
  std::smatch m;
  if (!std::regex_search(message, m, bad_value)) return;
  const std::string value = m[1].matched ? m[1].str() : m[3].str();
  const std::string option = option_with_value(value);
  if (option.empty()) return;
  const std::string kind = m[2].str() == "integer" ? "a whole number" : m[2].matched ? "a number" : "true or false";
  throw hjbft::InputError(option, "'" + value + "' is not " + kind);
}

// --- unused options: name the closest known one ---------------------------------------------
// The options a command knows are those its -help lists.  The command runs once more in help
// mode (it then only reads its options) with PETSc's output captured in a temporary file.
std::vector<std::string> known_options(const Command& cmd, MPI_Comm comm) {
  FILE* capture = std::tmpfile();
  if (!capture) return {};
  FILE* saved = PETSC_STDOUT;
  PETSC_STDOUT = capture;
  // PETSc lists each options block once per run; forget that the run has seen them.
  PetscOptionsHelpPrintedDestroy(&PetscOptionsHelpPrintedSingleton);
  PetscOptionsSetValue(nullptr, "-help", nullptr);
  try {
    cmd.run(comm);
  } catch (...) {  // only the listing matters here
  }
  PetscOptionsClearValue(nullptr, "-help");
  PETSC_STDOUT = saved;
  std::rewind(capture);
  std::string text;
  for (int c; (c = std::fgetc(capture)) != EOF;) text += static_cast<char>(c);
  std::fclose(capture);
  std::vector<std::string> names;
  static const std::regex name(R"((^|\s)(-[A-Za-z][A-Za-z0-9_]*))");
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) names.push_back((*it)[2]);
  return names;
}

// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters (-btea is one swap from -beta) each cost 1.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string closest(const std::string& option, const std::vector<std::string>& known) {
  std::string best;
  std::size_t dist = SIZE_MAX;
  for (const auto& k : known)
    if (const std::size_t e = edit_distance(option, k); e < dist) dist = e, best = k;
  return best;
}

void print_unused_error(const hjbft::UnusedOptionError& e, const Command& cmd, MPI_Comm comm) {
  const std::vector<std::string> known = known_options(cmd, comm);
  PetscPrintf(comm, "hjbft: error: %s\n", e.what());
  for (const auto& [name, value] : e.unused()) {
    const std::string near = closest(name, known);
    if (near == name) {  // named in -help, read only under another option's choice (e.g. -hjb_adi_*)
      PetscPrintf(comm,
                  "hjbft: error: option %s%s%s is not used by this run of 'hjbft %s': it applies only with "
                  "another option's choice (see -help, where it is named)\n",
                  name.c_str(), value.empty() ? "" : " ", value.c_str(), cmd.name);
      continue;
    }
    PetscPrintf(comm, "hjbft: error: option %s%s%s is not an option of 'hjbft %s'%s\n", name.c_str(),
                value.empty() ? "" : " ", value.c_str(), cmd.name,
                near.empty() ? "" : (" (closest known option: " + near + ")").c_str());
  }
}

// A failed run writes nothing, so a file of the requested name is an earlier run's.
void note_earlier_output(MPI_Comm comm, std::filesystem::file_time_type started) {
  const std::string& out = hjbft::requested_output();
  std::error_code ec;
  if (out.empty() || !std::filesystem::exists(out, ec)) return;
  const bool older = std::filesystem::last_write_time(out, ec) < started;
  if (!ec && older)
    PetscPrintf(comm, "hjbft: note: this run wrote nothing; '%s' is left as an earlier run wrote it and is not the "
                      "result of this run\n", out.c_str());
}

// Runs the command (or, without one, lists the problem options under -help);
// returns its exit status, throws what it throws.
int dispatch(MPI_Comm comm, const std::string& command, const Command* cmd) {
  if (command.empty()) {
    if (!hjbft::help_requested()) {
      PetscPrintf(comm, "%s\nhjbft: error: no command given (allowed: %s)\n", help, allowed_commands().c_str());
      return 1;
    }
    hjbft::ProblemOptions o;  // list the problem options too
    HJBFT_PETSC(hjbft::ReadProblemOptions(comm, &o));
    return 0;
  }
  if (!cmd) throw hjbft::InputError("<command>", "unknown command '" + command + "' (allowed: " + allowed_commands() + ")");
  if (!cmd->takes_positionals && !g_positional.empty())
    throw hjbft::InputError("<arguments>", "'hjbft " + command + "' takes no positional argument, got '" +
                                               g_positional.front() + "' (options are written -name value)");
  int rc = 0;
  try {
    rc = cmd->run(comm);
  } catch (const hjbft::PetscCallError&) {
    rethrow_as_input_error(g_petsc_message);
    throw;
  }
  if (rc == 0 && !hjbft::help_requested()) hjbft::require_all_options_used();
  return rc;
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
  PetscCall(PetscPushErrorHandler(keep_petsc_message, nullptr));
  const MPI_Comm comm = PETSC_COMM_WORLD;
  const auto started = std::filesystem::file_time_type::clock::now();
  int rc = 0;
  const Command* cmd = nullptr;
  for (const auto& c : kCommands)
    if (command == c.name) cmd = &c;
  try {
    rc = dispatch(comm, command, cmd);
  } catch (const hjbft::UnusedOptionError& e) {
    print_unused_error(e, *cmd, comm);
    rc = 1;
  } catch (const hjbft::InputError& e) {
    PetscPrintf(comm, "hjbft: error: %s\n", e.what());
    rc = 1;
  } catch (const hjbft::SolverError& e) {
    PetscPrintf(comm, "hjbft: solver error: %s\n", e.what());
    rc = 2;
  } catch (const hjbft::PetscCallError& e) {
    PetscPrintf(comm, "hjbft: error: PETSc: %s (%s)\n", g_petsc_message.c_str(), e.what());
    rc = 3;
  } catch (const std::exception& e) {
    std::cerr << "hjbft: error: " << e.what() << std::endl;
    rc = 3;
  }
  if (rc != 0 && rc != 4 && cmd) note_earlier_output(comm, started);
  // Unused options were reported above; keep PETSc from repeating them.
  PetscOptionsSetValue(nullptr, "-options_left", "0");
  PetscFinalize();
  return rc;
}
