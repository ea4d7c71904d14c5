// hjbft compare A.h5 B.h5 [-tol X] [-compare_fields value,control]: the errors
// between two results in the common HDF5 layout (DESIGN.md section 6) on the
// same grid.  Per saved time it prints the sup and discrete L2 norms of A - B
// for each compared field, then the overall maxima.
//
//   sup  = max over grid points of |A - B|   (Euclidean norm over components
//                                              for the control)
//   L2   = sqrt(h_0 ... h_{d-1} * sum over grid points of |A - B|^2)
//
// Exit status: 0 when the overall sup error is <= -tol, 4 when it is larger
// (or not finite), 1 when the files cannot be compared (different grids or
// times, missing datasets).  Rank 0 reads and prints; the other ranks only
// share the outcome, so the command also runs under mpiexec -n N.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/field_io.hpp"

namespace hjbft {

namespace {

const char* const kKnownFields[] = {"value", "control", "density"};

struct CompareOptions {
  double tol = 1e-8;
  std::vector<std::string> fields{"value", "control"};
  std::vector<double> lo, hi;  // -compare_lo/-compare_hi: only points in this box count (empty: all)
};

PetscErrorCode ReadCompareOptions(MPI_Comm comm, CompareOptions* o, std::string* fields) {
  char buf[256] = "value,control";
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "compare: hjbft compare A.h5 B.h5 (two results on the same grid)", nullptr);
  PetscCall(PetscOptionsReal("-tol", "Largest overall sup error accepted; above it the exit status is 4", nullptr,
                             o->tol, &o->tol, nullptr));
  PetscCall(PetscOptionsString("-compare_fields", "Comma-separated fields to compare: value, control, density",
                               nullptr, buf, buf, sizeof buf, nullptr));
  PetscReal box[3] = {-INFINITY, -INFINITY, -INFINITY};  // what -help shows as the default: no bound
  PetscInt n = 3;
  PetscBool set;
  PetscCall(PetscOptionsRealArray("-compare_lo", "Compare only points with x >= lo (d values or 1; default: all)",
                                  nullptr, box, &n, &set));
  if (set) o->lo.assign(box, box + n);
  n = 3;
  std::fill(box, box + 3, INFINITY);
  PetscCall(PetscOptionsRealArray("-compare_hi", "Compare only points with x <= hi (d values or 1; default: all)",
                                  nullptr, box, &n, &set));
  if (set) o->hi.assign(box, box + n);
  PetscOptionsEnd();
  *fields = buf;
  PetscFunctionReturn(0);
}

std::vector<std::string> parse_fields(const std::string& text) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    bool known = false;
    for (const char* k : kKnownFields) known = known || item == k;
    if (!known)
      throw InputError("-compare_fields", "unknown field '" + item + "' (allowed: value, control, density)");
    if (!seen.insert(item).second) throw InputError("-compare_fields", "field '" + item + "' is listed twice");
    out.push_back(item);
  }
  if (out.empty()) throw InputError("-compare_fields", "no field given (allowed: value, control, density)");
  return out;
}

struct FileGrid {
  std::vector<std::vector<double>> axes;  // /grid/x0, /grid/x1, ...
  std::vector<double> time;
};

std::vector<double> read_1d(const std::string& file, const std::string& name) {
  Dataset d = read_dataset(file, name);
  if (d.dims.size() != 1) throw InputError("<files>", "'" + file + "': " + name + " is not a 1-D dataset");
  return d.data;
}

FileGrid read_grid(const std::string& file) {
  FileGrid g;
  g.time = read_1d(file, "/time");  // also the "is this HDF5 at all" check
  for (int a = 0; a < 3 && has_dataset(file, "/grid/x" + std::to_string(a)); ++a)
    g.axes.push_back(read_1d(file, "/grid/x" + std::to_string(a)));
  if (g.axes.empty()) throw InputError("<files>", "'" + file + "' has no /grid/x0: not an hjbft output file");
  return g;
}

// |a - b| <= 1e-12 * (largest magnitude in either list), entry by entry.
// Returns the first index that differs, or -1.
long first_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 0;
  for (double x : a) scale = std::max(scale, std::abs(x));
  for (double x : b) scale = std::max(scale, std::abs(x));
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(a[i] - b[i]) <= 1e-12 * scale)) return static_cast<long>(i);
  return -1;
}

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

void check_same_grid(const std::string& fa, const FileGrid& a, const std::string& fb, const FileGrid& b) {
  const std::string both = " in '" + fa + "' and ";
  if (a.axes.size() != b.axes.size())
    throw InputError("<files>", "the grids differ: dimension " + std::to_string(a.axes.size()) + both +
                                    std::to_string(b.axes.size()) + " in '" + fb + "'");
  for (std::size_t ax = 0; ax < a.axes.size(); ++ax) {
    const std::string name = "/grid/x" + std::to_string(ax);
    if (a.axes[ax].size() != b.axes[ax].size())
      throw InputError("<files>", "the grids differ: " + name + " has " + std::to_string(a.axes[ax].size()) +
                                      " points" + both + std::to_string(b.axes[ax].size()) + " in '" + fb + "'");
    const long i = first_difference(a.axes[ax], b.axes[ax]);
    if (i >= 0)
      throw InputError("<files>", "the grids differ: " + name + "[" + std::to_string(i) + "] is " +
                                      num(a.axes[ax][i]) + both + num(b.axes[ax][i]) + " in '" + fb +
                                      "' (tolerance 1e-12 relative)");
  }
  if (a.time.size() != b.time.size())
    throw InputError("<files>", "the saved times differ: /time has " + std::to_string(a.time.size()) + " entries" +
                                    both + std::to_string(b.time.size()) + " in '" + fb + "'");
  const long i = first_difference(a.time, b.time);
  if (i >= 0)
    throw InputError("<files>", "the saved times differ: /time[" + std::to_string(i) + "] is " + num(a.time[i]) +
                                    both + num(b.time[i]) + " in '" + fb + "' (tolerance 1e-12 relative)");
}

struct FieldErrors {
  std::vector<double> sup, l2;  // per saved time
};

FieldErrors compare_field(const std::string& field, const std::string& fa, const std::string& fb,
                          const FileGrid& g, const CompareOptions& o) {
  const std::string path = "/" + field;
  for (const std::string& f : {fa, fb})
    if (!has_dataset(f, path)) throw InputError("-compare_fields", "'" + f + "' has no dataset " + path);
  const Dataset A = read_dataset(fa, path), B = read_dataset(fb, path);
  // Expected shape: [n_time][n_{d-1}]...[n_0], plus [d] for the control.
  const std::size_t d = g.axes.size();
  std::vector<hsize_t> expected{g.time.size()};
  for (std::size_t ax = d; ax-- > 0;) expected.push_back(g.axes[ax].size());
  if (field == "control") expected.push_back(d);
  auto shape = [](const std::vector<hsize_t>& v) {
    std::string s;
    for (auto x : v) s += "[" + std::to_string(x) + "]";
    return s;
  };
  for (const auto* D : {&A, &B})
    if (D->dims != expected)
      throw InputError("<files>", "'" + (D == &A ? fa : fb) + "': " + path + " has shape " + shape(D->dims) +
                                      ", the grid needs " + shape(expected));
  double cell = 1;
  for (const auto& x : g.axes)
    if (x.size() > 1) cell *= (x.back() - x.front()) / static_cast<double>(x.size() - 1);
  const std::size_t ncomp = field == "control" ? d : 1;
  const std::size_t npoints = A.data.size() / g.time.size() / ncomp;
  FieldErrors e;
  for (std::size_t t = 0; t < g.time.size(); ++t) {
    double sup = 0, sum = 0;
    bool finite = true;
    for (std::size_t p = 0; p < npoints; ++p) {
      if (!o.lo.empty() || !o.hi.empty()) {  // point p in x0-fastest order
        bool inside = true;
        std::size_t rest = p;
        for (std::size_t ax = 0; ax < d; ++ax) {
          const double x = g.axes[ax][rest % g.axes[ax].size()];
          rest /= g.axes[ax].size();
          if ((!o.lo.empty() && x < o.lo[ax]) || (!o.hi.empty() && x > o.hi[ax])) inside = false;
        }
        if (!inside) continue;
      }
      double sq = 0;
      for (std::size_t c = 0; c < ncomp; ++c) {
        const std::size_t k = (t * npoints + p) * ncomp + c;
        const double diff = A.data[k] - B.data[k];
        sq += diff * diff;
      }
      if (!std::isfinite(sq)) finite = false;
      sup = std::max(sup, std::sqrt(sq));
      sum += sq;
    }
    e.sup.push_back(finite ? sup : NAN);
    e.l2.push_back(finite ? std::sqrt(cell * sum) : NAN);
  }
  return e;
}

std::string attribute_or(const std::string& file, const std::string& name, const std::string& fallback) {
  try {
    return read_string_attribute(file, name);
  } catch (const InputError&) {
    return fallback;
  }
}

// The whole comparison, on rank 0 only.  Returns the exit status (0 or 4).
int compare_on_root(const std::string& fa, const std::string& fb, const CompareOptions& o) {
  const FileGrid ga = read_grid(fa), gb = read_grid(fb);
  check_same_grid(fa, ga, fb, gb);
  std::vector<FieldErrors> errs;
  const std::size_t d = ga.axes.size();
  CompareOptions ob = o;
  if (!o.lo.empty()) ob.lo = broadcast(o.lo, static_cast<int>(d), "-compare_lo");
  if (!o.hi.empty()) ob.hi = broadcast(o.hi, static_cast<int>(d), "-compare_hi");
  for (const auto& f : o.fields) errs.push_back(compare_field(f, fa, fb, ga, ob));

  std::string npts;
  for (const auto& x : ga.axes) npts += (npts.empty() ? "" : " x ") + std::to_string(x.size());
  std::printf("hjbft compare: A = %s (solver %s)\n               B = %s (solver %s)\n", fa.c_str(),
              attribute_or(fa, "solver", "?").c_str(), fb.c_str(), attribute_or(fb, "solver", "?").c_str());
  std::printf("  grid: %zu-D, %s points, %zu saved times; -tol %g\n", ga.axes.size(), npts.c_str(),
              ga.time.size(), o.tol);
  if (!ob.lo.empty() || !ob.hi.empty()) {
    std::printf("  compared only inside the box");
    for (std::size_t ax = 0; ax < d; ++ax)
      std::printf(" [%g, %g]", ob.lo.empty() ? -INFINITY : ob.lo[ax], ob.hi.empty() ? INFINITY : ob.hi[ax]);
    std::printf("\n");
  }
  std::printf("  %14s", "t");
  for (const auto& f : o.fields) std::printf("  %14s  %14s", (f + "_sup").c_str(), (f + "_l2").c_str());
  std::printf("\n");
  double worst_sup = 0, worst_l2 = 0;
  bool finite = true;
  std::string worst_where = "-";
  for (std::size_t t = 0; t < ga.time.size(); ++t) {
    std::printf("  %14.8g", ga.time[t]);
    for (std::size_t k = 0; k < o.fields.size(); ++k) {
      const double s = errs[k].sup[t], l = errs[k].l2[t];
      std::printf("  %14.6e  %14.6e", s, l);
      if (!std::isfinite(s) || !std::isfinite(l)) finite = false;
      if (s > worst_sup) {
        worst_sup = s;
        char buf[128];
        std::snprintf(buf, sizeof buf, "%s at t = %g", o.fields[k].c_str(), ga.time[t]);
        worst_where = buf;
      }
      worst_l2 = std::max(worst_l2, l);
    }
    std::printf("\n");
  }
  if (!finite) {
    std::printf("  overall: non-finite differences (NaN or Inf in a file)\n");
    std::printf("hjbft compare: FAIL: the errors are not finite (-tol %g)\n", o.tol);
    std::fflush(stdout);
    return 4;
  }
  std::printf("  overall: sup %.6e (%s), L2 %.6e\n", worst_sup, worst_where.c_str(), worst_l2);
  const bool pass = worst_sup <= o.tol;
  std::printf("hjbft compare: %s: overall sup error %.6e %s -tol %g\n", pass ? "PASS" : "FAIL", worst_sup,
              pass ? "<=" : ">", o.tol);
  std::fflush(stdout);
  return pass ? 0 : 4;
}

}  // namespace

int cmd_compare(MPI_Comm comm) {
  CompareOptions o;
  std::string fields;
  HJBFT_PETSC(ReadCompareOptions(comm, &o, &fields));
  if (help_requested()) return 0;
  if (!std::isfinite(o.tol) || o.tol < 0)
    throw InputError("-tol", "must be a finite number >= 0, got " + num(o.tol));
  o.fields = parse_fields(fields);
  const auto& files = positional_args();
  if (files.size() != 2)
    throw InputError("<files>", "compare needs exactly two HDF5 files (hjbft compare A.h5 B.h5 [options]), got " +
                                    std::to_string(files.size()));

  // Rank 0 works; the outcome (status, or the error and its kind) is shared.
  int rank;
  MPI_Comm_rank(comm, &rank);
  int status = 0, kind = 0;  // kind: 0 none, 1 InputError, 2 other error
  std::string option, message;
  if (rank == 0) {
    try {
      status = compare_on_root(files[0], files[1], o);
    } catch (const InputError& e) {
      kind = 1;
      option = e.option();
      message = std::string(e.what()).substr(std::string("option " + option + ": ").size());
    } catch (const std::exception& e) {
      kind = 2;
      message = e.what();
    }
  }
  int head[4] = {status, kind, static_cast<int>(option.size()), static_cast<int>(message.size())};
  MPI_Bcast(head, 4, MPI_INT, 0, comm);
  option.resize(head[2]);
  message.resize(head[3]);
  MPI_Bcast(option.data(), head[2], MPI_CHAR, 0, comm);
  MPI_Bcast(message.data(), head[3], MPI_CHAR, 0, comm);
  if (head[1] == 1) throw InputError(option, message);
  if (head[1] == 2) throw SolverError(message);
  return head[0];
}

}  // namespace hjbft
