#pragma once
// Small RAII and error helpers over the HDF5 C API, shared by the io layer's
// readers and writers (the only layer that calls HDF5: scripts/check_layers.py).
#include <hdf5.h>

#include <string>

#include "hjbft/core/errors.hpp"

namespace hjbft::h5 {

// A handle closed on scope exit (id < 0: nothing to close).
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Id() {
    if (id >= 0) close(id);
  }
  Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  operator hid_t() const { return id; }
};

// HDF5's error-stack printing off while probing files: a missing group or a
// file that is not HDF5 is reported as an InputError, not a stack dump.
struct Quiet {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  Quiet() {
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~Quiet() { H5Eset_auto2(H5E_DEFAULT, func, data); }
  Quiet(const Quiet&) = delete;
  Quiet& operator=(const Quiet&) = delete;
};

inline void check(herr_t status, const std::string& what) {
  if (status < 0) throw SolverError("HDF5: " + what + " failed");
}
inline hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) throw SolverError("HDF5: " + what + " failed");
  return id;
}

// Link-creation property list that creates missing parent groups (/history/...).
inline hid_t lcpl_with_parents() {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

// Opens an existing file read-only; InputError(option, prefix + "cannot open 'FILE' as an HDF5 file").
inline hid_t open_read_only(const std::string& file, const std::string& option, const std::string& prefix = "") {
  hid_t f = -1;
  H5E_BEGIN_TRY { f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); }
  H5E_END_TRY;
  if (f < 0) throw InputError(option, prefix + "cannot open '" + file + "' as an HDF5 file");
  return f;
}

}  // namespace hjbft::h5
