#include "hjbft/core/mpi.hpp"

#include <string>
#include <vector>

#include "hjbft/core/errors.hpp"

namespace hjbft {

Matrix gather_rows(MPI_Comm comm, const Matrix& local, long n_total) {
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const int cols = static_cast<int>(local.cols());
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> R = local;
  std::vector<int> counts(size), displs(size);
  for (int r = 0; r < size; ++r) {
    const long lo = n_total * r / size, hi = n_total * (r + 1) / size;
    counts[r] = static_cast<int>((hi - lo) * cols);
    displs[r] = static_cast<int>(lo * cols);
  }
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> all(rank == 0 ? n_total : 0, cols);
  MPI_Gatherv(R.data(), counts[rank], MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, 0, comm);
  return all;
}

namespace {
void broadcast_string(MPI_Comm comm, std::string& s) {
  int len = static_cast<int>(s.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, comm);
  s.resize(len);
  MPI_Bcast(s.data(), len, MPI_CHAR, 0, comm);
}
}  // namespace

void on_rank0(MPI_Comm comm, const std::function<void()>& work) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  int kind = 0;  // 0 ok, 1 InputError, 2 other
  std::string option, message;
  if (rank == 0) {
    try {
      work();
    } catch (const InputError& e) {
      kind = 1;
      option = e.option();
      message = std::string(e.what()).substr(("option " + e.option() + ": ").size());
    } catch (const std::exception& e) {
      kind = 2;
      message = e.what();
    }
  }
  MPI_Bcast(&kind, 1, MPI_INT, 0, comm);
  if (kind == 0) return;
  broadcast_string(comm, option);
  broadcast_string(comm, message);
  if (kind == 1) throw InputError(option, message);
  throw SolverError(message);
}

}  // namespace hjbft
