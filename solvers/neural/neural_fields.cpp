// The value and control networks of neural PI-FT (include/hjbft/solvers/neural.hpp).
#include "hjbft/solvers/neural.hpp"

namespace hjbft {

namespace {
nn::MlpShape shape(int in, const std::vector<int>& hidden, int out, nn::Activation act) {
  nn::MlpShape s;
  s.in = in;
  s.hidden = hidden;
  s.out = out;
  s.act = act;
  return s;
}
}  // namespace

NeuralFields::NeuralFields(const Problem& p, const NeuralOptions& o)
    : p_(p),
      d_(p.dim),
      T_(p.T()),
      form_(o.control_form),
      emb_{o.time_freq, p.T()},
      vnet_(shape(p.dim + emb_.size(), o.value_hidden, 1, o.activation)),
      unet_(shape(p.dim + emb_.size(), o.control_hidden, p.dim, o.activation)) {
  vnet_.init(o.seed);
  // u^0 = 0: the fine-tuning starts from the pre-trained model.
  unet_.init(o.seed + 1, 0.0);
}

void NeuralFields::inputs(const std::vector<double>& t, const Matrix& X, Matrix& In) const {
  In.resize(d_ + emb_.size(), X.cols());
  In.topRows(d_) = X;
  for (Eigen::Index j = 0; j < X.cols(); ++j) emb_.write(t[j], In, d_, static_cast<int>(j));
}

void NeuralFields::inputs(double t, const Matrix& X, Matrix& In) const {
  In.resize(d_ + emb_.size(), X.cols());
  In.topRows(d_) = X;
  // Every column has the same time features.
  emb_.write(t, In, d_, 0);
  for (Eigen::Index j = 1; j < X.cols(); ++j) In.col(j).tail(emb_.size()) = In.col(0).tail(emb_.size());
}

void NeuralFields::value(double t, const Matrix& X, Vector& V) const {
  Matrix In, Y;
  inputs(t, X, In);
  vnet_.forward(In, Y);
  V.resize(X.cols());
  const double w = 1 - t / T_;
  for (Eigen::Index j = 0; j < X.cols(); ++j) V[j] = p_.reward->value(X.col(j)) + w * Y(0, j);
}

void NeuralFields::value_gradient(double t, const Matrix& X, Matrix& G) const {
  Matrix In, Gin;
  inputs(t, X, In);
  vnet_.input_gradient(In, Gin);
  G = (1 - t / T_) * Gin.topRows(d_);
  for (Eigen::Index j = 0; j < X.cols(); ++j) G.col(j) += p_.reward->gradient(X.col(j));
}

NeuralFields::ControlMap NeuralFields::control_map(double t) const {
  if (form_ != "terminal") return {0.0, 1.0};
  const double gain = p_.control.coefficients(t).gain();
  return {gain, gain * (1 - t / T_)};
}

void NeuralFields::control(double t, const Matrix& X, Matrix& U) const {
  if (form_ == "terminal" && !fitted_) {
    U.setZero(d_, X.cols());
    return;
  }
  Matrix In;
  inputs(t, X, In);
  unet_.forward(In, U);
  const ControlMap m = control_map(t);
  if (m.offset == 0 && m.scale == 1) return;
  U *= m.scale;
  for (Eigen::Index j = 0; j < X.cols(); ++j) U.col(j) += m.offset * p_.reward->gradient(X.col(j));
}

}  // namespace hjbft
