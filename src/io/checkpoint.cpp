#include "hjbft/io/checkpoint.hpp"

#include <petscviewerhdf5.h>

#include <cstdio>
#include <utility>

#include "hjbft/core/errors.hpp"
#include "hjbft/io/field_io.hpp"

namespace hjbft {

namespace {
// The HDF5 viewer reads and writes a vector under its object name: give v the
// dataset's name for the call, then its own back.
template <class F>
void under_name(::Vec v, const std::string& name, F&& io) {
  const char* old;
  HJBFT_PETSC(PetscObjectGetName(reinterpret_cast<PetscObject>(v), &old));
  const std::string keep = old ? old : "";
  HJBFT_PETSC(PetscObjectSetName(reinterpret_cast<PetscObject>(v), name.c_str()));
  io();
  HJBFT_PETSC(PetscObjectSetName(reinterpret_cast<PetscObject>(v), keep.c_str()));
}
}  // namespace

CheckpointWriter::CheckpointWriter(MPI_Comm comm, std::string path)
    : comm_(comm), path_(std::move(path)), tmp_(path_ + ".tmp") {
  if (!output_writable(path_)) throw InputError("-checkpoint_file", "cannot write '" + path_ + "'");
  HJBFT_PETSC(PetscViewerHDF5Open(comm_, tmp_.c_str(), FILE_MODE_WRITE, &viewer_));
}

CheckpointWriter::~CheckpointWriter() {
  if (!viewer_) return;
  PetscViewerDestroy(&viewer_);
  int rank;
  MPI_Comm_rank(comm_, &rank);
  if (rank == 0) std::remove(tmp_.c_str());
}

void CheckpointWriter::write_vec(const std::string& name, ::Vec v) {
  under_name(v, name, [&] { HJBFT_PETSC(VecView(v, viewer_)); });
}

void CheckpointWriter::set_attribute(const std::string& name, double value) {
  HJBFT_PETSC(PetscViewerHDF5WriteAttribute(viewer_, "/", name.c_str(), PETSC_DOUBLE, &value));
}

void CheckpointWriter::set_attribute(const std::string& name, const std::string& value) {
  HJBFT_PETSC(PetscViewerHDF5WriteAttribute(viewer_, "/", name.c_str(), PETSC_STRING, value.c_str()));
}

void CheckpointWriter::commit() {
  HJBFT_PETSC(PetscViewerDestroy(&viewer_));  // flushes and closes the file on every rank
  int rank, ok = 1;
  MPI_Comm_rank(comm_, &rank);
  if (rank == 0) ok = std::rename(tmp_.c_str(), path_.c_str()) == 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);
  if (!ok) throw InputError("-checkpoint_file", "cannot rename '" + tmp_ + "' to '" + path_ + "'");
}

CheckpointReader::CheckpointReader(MPI_Comm comm, const std::string& path) : path_(path) {
  int readable = 0, rank;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    readable = f != nullptr;
    if (f) std::fclose(f);
  }
  MPI_Bcast(&readable, 1, MPI_INT, 0, comm);
  if (!readable) throw InputError("-restart", "cannot read '" + path + "'");
  HJBFT_PETSC(PetscViewerHDF5Open(comm, path.c_str(), FILE_MODE_READ, &viewer_));
  if (!has("checkpoint_of")) throw InputError("-restart", "'" + path + "' is not an hjbft checkpoint");
}

CheckpointReader::~CheckpointReader() { PetscViewerDestroy(&viewer_); }

void CheckpointReader::read_vec(const std::string& name, ::Vec v) {
  under_name(v, name, [&] { HJBFT_PETSC(VecLoad(v, viewer_)); });
}

bool CheckpointReader::has(const std::string& name) {
  PetscBool h;
  HJBFT_PETSC(PetscViewerHDF5HasAttribute(viewer_, "/", name.c_str(), &h));
  return h;
}

double CheckpointReader::number(const std::string& name) {
  if (!has(name)) throw InputError("-restart", "'" + path_ + "' lacks the attribute " + name);
  double v;
  HJBFT_PETSC(PetscViewerHDF5ReadAttribute(viewer_, "/", name.c_str(), PETSC_DOUBLE, nullptr, &v));
  return v;
}

std::string CheckpointReader::text(const std::string& name) {
  if (!has(name)) throw InputError("-restart", "'" + path_ + "' lacks the attribute " + name);
  char* s = nullptr;
  HJBFT_PETSC(PetscViewerHDF5ReadAttribute(viewer_, "/", name.c_str(), PETSC_STRING, nullptr, &s));
  std::string r = s ? s : "";
  HJBFT_PETSC(PetscFree(s));
  return r;
}

}  // namespace hjbft
