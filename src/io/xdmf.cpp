#include "hjbft/io/xdmf.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hjbft/core/errors.hpp"
#include "hjbft/core/mpi.hpp"
#include "hjbft/grid/grid.hpp"

namespace hjbft {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

template <class T>
std::string join(const std::vector<T>& v) {
  std::ostringstream s;
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? " " : "") << v[i];
  return s.str();
}

// A HyperSlab DataItem selecting time slice j (and, when comp >= 0, component
// comp of the last axis) of dataset `name` whose full shape is `dims`.  The
// selection is presented with shape `shape` (the 3-D mesh's, plus [3] for a vector).
void hyperslab(std::ostream& o, const std::string& indent, const std::string& h5ref, const std::string& name,
               const std::vector<PetscInt>& dims, std::size_t j, int comp, const std::vector<PetscInt>& shape) {
  const std::size_t r = dims.size();
  std::vector<PetscInt> start(r, 0), stride(r, 1), count = dims;
  start[0] = static_cast<PetscInt>(j);
  count[0] = 1;
  if (comp >= 0) {
    start[r - 1] = comp;
    count[r - 1] = 1;
  }
  o << indent << "<DataItem ItemType=\"HyperSlab\" Dimensions=\"" << join(shape) << "\" Type=\"HyperSlab\">\n"
    << indent << "  <DataItem Dimensions=\"3 " << r << "\" NumberType=\"Int\" Format=\"XML\">" << join(start) << "  "
    << join(stride) << "  " << join(count) << "</DataItem>\n"
    << indent << "  <DataItem Dimensions=\"" << join(dims) << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">"
    << h5ref << ":/" << xml_escape(name) << "</DataItem>\n"
    << indent << "</DataItem>\n";
}

}  // namespace

std::string xdmf_path(const std::string& h5path) {
  const std::string ext = ".h5";
  if (h5path.size() > ext.size() && h5path.compare(h5path.size() - ext.size(), ext.size(), ext) == 0)
    return h5path.substr(0, h5path.size() - ext.size()) + ".xmf";
  return h5path + ".xmf";
}

namespace {

// Shapes of one result: the XDMF mesh, always 3-D with axes slowest first (z y x;
// a 1-D or 2-D grid is padded with axes of one point: ParaView's reader puts a
// 2DCoRectMesh in the y-z plane, a flat 3-D mesh lies in the x-y plane as
// expected), and the datasets in the .h5 file.
struct XdmfShapes {
  std::vector<PetscInt> mesh_dims, vector_shape, scalar_dims, control_dims;
  std::vector<double> origin, spacing;
  XdmfShapes(int dim, const std::vector<PetscInt>& n, const std::vector<double>& lo, const std::vector<double>& h,
             std::size_t ntimes) {
    for (int a = 2; a >= 0; --a) {
      mesh_dims.push_back(a < dim ? n[a] : 1);
      origin.push_back(a < dim ? lo[a] : 0.0);
      spacing.push_back(a < dim ? h[a] : 1.0);
    }
    vector_shape = mesh_dims;
    vector_shape.push_back(3);
    scalar_dims = {static_cast<PetscInt>(ntimes)};
    for (int a = dim - 1; a >= 0; --a) scalar_dims.push_back(n[a]);
    control_dims = scalar_dims;
    control_dims.push_back(dim);
  }
};

// The uniform grid of saved time j: topology, geometry, the scalar fields and
// the control's components (and, in 3-D, the control as a vector).
void time_slice(std::ostream& o, const XdmfShapes& s, const std::string& h5ref, int dim, std::size_t j, double time,
                const std::vector<std::string>& scalar_fields, bool has_control) {
  const std::string in = "          ";
  o << "      <Grid Name=\"t" << j << "\" GridType=\"Uniform\">\n"
    << "        <Time Value=\"" << num(time) << "\"/>\n"
    << "        <Topology TopologyType=\"" << "3DCoRectMesh" << "\" Dimensions=\""
    << join(s.mesh_dims) << "\"/>\n"
    << "        <Geometry GeometryType=\"" << "ORIGIN_DXDYDZ" << "\">\n";
  for (const auto* v : {&s.origin, &s.spacing}) {
    o << "          <DataItem Dimensions=\"" << v->size() << "\" NumberType=\"Float\" Precision=\"8\" Format=\"XML\">";
    for (std::size_t i = 0; i < v->size(); ++i) o << (i ? " " : "") << num((*v)[i]);
    o << "</DataItem>\n";
  }
  o << "        </Geometry>\n";
  for (const auto& f : scalar_fields) {
    o << "        <Attribute Name=\"" << xml_escape(f) << "\" AttributeType=\"Scalar\" Center=\"Node\">\n";
    hyperslab(o, in, h5ref, f, s.scalar_dims, j, -1, s.mesh_dims);
    o << "        </Attribute>\n";
  }
  if (has_control) {
    for (int c = 0; c < dim; ++c) {
      o << "        <Attribute Name=\"u" << c << "\" AttributeType=\"Scalar\" Center=\"Node\">\n";
      hyperslab(o, in, h5ref, "control", s.control_dims, j, c, s.mesh_dims);
      o << "        </Attribute>\n";
    }
    if (dim == 3) {
      o << "        <Attribute Name=\"control\" AttributeType=\"Vector\" Center=\"Node\">\n";
      hyperslab(o, in, h5ref, "control", s.control_dims, j, -1, s.vector_shape);
      o << "        </Attribute>\n";
    }
  }
  o << "      </Grid>\n";
}

// `text` to `path` through a temporary file and a rename (no half-written file).
void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
      std::remove(tmp.c_str());
      throw SolverError("cannot write the XDMF file '" + tmp + "' (temporary name of " + path + ")");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw SolverError("could not rename " + tmp + " to " + path);
  }
}

}  // namespace

void write_xdmf(const std::string& h5path, int dim, const std::vector<PetscInt>& n, const std::vector<double>& lo,
                const std::vector<double>& h, const std::vector<double>& times,
                const std::vector<std::string>& scalar_fields, bool has_control) {
  if (dim < 1 || dim > 3 || n.size() != static_cast<std::size_t>(dim) || lo.size() != n.size() ||
      h.size() != n.size())
    throw SolverError("internal: write_xdmf needs dim in 1..3 and dim entries of n, lo, h");
  const std::string xmf = xdmf_path(h5path);
  const std::string h5ref = xml_escape(std::filesystem::path(h5path).filename().string());
  const XdmfShapes shapes(dim, n, lo, h, times.size());
  std::ostringstream o;
  o << "<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n"
    << "<!-- Written by hjbft: the fields of " << h5ref << " (" << dim << "-D, " << times.size()
    << " saved times) for ParaView/VisIt. -->\n"
    << "<Xdmf Version=\"2.0\">\n  <Domain>\n"
    << "    <Grid Name=\"hjbft\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
  for (std::size_t j = 0; j < times.size(); ++j)
    time_slice(o, shapes, h5ref, dim, j, times[j], scalar_fields, has_control);
  o << "    </Grid>\n  </Domain>\n</Xdmf>\n";
  write_atomically(xmf, o.str());
}

void write_xdmf(const Grid& grid, const std::string& h5path, const std::vector<std::string>& scalar_fields,
                bool has_control) {
  on_rank0(grid.comm(), [&] {
    std::vector<PetscInt> n;
    std::vector<double> lo, h, times;
    for (int a = 0; a < grid.dim(); ++a) {
      n.push_back(grid.n(a));
      lo.push_back(grid.lo(a));
      h.push_back(grid.h(a));
    }
    for (PetscInt j : grid.saved_steps()) times.push_back(grid.time(j));
    try {
      write_xdmf(h5path, grid.dim(), n, lo, h, times, scalar_fields, has_control);
    } catch (const std::exception& e) {
      throw SolverError(*e.what() ? e.what() : "cannot write " + xdmf_path(h5path));
    }
  });
}

}  // namespace hjbft
