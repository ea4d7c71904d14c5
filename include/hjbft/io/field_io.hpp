#pragma once
// HDF5 output in the layout of DESIGN.md section 6, written in parallel
// (MPI-IO, collective hyperslab writes of each rank's DMDA box) and
// atomically: everything goes to "<path>.tmp.<pid>", which is renamed to
// <path> by commit().  A writer destroyed without commit() removes its
// temporary file, so a failed run leaves no partial output.  Non-finite
// field values are refused before anything of them reaches the file.
//
//   /grid/x0 ... /grid/x{d-1}   axis coordinates
//   /time                       saved generation times (ascending)
//   /value                      [n_time][n_{d-1}]...[n_0]
//   /control                    [n_time][n_{d-1}]...[n_0][d]
//   /history/<name>             one entry per outer iteration
//   root attributes             solver, options, version, problem, ...
#include <hdf5.h>
#include <petscvec.h>

#include <string>
#include <vector>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/limits.hpp"  // kLargestField, which the writer refuses beyond
#include "hjbft/grid/grid.hpp"

namespace hjbft {


// True when `path` can be created: its directory exists and is writable, and
// the name is not a directory.  The writers refuse other names up front with
// unwritable_output(path), InputError("-o", ...), so no solve runs for nothing.
bool output_writable(const std::string& path);
InputError unwritable_output(const std::string& path);

class FieldWriter {
public:
  // Collective.  Throws InputError("-o", ...) when the file cannot be created.
  FieldWriter(const Grid& grid, std::string path, const std::string& solver);
  ~FieldWriter();
  FieldWriter(const FieldWriter&) = delete;
  FieldWriter& operator=(const FieldWriter&) = delete;

  // Time slice `index` (position in grid.saved_steps()) of /value and /control.
  void write_value(int index, ::Vec value);
  void write_control(int index, ::Vec control);
  // Another scalar field with /value's shape (e.g. /density).
  void write_scalar_field(const std::string& name, int index, ::Vec v) { write_field(name, index, v, 0); }
  // A 1-D dataset whose data are given on rank 0 (other ranks' input is ignored).
  void write_series(const std::string& name, const std::vector<double>& values);
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, double value);
  void commit();  // collective; the output appears under its final name
  const std::string& path() const { return path_; }
  // The open file, for other collective HDF5 writes (e.g. network weights):
  // every rank must make the same calls with the same data.
  hid_t handle() const { return file_; }

private:
  void write_field(const std::string& name, int index, ::Vec v, int dof);
  void abort() noexcept;
  const Grid& grid_;
  std::string path_, tmp_;
  hid_t file_ = -1;
  bool committed_ = false;
};

// Whole-dataset reads (every rank reads the file itself; for comparisons,
// interpolation and tests).
struct Dataset {
  std::vector<hsize_t> dims;
  std::vector<double> data;
};
Dataset read_dataset(const std::string& file, const std::string& name);
bool has_dataset(const std::string& file, const std::string& name);
std::string read_string_attribute(const std::string& file, const std::string& name);

}  // namespace hjbft
