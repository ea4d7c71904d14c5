// Grid and HDF5 output (DESIGN.md section 6), in-process on one rank:
//   * the file layout: /value[time][x1][x0] with x0 fastest, /control[...][d], /grid, /time;
//   * atomic writing: nothing appears under the final name before commit(); a writer
//     destroyed without commit, or refusing non-finite values, leaves no file at all;
//   * an unwritable -o path is an InputError naming -o.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>

#include "hjbft/grid/grid.hpp"
#include "hjbft/io/field_io.hpp"
#include "test_util.hpp"

using namespace hjbft;
using namespace hjbft::test;
namespace fs = std::filesystem;

namespace {

Problem problem2d() {
  ProblemOptions o;
  o.dim = 2;
  o.weights = {0.5, 0.5};
  o.means = {-2, 0, 2, 0};
  o.vars = {0.25};
  return build_problem(o);
}

GridOptions small_grid() {
  GridOptions g;
  g.lo = {-7.0, -5.0};
  g.hi = {7.0, 5.0};
  g.nt = 4;
  g.save_every = 2;
  return g;
}

fs::path scratch_dir() {
  const fs::path d = fs::temp_directory_path() / ("hjbft_test_io_" + std::to_string(getpid()));
  fs::create_directories(d);
  return d;
}

bool dir_has_entries(const fs::path& d) { return fs::directory_iterator(d) != fs::directory_iterator(); }

void fill(const Grid& grid, ::Vec V, ::Vec U, double t, double bad = 0) {
  PetscScalar *v, *u;
  REQUIRE(VecGetArray(V, &v) == 0);
  REQUIRE(VecGetArray(U, &u) == 0);
  grid.for_each_local([&](PetscInt idx, const std::array<PetscInt, 3>&, const Vector& x) {
    v[idx] = 100 * t + x[0] + 10 * x[1] + bad;
    u[2 * idx] = x[0];
    u[2 * idx + 1] = x[1];
  });
  VecRestoreArray(V, &v);
  VecRestoreArray(U, &u);
}

}  // namespace

TEST_CASE("Grid: coordinates, saved steps and the mass check", "[grid]") {
  const Problem p = problem2d();
  const Grid g(PETSC_COMM_WORLD, p, small_grid());
  CHECK(g.dim() == 2);
  CHECK(g.coord(0, 0) == -7.0);
  CHECK(g.coord(0, g.n(0) - 1) == Approx(7.0).epsilon(1e-15));
  CHECK(g.coord(1, g.n(1) - 1) == Approx(5.0).epsilon(1e-15));
  CHECK(g.saved_steps() == std::vector<PetscInt>{0, 2, 4});
  CHECK(g.time(4) == Approx(1.0));
  // A box that cuts off a data mode is refused, naming the box option.
  GridOptions tight = small_grid();
  tight.lo = {-1.0, -5.0};
  CHECK(option_of([&] { Grid bad(PETSC_COMM_WORLD, p, tight); }) == "-grid_lo");
  GridOptions nt0 = small_grid();
  nt0.nt = 0;
  CHECK(option_of([&] { Grid bad(PETSC_COMM_WORLD, p, nt0); }) == "-nt");
}

TEST_CASE("FieldWriter: layout x0 fastest, atomic commit", "[io]") {
  const Problem p = problem2d();
  const Grid g(PETSC_COMM_WORLD, p, small_grid());
  const fs::path dir = scratch_dir();
  const std::string file = (dir / "out.h5").string();
  ::Vec V, U;
  REQUIRE(DMCreateGlobalVector(g.da(), &V) == 0);
  REQUIRE(DMCreateGlobalVector(g.da_vector(), &U) == 0);
  {
    FieldWriter w(g, file, "test");
    for (std::size_t i = 0; i < g.saved_steps().size(); ++i) {
      fill(g, V, U, g.time(g.saved_steps()[i]));
      w.write_value(static_cast<int>(i), V);
      w.write_control(static_cast<int>(i), U);
    }
    w.write_series("/history/err", {1.0, 0.5});
    w.set_attribute("options", "-x 1");
    CHECK_FALSE(fs::exists(file));  // not before commit
    w.commit();
  }
  REQUIRE(fs::exists(file));
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // no temporary left
  const Dataset val = read_dataset(file, "/value"), ctl = read_dataset(file, "/control"),
                t = read_dataset(file, "/time"), x0 = read_dataset(file, "/grid/x0"), x1 = read_dataset(file, "/grid/x1");
  const std::size_t n0 = g.n(0), n1 = g.n(1);
  CHECK(val.dims == std::vector<hsize_t>{3, n1, n0});
  CHECK(ctl.dims == std::vector<hsize_t>{3, n1, n0, 2});
  CHECK(t.data == std::vector<double>{0.0, 0.5, 1.0});
  REQUIRE(x0.data.size() == n0);
  REQUIRE(x1.data.size() == n1);
  for (std::size_t j = 0; j < 3; ++j)
    for (std::size_t i1 = 0; i1 < n1; i1 += 3)
      for (std::size_t i0 = 0; i0 < n0; i0 += 5) {
        const std::size_t flat = (j * n1 + i1) * n0 + i0;
        CHECK(val.data[flat] == Approx(100 * t.data[j] + x0.data[i0] + 10 * x1.data[i1]).epsilon(1e-15));
        CHECK(ctl.data[2 * flat] == x0.data[i0]);
        CHECK(ctl.data[2 * flat + 1] == x1.data[i1]);
      }
  CHECK(read_dataset(file, "/history/err").data == std::vector<double>{1.0, 0.5});
  CHECK(read_string_attribute(file, "options") == "-x 1");
  CHECK(read_string_attribute(file, "solver") == "test");
  fs::remove(file);

  SECTION("a writer destroyed without commit leaves nothing") {
    {
      FieldWriter w(g, file, "test");
      fill(g, V, U, 0.0);
      w.write_value(0, V);
    }
    CHECK_FALSE(dir_has_entries(dir));
  }
  SECTION("non-finite values are refused and leave nothing") {
    {
      FieldWriter w(g, file, "test");
      fill(g, V, U, 0.0, std::nan(""));
      CHECK_THROWS_AS(w.write_value(0, V), SolverError);
    }
    CHECK_FALSE(dir_has_entries(dir));
  }
  SECTION("an unwritable path names -o") {
    CHECK(option_of([&] { FieldWriter w(g, "/nonexistent/dir/x.h5", "test"); }) == "-o");
    CHECK(option_of([&] { FieldWriter w(g, dir.string(), "test"); }) == "-o");  // a directory
    CHECK_FALSE(fs::exists("/nonexistent/dir/x.h5"));
  }
  VecDestroy(&V);
  VecDestroy(&U);
  fs::remove_all(dir);
}
