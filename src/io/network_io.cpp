#include "hjbft/io/network_io.hpp"

#include <algorithm>
#include <vector>

#include "hjbft/core/errors.hpp"
#include "hjbft/io/hdf5_util.hpp"

namespace hjbft {

namespace {

void write_int_attr(hid_t loc, const char* name, const std::vector<int>& v, bool scalar) {
  const hsize_t n = v.size();
  h5::Id space{scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr), H5Sclose};
  h5::Id attr{H5Acreate2(loc, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr < 0) throw SolverError(std::string("HDF5: create attribute ") + name + " failed");
  if (!v.empty()) h5::check(H5Awrite(attr, H5T_NATIVE_INT, v.data()), std::string("write attribute ") + name);
}

// Integer attribute (scalar or 1-D) as a vector; false when missing or unreadable.
bool read_int_attr(hid_t loc, const char* name, std::vector<int>& v) {
  if (H5Aexists(loc, name) <= 0) return false;
  h5::Id attr{H5Aopen(loc, name, H5P_DEFAULT), H5Aclose};
  h5::Id space{H5Aget_space(attr), H5Sclose};
  h5::Id type{H5Aget_type(attr), H5Tclose};
  if (attr < 0 || space < 0 || type < 0 || H5Tget_class(type) != H5T_INTEGER) return false;
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) return false;
  v.resize(static_cast<std::size_t>(n));
  return n == 0 || H5Aread(attr, H5T_NATIVE_INT, v.data()) >= 0;
}

bool read_string_attr(hid_t loc, const char* name, std::string& s) {
  if (H5Aexists(loc, name) <= 0) return false;
  h5::Id attr{H5Aopen(loc, name, H5P_DEFAULT), H5Aclose};
  h5::Id type{H5Aget_type(attr), H5Tclose};
  if (attr < 0 || type < 0 || H5Tget_class(type) != H5T_STRING) return false;
  if (H5Tis_variable_str(type) > 0) {  // as h5py writes strings
    h5::Id mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem, H5T_VARIABLE);
    char* p = nullptr;
    if (H5Aread(attr, mem, &p) < 0 || !p) return false;
    s = p;
    H5free_memory(p);
    return true;
  }
  std::string buf(H5Tget_size(type), '\0');
  if (H5Aread(attr, type, buf.data()) < 0) return false;
  s = buf.substr(0, buf.find('\0'));
  return true;
}

void write_string_attr(hid_t loc, const char* name, const std::string& v) {
  h5::Id type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type, std::max<std::size_t>(v.size(), 1));
  h5::Id scalar{H5Screate(H5S_SCALAR), H5Sclose};
  h5::Id attr{H5Acreate2(loc, name, type, scalar, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  if (attr < 0) throw SolverError(std::string("HDF5: create attribute ") + name + " failed");
  const std::string buf = v.empty() ? std::string(1, '\0') : v;
  h5::check(H5Awrite(attr, type, buf.data()), std::string("write attribute ") + name);
}

}  // namespace

void save_network(hid_t loc, const std::string& name, const nn::Mlp& net, const std::string& form) {
  h5::Quiet quiet;
  h5::Id lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(lcpl, 1);
  h5::Id group{H5Gcreate2(loc, name.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
  if (group < 0) throw SolverError("HDF5: create group '" + name + "' failed (does it exist already?)");
  const hsize_t n = net.params().size();
  h5::Id space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  h5::Id dset{H5Dcreate2(group, "params", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
  if (dset < 0) throw SolverError("HDF5: create dataset '" + name + "/params' failed");
  h5::check(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, net.params().data()),
            "write " + name + "/params");
  write_int_attr(group, "in", {net.shape().in}, true);
  write_int_attr(group, "hidden", net.shape().hidden, false);
  write_int_attr(group, "out", {net.shape().out}, true);
  write_string_attr(group, "activation", nn::to_string(net.shape().act));
  if (!form.empty()) write_string_attr(group, "form", form);
}

std::string read_network_form(hid_t loc, const std::string& name) {
  h5::Quiet quiet;
  h5::Id group{H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose};
  std::string form;
  if (group < 0 || !read_string_attr(group, "form", form)) return "";
  return form;
}

nn::MlpShape read_network_shape(hid_t loc, const std::string& name, const std::string& option,
                                const std::string& expected) {
  h5::Quiet quiet;
  h5::Id group{H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose};
  if (group < 0) throw InputError(option, "no network group '" + name + "' in the file" + expected);
  nn::MlpShape stored;
  std::vector<int> in, out;
  std::string act;
  if (!read_int_attr(group, "in", in) || in.size() != 1 || !read_int_attr(group, "hidden", stored.hidden) ||
      !read_int_attr(group, "out", out) || out.size() != 1 || !read_string_attr(group, "activation", act))
    throw InputError(option, "network '" + name + "' lacks a readable in, hidden, out or activation attribute" +
                                 expected);
  stored.in = in[0];
  stored.out = out[0];
  if (act != "tanh" && act != "silu")
    throw InputError(option, "network '" + name + "' has unknown activation '" + act + "'" + expected);
  stored.act = act == "tanh" ? nn::Activation::tanh : nn::Activation::silu;
  return stored;
}

void load_network(hid_t loc, const std::string& name, const std::string& option, nn::Mlp& net) {
  const std::string expected = " (expected a " + net.shape().describe() + " network)";
  const nn::MlpShape stored = read_network_shape(loc, name, option, expected);
  if (stored != net.shape())
    throw InputError(option, "network '" + name + "' in the file has shape " + stored.describe() +
                                 ", but this run needs " + net.shape().describe());

  h5::Quiet quiet;
  h5::Id group{H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose};
  h5::Id dset{H5Dopen2(group, "params", H5P_DEFAULT), H5Dclose};
  if (dset < 0) throw InputError(option, "network '" + name + "' has no dataset 'params'" + expected);
  h5::Id space{H5Dget_space(dset), H5Sclose};
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n != net.params().size())
    throw InputError(option, "network '" + name + "' stores " + std::to_string(n) + " parameters, a " +
                                 net.shape().describe() + " network has " + std::to_string(net.params().size()));
  Vector theta(net.params().size());
  if (H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, theta.data()) < 0)
    throw InputError(option, "cannot read '" + name + "/params'");
  if (!theta.allFinite()) throw InputError(option, "network '" + name + "' has non-finite parameters");
  net.params().swap(theta);
}

NetworkFile::NetworkFile(const std::string& file, const std::string& option, const std::string& prefix)
    : file_(h5::open_read_only(file, option, prefix)), option_(option) {}

NetworkFile::~NetworkFile() { H5Fclose(file_); }

}  // namespace hjbft
