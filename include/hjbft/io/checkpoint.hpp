#pragma once
// Checkpoints of a long solve: a set of DMDA vectors and scalar attributes in
// one HDF5 file, written with PETSc's HDF5 viewer (VecView stores a DMDA
// vector in natural ordering, so VecLoad reads it back on any number of
// ranks).  Writing is atomic: the file is built as "<path>.tmp" and renamed
// to <path> by commit(), so a job killed while checkpointing leaves the
// previous checkpoint intact.
#include <petscvec.h>
#include <petscviewer.h>

#include <string>

namespace hjbft {

class CheckpointWriter {
public:
  CheckpointWriter(MPI_Comm comm, std::string path);  // collective; throws InputError("-checkpoint_file")
  ~CheckpointWriter();                                // removes the temporary file unless committed
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;
  void write_vec(const std::string& name, ::Vec v);  // collective
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, const std::string& value);
  void commit();  // collective

private:
  MPI_Comm comm_;
  std::string path_, tmp_;
  PetscViewer viewer_ = nullptr;
};

class CheckpointReader {
public:
  CheckpointReader(MPI_Comm comm, const std::string& path);  // throws InputError("-restart") if unreadable
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;
  // v must have the layout of the vector written (the same DMDA sizes).
  void read_vec(const std::string& name, ::Vec v);
  double number(const std::string& name);
  std::string text(const std::string& name);
  bool has(const std::string& name);  // an attribute of the root

private:
  std::string path_;
  PetscViewer viewer_ = nullptr;
};

}  // namespace hjbft
