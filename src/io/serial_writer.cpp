#include "hjbft/io/serial_writer.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "hjbft/core/errors.hpp"
#include "hjbft/io/hdf5_util.hpp"

namespace hjbft {

SerialWriter::SerialWriter(std::string path) : path_(std::move(path)) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  tmp_ = path_ + ".tmp." + std::to_string(static_cast<long>(getpid()));
  file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) throw InputError("-o", "cannot create '" + tmp_ + "' (temporary name of the output file)");
}

SerialWriter::~SerialWriter() {
  if (file_ >= 0) H5Fclose(file_);
  if (!committed_) std::remove(tmp_.c_str());
}

void SerialWriter::matrix(const std::string& name, const Matrix& M) {
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R = M;
  const hsize_t dims[2] = {static_cast<hsize_t>(R.rows()), static_cast<hsize_t>(R.cols())};
  write(name, 2, dims, R.data());
}

void SerialWriter::vector(const std::string& name, const Vector& v) {
  const hsize_t dims[1] = {static_cast<hsize_t>(v.size())};
  write(name, 1, dims, v.data());
}

void SerialWriter::attr(const std::string& name, double value) {
  const h5::Id sp{H5Screate(H5S_SCALAR), H5Sclose};
  const h5::Id a{H5Acreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &value) < 0) throw SolverError("HDF5: cannot write attribute " + name);
}

void SerialWriter::attr(const std::string& name, const std::string& value) {
  const h5::Id type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type, std::max<std::size_t>(1, value.size()));
  const h5::Id sp{H5Screate(H5S_SCALAR), H5Sclose};
  const h5::Id a{H5Acreate2(file_, name.c_str(), type, sp, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (a < 0 || H5Awrite(a, type, value.empty() ? " " : value.c_str()) < 0)
    throw SolverError("HDF5: cannot write attribute " + name);
}

void SerialWriter::commit() {
  if (H5Fclose(file_) < 0) throw SolverError("HDF5: cannot close " + tmp_);
  file_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) throw InputError("-o", "cannot rename output to " + path_);
  committed_ = true;
}

void SerialWriter::write(const std::string& name, int rank, const hsize_t* dims, const double* data) {
  const h5::Id lcpl{h5::lcpl_with_parents(), H5Pclose};
  const h5::Id sp{H5Screate_simple(rank, dims, nullptr), H5Sclose};
  const h5::Id d{H5Dcreate2(file_, name.c_str(), H5T_NATIVE_DOUBLE, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
  if (d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw SolverError("HDF5: cannot write dataset " + name);
}

}  // namespace hjbft
