#pragma once
// The dense linear-algebra types of hjbft (Eigen): points, batches of points
// (one point per column inside solvers, one per row at file interfaces), and
// network parameters.
#include <Eigen/Dense>

namespace hjbft {

using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;

}  // namespace hjbft
