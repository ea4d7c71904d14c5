#include "hjbft/io/field_io.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/options.hpp"
#include "hjbft/io/hdf5_util.hpp"

namespace hjbft {

namespace {

int rank_of(MPI_Comm comm) {
  int r;
  MPI_Comm_rank(comm, &r);
  return r;
}

}  // namespace

bool output_writable(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) return false;
  const fs::path dir = fs::absolute(fs::path(path)).parent_path();
  return fs::is_directory(dir) && access(dir.c_str(), W_OK) == 0 && !fs::is_directory(path);
}

InputError unwritable_output(const std::string& path) {
  return InputError("-o", "cannot write '" + path + "': its directory does not exist or is not writable, "
                          "or the name is a directory");
}

FieldWriter::FieldWriter(const Grid& grid, std::string path, const std::string& solver)
    : grid_(grid), path_(std::move(path)) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by hjbft, not by HDF5's stack dump
  const MPI_Comm comm = grid_.comm();
  if (path_.empty()) throw InputError("-o", "an output file name is required");
  int ok = 1;
  long pid = static_cast<long>(getpid());
  if (rank_of(comm) == 0) ok = output_writable(path_);
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  MPI_Bcast(&pid, 1, MPI_LONG, 0, comm);
  if (!ok) throw unwritable_output(path_);
  tmp_ = path_ + ".tmp." + std::to_string(pid);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file_ < 0) throw InputError("-o", "cannot create '" + tmp_ + "' (temporary name of the output file)");

  for (int a = 0; a < grid_.dim(); ++a) write_series("/grid/x" + std::to_string(a), grid_.axis_coords(a));
  std::vector<double> times;
  for (PetscInt j : grid_.saved_steps()) times.push_back(grid_.time(j));
  write_series("/time", times);
  set_attribute("solver", solver);
  set_attribute("version", HJBFT_VERSION);
  set_attribute("dim", static_cast<double>(grid_.dim()));
}

FieldWriter::~FieldWriter() {
  if (!committed_) abort();
}

void FieldWriter::abort() noexcept {
  if (file_ >= 0) H5Fclose(file_);
  file_ = -1;
  if (!tmp_.empty() && rank_of(grid_.comm()) == 0) std::remove(tmp_.c_str());
}

void FieldWriter::write_field(const std::string& name, int index, ::Vec v, int dof) {
  const int d = grid_.dim();
  const int nsaved = static_cast<int>(grid_.saved_steps().size());
  if (index < 0 || index >= nsaved) throw SolverError("internal: time index out of range for " + name);
  // File dims: [n_time][n_{d-1}]...[n_0] (+ [dof] for the control).
  std::vector<hsize_t> dims{static_cast<hsize_t>(nsaved)}, start{static_cast<hsize_t>(index)}, count{1};
  for (int a = d - 1; a >= 0; --a) {
    dims.push_back(grid_.n(a));
    start.push_back(grid_.start()[a]);
    count.push_back(grid_.width()[a]);
  }
  if (dof > 0) {
    dims.push_back(dof);
    start.push_back(0);
    count.push_back(dof);
  }
  const PetscScalar* x;
  PetscInt nloc;
  HJBFT_PETSC(VecGetLocalSize(v, &nloc));
  HJBFT_PETSC(VecGetArrayRead(v, &x));
  // Refused: NaN and Inf (2), and magnitudes above kLargestField (1); one reduction for both.
  int worst = 0;
  for (PetscInt i = 0; i < nloc && worst < 2; ++i)
    worst = std::max(worst, !std::isfinite(x[i]) ? 2 : std::abs(x[i]) > kLargestField ? 1 : 0);
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, grid_.comm());
  if (worst > 0) {
    HJBFT_PETSC(VecRestoreArrayRead(v, &x));
    throw SolverError((worst == 1 ? "values of magnitude above 1e150 (their squares overflow) in /" : "non-finite values in /") +
                      name + " at t = " + std::to_string(grid_.time(grid_.saved_steps()[index])) +
                      "; nothing was written");
  }
  hid_t dset;
  const std::string path = "/" + name;
  if (H5Lexists(file_, path.c_str(), H5P_DEFAULT) > 0) {
    dset = h5::check_id(H5Dopen2(file_, path.c_str(), H5P_DEFAULT), "open " + path);
  } else {
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    dset = h5::check_id(H5Dcreate2(file_, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "create " + path);
    H5Sclose(space);
  }
  hid_t fspace = H5Dget_space(dset);
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  const hsize_t nmem = static_cast<hsize_t>(nloc);
  hid_t mspace = H5Screate_simple(1, &nmem, nullptr);
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  const herr_t st = H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, x);
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(fspace);
  H5Dclose(dset);
  HJBFT_PETSC(VecRestoreArrayRead(v, &x));
  h5::check(st, "write " + path);
}

void FieldWriter::write_value(int index, ::Vec value) { write_field("value", index, value, 0); }
void FieldWriter::write_control(int index, ::Vec control) { write_field("control", index, control, grid_.dim()); }

void FieldWriter::write_series(const std::string& name, const std::vector<double>& values) {
  const bool root = rank_of(grid_.comm()) == 0;
  hsize_t n = root ? values.size() : 0;
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, grid_.comm());
  hid_t space = H5Screate_simple(1, &n, nullptr);
  hid_t lcpl = h5::lcpl_with_parents();
  hid_t dset = h5::check_id(H5Dcreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT),
                          "create " + name);
  H5Pclose(lcpl);
  hid_t mspace = H5Screate_simple(1, &n, nullptr);
  if (!root) {
    H5Sselect_none(space);
    H5Sselect_none(mspace);
  }
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  const herr_t st = H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, space, dxpl, root ? values.data() : nullptr);
  H5Pclose(dxpl);
  H5Sclose(mspace);
  H5Sclose(space);
  H5Dclose(dset);
  h5::check(st, "write " + name);
}

void FieldWriter::set_attribute(const std::string& name, const std::string& value) {
  // Fixed-length string (variable-length data is not allowed in parallel writes); rank 0's text wins.
  unsigned long len = value.size();
  MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG, 0, grid_.comm());
  std::string v = value;
  v.resize(len);
  MPI_Bcast(v.data(), static_cast<int>(len), MPI_CHAR, 0, grid_.comm());
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, std::max<std::size_t>(len, 1));
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = h5::check_id(H5Acreate2(file_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "attribute " + name);
  const herr_t st = H5Awrite(attr, type, len ? v.data() : "");
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  h5::check(st, "attribute " + name);
}

void FieldWriter::set_attribute(const std::string& name, double value) {
  MPI_Bcast(&value, 1, MPI_DOUBLE, 0, grid_.comm());
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = h5::check_id(H5Acreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT),
                          "attribute " + name);
  const herr_t st = H5Awrite(attr, H5T_NATIVE_DOUBLE, &value);
  H5Aclose(attr);
  H5Sclose(space);
  h5::check(st, "attribute " + name);
}

void FieldWriter::commit() {
  require_all_options_used();  // a typo in an option must not produce a result file (options_util.hpp)
  h5::check(H5Fclose(file_), "close " + tmp_);
  file_ = -1;
  int ok = 1;
  MPI_Barrier(grid_.comm());
  if (rank_of(grid_.comm()) == 0) ok = std::rename(tmp_.c_str(), path_.c_str()) == 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, grid_.comm());
  if (!ok) throw SolverError("could not rename " + tmp_ + " to " + path_);
  committed_ = true;
}

Dataset read_dataset(const std::string& file, const std::string& name) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw InputError("file", "cannot open '" + file + "' as HDF5");
  hid_t d = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  if (d < 0) {
    H5Fclose(f);
    throw InputError("file", "'" + file + "' has no dataset " + name);
  }
  hid_t s = H5Dget_space(d);
  Dataset out;
  out.dims.resize(H5Sget_simple_extent_ndims(s));
  H5Sget_simple_extent_dims(s, out.dims.data(), nullptr);
  hsize_t n = 1;
  for (auto x : out.dims) n *= x;
  out.data.resize(n);
  const herr_t st = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data());
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
  h5::check(st, "read " + name + " from " + file);
  return out;
}

bool has_dataset(const std::string& file, const std::string& name) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return false;
  const bool ok = H5Lexists(f, name.c_str(), H5P_DEFAULT) > 0;
  H5Fclose(f);
  return ok;
}

std::string read_string_attribute(const std::string& file, const std::string& name) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw InputError("file", "cannot open '" + file + "' as HDF5");
  hid_t a = H5Aopen(f, name.c_str(), H5P_DEFAULT);
  if (a < 0) {
    H5Fclose(f);
    throw InputError("file", "'" + file + "' has no attribute " + name);
  }
  hid_t type = H5Aget_type(a);
  std::string out(H5Tget_size(type), '\0');
  H5Aread(a, type, out.data());
  H5Tclose(type);
  H5Aclose(a);
  H5Fclose(f);
  out.erase(out.find_last_not_of('\0') + 1);
  return out;
}

}  // namespace hjbft
