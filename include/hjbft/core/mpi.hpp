#pragma once
// MPI helpers shared by the data-parallel solvers and the writers.
#include <mpi.h>

#include <functional>

#include "hjbft/core/linalg.hpp"

namespace hjbft {

// Global sums of a few doubles, in place on every rank.
inline void allreduce_sum(MPI_Comm comm, double* v, int n) {
  MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm);
}

// Gathers the rows (n_local x cols) of every rank on rank 0, in rank order,
// where rank r holds rows [n_total r / size, n_total (r+1) / size).  Other ranks get 0 rows.
Matrix gather_rows(MPI_Comm comm, const Matrix& local, long n_total);

// Runs `work` on rank 0 only and makes its failure every rank's: an
// InputError is re-thrown on all ranks with its option, any other exception
// as a SolverError with its message.  Collective (the ranks wait for rank 0).
void on_rank0(MPI_Comm comm, const std::function<void()>& work);

}  // namespace hjbft
