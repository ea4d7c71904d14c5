#pragma once
// Network weights in HDF5 (the /networks group of DESIGN.md section 6): a
// group per network with dataset "params" (the flat parameter vector of
// nn::Mlp) and attributes in, hidden, out, activation, so that a file whose
// network does not fit the run is refused by name, with both shapes.
#include <hdf5.h>

#include <string>

#include "hjbft/nn/mlp.hpp"

namespace hjbft {

// Creates group `name` under `loc` (parents included) holding `net`; a
// non-empty `form` is stored as attribute "form" (how the solver maps the
// network's output to its field, e.g. the control forms of hjbft neural).
// Every rank of a parallel file must make the same call with the same data.
void save_network(hid_t loc, const std::string& name, const nn::Mlp& net, const std::string& form = "");

// The "form" attribute of network group `name`; "" when it has none (files
// written before forms existed).
std::string read_network_form(hid_t loc, const std::string& name);

// The shape of the network stored in group `name` under `loc`.  Throws
// InputError(option, ... + context) when it is missing or unreadable.
nn::MlpShape read_network_shape(hid_t loc, const std::string& name, const std::string& option,
                                const std::string& context = "");

// Reads group `name` into `net`; throws InputError(option, ...) naming both
// shapes when the stored network's shape differs from net's, when it is
// missing, or when a parameter is not finite.
void load_network(hid_t loc, const std::string& name, const std::string& option, nn::Mlp& net);

// A result file opened read-only for its networks (closed on destruction).
// Throws InputError(option, prefix + "cannot open 'FILE' as an HDF5 file").
class NetworkFile {
public:
  NetworkFile(const std::string& file, const std::string& option, const std::string& prefix = "");
  ~NetworkFile();
  NetworkFile(const NetworkFile&) = delete;
  NetworkFile& operator=(const NetworkFile&) = delete;
  nn::MlpShape shape(const std::string& group) const { return read_network_shape(file_, group, option_); }
  void load(const std::string& group, nn::Mlp& net) const { load_network(file_, group, option_, net); }
  std::string form(const std::string& group) const { return read_network_form(file_, group); }

private:
  hid_t file_;
  std::string option_;
};

}  // namespace hjbft
