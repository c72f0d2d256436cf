// libeffectual_mpi.so: the only code that talks to MPI (see src/sweep/mpi_plugin.h). Rank 0 hands
// out point indices one at a time on request (dynamic load balancing: points differ a lot in
// cost), every rank computes and writes its points into the shared sweep folder.
// The C bindings only (Open MPI's C++ ones do not compile cleanly with -Wextra -Werror).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "sweep/mpi_plugin.h"

namespace {

constexpr int kRequestTag = 1;
constexpr int kReplyTag = 2;

int init(int* rank, int* size, int* local_size) {
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return 1;
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, local_size);
  MPI_Comm_free(&node);
  return 0;
}

int serve(int64_t (*next)(void*), void* ctx) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int open_ranks = size - 1;
  while (open_ranks > 0) {
    int dummy = 0;
    MPI_Request req;
    MPI_Irecv(&dummy, 1, MPI_INT, MPI_ANY_SOURCE, kRequestTag, MPI_COMM_WORLD, &req);
    int done = 0;
    MPI_Status st;
    // A blocking receive would spin a core (Open MPI polls); rank 0's own compute thread needs it.
    for (MPI_Test(&req, &done, &st); !done; MPI_Test(&req, &done, &st)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const int64_t index = next(ctx);
    MPI_Send(&index, 1, MPI_INT64_T, st.MPI_SOURCE, kReplyTag, MPI_COMM_WORLD);
    if (index < 0) --open_ranks;
  }
  return 0;
}

int64_t request() {
  int dummy = 0;
  MPI_Send(&dummy, 1, MPI_INT, 0, kRequestTag, MPI_COMM_WORLD);
  int64_t index = -1;
  MPI_Recv(&index, 1, MPI_INT64_T, 0, kReplyTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return index;
}

int broadcast(int* value) {
  return MPI_Bcast(value, 1, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : 1;
}

void barrier() {
  MPI_Barrier(MPI_COMM_WORLD);
}

[[noreturn]] void abort_all(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void finalize() {
  MPI_Finalize();
}

const EffMpiV1 kTable = {init, serve, request, broadcast, barrier, abort_all, finalize};

}  // namespace

extern "C" __attribute__((visibility("default"))) const EffMpiV1* eff_mpi_plugin_v1() {
  return &kTable;
}
