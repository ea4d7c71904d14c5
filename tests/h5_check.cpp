// Helper for the MPI and CLI tests registered in CTest (no Python needed).
//
//   h5_check compare A.h5 B.h5 TOL
//       /grid/x*, /time, /value and /control of A and B have the same shapes and agree to TOL
//       (max abs difference relative to max(1, max |A|)).
//   h5_check exact FILE TOL [problem options]
//       /value and /control of an `hjbft exact` output equal the closed form evaluated here
//       directly at the coordinates stored in /grid (checks the layout: x0 fastest, time first;
//       the same closed-form code, so this is no independent check of the closed form itself).
//   h5_check poison FILE
//       overwrites /value and /control with NaN (a file that compare and exact must reject).
// NaN or Inf in a compared dataset is a failure.
//   h5_check layout FILE [grid options]        (run under mpiexec)
//       writes the known field V = 100 t + x0 + 10 x1 (+ 1000 x2), u_a = V + a, with FieldWriter
//       from every rank's DMDA box, then reads it back on rank 0 and checks every entry.
// Exit status 0 when the check passes, 1 when it fails, 2 on usage errors.
#include <petscsys.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "hjbft/core/errors.hpp"
#include "hjbft/exact/exact_solution.hpp"
#include "hjbft/grid/grid.hpp"
#include "hjbft/io/field_io.hpp"

using namespace hjbft;

namespace {

bool compare(const std::string& a, const std::string& b, double tol) {
  bool ok = true;
  std::vector<std::string> names{"/time", "/value", "/control"};
  for (int k = 0; k < 3; ++k)
    if (has_dataset(a, "/grid/x" + std::to_string(k))) names.push_back("/grid/x" + std::to_string(k));
  for (const auto& n : names) {
    const Dataset A = read_dataset(a, n), B = read_dataset(b, n);
    if (A.dims != B.dims) {
      std::printf("%s: shapes differ\n", n.c_str());
      ok = false;
      continue;
    }
    // std::max and comparisons drop NaN silently, so non-finite entries are counted apart.
    double scale = 1, diff = 0;
    std::size_t nonfinite = 0;
    for (std::size_t i = 0; i < A.data.size(); ++i) {
      if (!std::isfinite(A.data[i]) || !std::isfinite(B.data[i])) {
        ++nonfinite;
        continue;
      }
      scale = std::max(scale, std::abs(A.data[i]));
      diff = std::max(diff, std::abs(A.data[i] - B.data[i]));
    }
    std::printf("%s: %zu values, max |A - B| = %.3e (scale %.3e), %zu non-finite\n", n.c_str(), A.data.size(), diff,
                scale, nonfinite);
    if (nonfinite || !(diff <= tol * scale)) ok = false;
  }
  return ok;
}

// Calls fn(flat index without the time axis, coordinates) over all points, x0 fastest.
template <class F>
void for_each_point(const std::string& file, F&& fn) {
  std::vector<std::vector<double>> ax;
  for (int k = 0; k < 3 && has_dataset(file, "/grid/x" + std::to_string(k)); ++k)
    ax.push_back(read_dataset(file, "/grid/x" + std::to_string(k)).data);
  const int d = static_cast<int>(ax.size());
  std::size_t n = 1;
  for (const auto& a : ax) n *= a.size();
  Vector x(d);
  for (std::size_t p = 0; p < n; ++p) {
    std::size_t r = p;
    for (int a = 0; a < d; ++a) {
      x[a] = ax[a][r % ax[a].size()];
      r /= ax[a].size();
    }
    fn(p, n, x);
  }
}

bool check_exact(const std::string& file, double tol) {
  const Problem problem = problem_from_options(PETSC_COMM_SELF);
  const auto exact = make_exact_solution(problem);
  if (!exact) throw InputError("<problem>", "no closed form for these options");
  const Dataset time = read_dataset(file, "/time"), V = read_dataset(file, "/value"),
                U = read_dataset(file, "/control");
  const int d = problem.dim;
  double worst = 0;
  std::size_t nonfinite = 0;
  // Relative difference; a NaN on either side is counted, not dropped by std::max.
  auto record = [&](double value, double want) {
    const double rel = std::abs(value - want) / (1 + std::abs(want));
    if (std::isfinite(rel)) worst = std::max(worst, rel);
    else ++nonfinite;
  };
  for (std::size_t j = 0; j < time.data.size(); ++j) {
    const double t = time.data[j];
    const auto field = exact->at_time(t);
    const double gain = problem.control.coefficients(t).gain();
    for_each_point(file, [&](std::size_t p, std::size_t n, const Vector& x) {
      const ValueAndGradient e = field(x);
      record(V.data[j * n + p], e.V);
      for (int a = 0; a < d; ++a) record(U.data[(j * n + p) * d + a], gain * e.grad[a]);
    });
  }
  std::printf("exact: %zu times, max relative difference to the direct evaluation %.3e, %zu non-finite\n",
              time.data.size(), worst, nonfinite);
  return nonfinite == 0 && worst <= tol;
}

// Overwrites /value and /control of FILE with NaN (to prove that compare and exact fail on it).
bool poison(const std::string& file) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) return false;
  bool ok = true;
  for (const char* name : {"/value", "/control"}) {
    std::vector<double> nan(read_dataset(file, name).data.size(), std::nan(""));
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ok = ok && d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, nan.data()) >= 0;
    if (d >= 0) H5Dclose(d);
  }
  H5Fclose(f);
  std::printf("poison: /value and /control of %s set to NaN\n", file.c_str());
  return ok;
}

double known_field(double t, const Vector& x) {
  double v = 100 * t;
  for (int a = 0; a < x.size(); ++a) v += std::pow(10.0, a) * x[a];
  return v;
}

bool check_layout(const std::string& file) {
  const MPI_Comm comm = PETSC_COMM_WORLD;
  ProblemOptions po;
  HJBFT_PETSC(ReadProblemOptions(comm, &po));
  const Problem problem = build_problem(po);
  GridOptions go;
  HJBFT_PETSC(ReadGridOptions(comm, problem.dim, &go));
  const Grid grid(comm, problem, go);
  const int d = grid.dim();
  {
    FieldWriter w(grid, file, "layout-test");
    ::Vec V, U;
    HJBFT_PETSC(DMCreateGlobalVector(grid.da(), &V));
    HJBFT_PETSC(DMCreateGlobalVector(grid.da_vector(), &U));
    for (std::size_t i = 0; i < grid.saved_steps().size(); ++i) {
      const double t = grid.time(grid.saved_steps()[i]);
      PetscScalar *v, *u;
      HJBFT_PETSC(VecGetArray(V, &v));
      HJBFT_PETSC(VecGetArray(U, &u));
      grid.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
        v[idx] = known_field(t, x);
        for (int a = 0; a < d; ++a) u[idx * d + a] = known_field(t, x) + a;
      });
      HJBFT_PETSC(VecRestoreArray(V, &v));
      HJBFT_PETSC(VecRestoreArray(U, &u));
      w.write_value(static_cast<int>(i), V);
      w.write_control(static_cast<int>(i), U);
    }
    w.commit();
    VecDestroy(&V);
    VecDestroy(&U);
  }
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);
  int ok = 1;
  if (rank == 0) {
    const Dataset time = read_dataset(file, "/time"), V = read_dataset(file, "/value"),
                  U = read_dataset(file, "/control");
    std::vector<hsize_t> want{grid.saved_steps().size()};
    for (int a = d - 1; a >= 0; --a) want.push_back(grid.n(a));
    if (V.dims != want) ok = 0;
    want.push_back(d);
    if (U.dims != want) ok = 0;
    std::size_t bad = 0;
    if (ok)
      for (std::size_t j = 0; j < time.data.size(); ++j)
        for_each_point(file, [&](std::size_t p, std::size_t n, const Vector& x) {
          const double f = known_field(time.data[j], x);
          if (std::abs(V.data[j * n + p] - f) > 1e-12 * (1 + std::abs(f))) ++bad;
          for (int a = 0; a < d; ++a)
            if (std::abs(U.data[(j * n + p) * d + a] - (f + a)) > 1e-12 * (1 + std::abs(f))) ++bad;
        });
    std::printf("layout: %d ranks, shapes %s, %zu wrong entries\n", size, ok ? "ok" : "WRONG", bad);
    if (bad) ok = 0;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: h5_check compare A B TOL | exact FILE TOL [options] | layout FILE [options] | poison FILE\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int nfixed = mode == "compare" ? 5 : mode == "exact" ? 4 : 3;  // poison, layout: 3
  if (argc < nfixed) return 2;
  // PETSc sees the program name and whatever follows the fixed arguments.
  std::vector<char*> args{argv[0]};
  for (int i = nfixed; i < argc; ++i) args.push_back(argv[i]);
  int pargc = static_cast<int>(args.size());
  args.push_back(nullptr);  // MPI_Init reads argv up to a NULL entry
  char** pargv = args.data();
  if (PetscInitialize(&pargc, &pargv, nullptr, nullptr)) return 2;
  int rc = 1;
  try {
    bool ok = false;
    if (mode == "compare") ok = compare(argv[2], argv[3], std::atof(argv[4]));
    else if (mode == "exact") ok = check_exact(argv[2], std::atof(argv[3]));
    else if (mode == "layout") ok = check_layout(argv[2]);
    else if (mode == "poison") ok = poison(argv[2]);
    else {
      std::fprintf(stderr, "h5_check: unknown mode %s\n", mode.c_str());
      rc = 2;
    }
    if (rc != 2) rc = ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "h5_check: %s\n", e.what());
    rc = 1;
  }
  std::printf("h5_check %s: %s\n", mode.c_str(), rc == 0 ? "PASS" : "FAIL");
  PetscFinalize();
  return rc;
}
