#pragma once
// A small HDF5 file written by one rank (samples, the sampler's statistics),
// atomically like FieldWriter: everything goes to "<path>.tmp.<pid>", renamed
// to <path> by commit(); destroyed without commit() it removes the temporary
// file, so a failed run leaves no partial output.
#include <hdf5.h>

#include <string>

#include "hjbft/core/linalg.hpp"

namespace hjbft {

class SerialWriter {
public:
  // Throws InputError("-o", ...) when the file cannot be created.
  explicit SerialWriter(std::string path);
  ~SerialWriter();
  SerialWriter(const SerialWriter&) = delete;
  SerialWriter& operator=(const SerialWriter&) = delete;
  void matrix(const std::string& name, const Matrix& M);  // stored row-major, M's shape
  void vector(const std::string& name, const Vector& v);
  void attr(const std::string& name, double value);
  void attr(const std::string& name, const std::string& value);
  void commit();

private:
  void write(const std::string& name, int rank, const hsize_t* dims, const double* data);
  std::string path_, tmp_;
  hid_t file_ = -1;
  bool committed_ = false;
};

}  // namespace hjbft
