// The networks of a neural result file (hjbft neural) as a control source of
// the sampler: `hjbft sample -control neural:FILE.h5`.

#include "hjbft/core/errors.hpp"
#include "hjbft/io/network_io.hpp"
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

namespace {

class NeuralControl final : public ControlSource {
public:
  NeuralControl(const Problem& p, const std::string& file) : p_(p), file_(file) {
    const NetworkFile f(file, "-control", "neural: ");
    const nn::MlpShape vs = f.shape("/networks/value");
    const nn::MlpShape us = f.shape("/networks/control");
    // Input = [x (d); t/T; sin, cos pairs]: the dimension and the embedding follow from it.
    const int extra = us.in - p.dim - 1;
    if (us.out != p.dim || extra < 0 || extra % 2 != 0 || vs.in != us.in || vs.out != 1)
      throw InputError("-control", "neural: the networks in '" + file + "' (" + vs.describe() + ", " +
                                       us.describe() + ") do not fit a d = " + std::to_string(p.dim) + " problem");
    NeuralOptions o;
    o.value_hidden = vs.hidden;
    o.control_hidden = us.hidden;
    o.activation = us.act;
    o.time_freq = extra / 2;
    const std::string form = f.form("/networks/control");  // none: written before the forms, free
    o.control_form = form.empty() ? "free" : form;
    if (o.control_form != "free" && o.control_form != "terminal")
      throw InputError("-control", "neural: the control network in '" + file + "' has an unknown form '" + form +
                                       "' (known: free, terminal)");
    fields_ = std::make_unique<NeuralFields>(p, o);
    f.load("/networks/value", fields_->value_net());
    f.load("/networks/control", fields_->control_net());
    fields_->set_control_fitted();
  }
  void eval(double t, const Matrix& Y, Matrix& U, std::vector<char>&) const override { fields_->control(t, Y, U); }
  // V_psi (of the last evaluated control: a value, not the optimum's), with this problem's reward as V(T).
  bool value(double t, const Matrix& Y, Vector& V, std::vector<char>&) const override {
    fields_->value(t, Y, V);
    return true;
  }
  std::string name() const override { return "neural:" + file_; }

private:
  const Problem& p_;
  std::string file_;
  std::unique_ptr<NeuralFields> fields_;
};

}  // namespace

std::unique_ptr<ControlSource> make_neural_control(const Problem& p, const std::string& file) {
  return std::make_unique<NeuralControl>(p, file);
}

}  // namespace hjbft
