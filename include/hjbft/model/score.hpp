#pragma once
// The pre-trained score s_pre(tau, x): the exact score of the forward marginal
// p_tau of the data mixture, optionally plus a known smooth error field
//
//     e(x)_i = amp * sin(freq * x_i)
//
// (for robustness studies: the fine-tuned model then starts from a model
// whose marginals are *not* p_tau).  Forward marginals are mixtures, so the
// exact score and Tweedie's mean E[X_0 | X_tau = x] = (x + v s)/m are closed form.
#include <cmath>
#include <vector>

#include "hjbft/model/gmm.hpp"
#include "hjbft/model/sde.hpp"

namespace hjbft {

struct ScoreError {
  double amp = 0.0;
  double freq = 1.0;
  Vector at(const Vector& x) const;
  double at(double xi) const { return amp * std::sin(freq * xi); }  // one coordinate
};

// Score at one forward time tau (the marginal's Cholesky factors are built once).
class ScoreAtTime {
public:
  ScoreAtTime(Gmm marginal, ScoreError err, double m, double v)
      : marg_(std::move(marginal)), err_(err), m_(m), v_(v) {}
  Vector operator()(const Vector& x) const;  // s_pre
  Vector exact(const Vector& x) const { return marg_.score(x); }
  Vector tweedie_mean(const Vector& x) const { return (x + v_ * marg_.score(x)) / m_; }
  const Gmm& marginal() const { return marg_; }

private:
  Gmm marg_;
  ScoreError err_;
  double m_, v_;
};

class PretrainedScore {
public:
  PretrainedScore(ForwardSde sde, Gmm data, ScoreError err = {})
      : sde_(std::move(sde)), data_(std::move(data)), err_(err) {}
  // tau must be > 0 unless the data components are nondegenerate (always the case here).
  ScoreAtTime at_tau(double tau) const;
  const Gmm& data() const { return data_; }
  const ForwardSde& sde() const { return sde_; }
  const ScoreError& error() const { return err_; }
  bool exact() const { return err_.amp == 0.0; }

private:
  ForwardSde sde_;
  Gmm data_;
  ScoreError err_;
};

// The same score for a batch: s_pre(Y) = exact score of s.marginal() + err for
// every column of Y (d x n), into S (d x n), vectorized over the batch (equals
// s(y) column by column; responsibilities by a column-wise log-sum-exp).
void batch_score(const ScoreAtTime& s, const ScoreError& err, const Matrix& Y, Matrix& S);

// The same score (and the log-density) point by point without heap allocation,
// at d <= 3: the hot loop of every grid assembly and grid law.  Stores per
// component log(pi_k) - 1/2 log det(2 pi S_k), the mean and the precision.
class FastGmmScore {
public:
  FastGmmScore(const Gmm& g, const ScoreError& err);
  void operator()(const double* x, double* s) const;
  double log_density(const double* x) const;

private:
  double responsibilities(const double* x) const;
  int d_, K_;
  std::vector<double> logc_, mean_, prec_;
  mutable std::vector<double> work_;
  mutable double work_sum_ = 1;
  ScoreError err_;
};

}  // namespace hjbft
