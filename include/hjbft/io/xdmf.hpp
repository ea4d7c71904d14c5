#pragma once
// XDMF companion of an HDF5 result file, so that ParaView (and VisIt) open
// the fields directly: "out.h5" gets "out.xmf" next to it.
//
// The .xmf is an XDMF 2.0 document: one temporal collection with a uniform
// grid per saved time (<Time Value=t>), on a 2DCoRectMesh / 3DCoRectMesh with
// ORIGIN_DXDY(DZ) geometry (origin and spacing listed slowest axis first, like
// the Dimensions: z y x).  A 1-D result is shown as a 2DCoRectMesh with one
// point in y (a line of n_0 points at y = 0).  Every attribute is a HyperSlab
// DataItem that selects time slice j of the dataset in the .h5 file, named
// relative to the .xmf (the two files move together):
//   * each scalar field (/value, /density, ...): Scalar attribute of that name;
//   * the control /control [n_time]..[n_0][d]: Scalar attributes u0 .. u{d-1}
//     (one per component, always), plus for d = 3 a Vector attribute "control".
//     ParaView's vectors have three components, so for d = 1, 2 no Vector is
//     written; build one with the Calculator filter (u0*iHat + u1*jHat).
// The file is written to a temporary name and renamed (atomic).
#include <petscsys.h>

#include <string>
#include <vector>

namespace hjbft {

class Grid;

// The .xmf name of an HDF5 file: "dir/out.h5" -> "dir/out.xmf" (other
// names get ".xmf" appended).
std::string xdmf_path(const std::string& h5path);

// Writes the .xmf on the calling process (call it on one rank only).
// n, lo, h: points, first coordinate and spacing per axis (x0 first), dim entries.
// Throws SolverError when the file cannot be written.
void write_xdmf(const std::string& h5path, int dim, const std::vector<PetscInt>& n, const std::vector<double>& lo,
                const std::vector<double>& h, const std::vector<double>& times,
                const std::vector<std::string>& scalar_fields, bool has_control);

// Collective over grid.comm(): rank 0 writes the .xmf of a result written on
// `grid` (times: its saved steps); every rank throws if that failed.
void write_xdmf(const Grid& grid, const std::string& h5path, const std::vector<std::string>& scalar_fields,
                bool has_control);

}  // namespace hjbft
