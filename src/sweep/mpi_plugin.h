// The MPI plugin's interface (docs/sweep.md, "MPI"). The `effectual` binary does not link libmpi
// (every start would pay for loading it, and machines without MPI could not run it at all): when
// it runs under mpirun it dlopen()s libeffectual_mpi.so (built from src/sweep/mpi/ when CMake
// finds MPI), which exports this table of plain C functions. Nothing MPI-specific crosses it.
#pragma once

#include <cstdint>

extern "C" {

struct EffMpiV1 {
  // MPI_Init_thread (only the calling thread makes MPI calls); this process's rank, the world
  // size and how many ranks share this node. Returns 0 on success.
  int (*init)(int* rank, int* size, int* local_size);
  // Rank 0 only: answers every other rank's requests with next(ctx) until each has been told -1
  // (no more points). Polls without spinning, so a compute thread beside it keeps its core.
  int (*serve)(int64_t (*next)(void*), void* ctx);
  // Ranks > 0: the next point index from rank 0, or -1 when there are none left.
  int64_t (*request)();
  // Broadcasts an int from rank 0 (a status every rank acts on).
  int (*broadcast)(int* value);
  void (*barrier)();
  void (*abort)(int code);  // ends every rank
  void (*finalize)();
};

// The symbol the plugin exports.
const EffMpiV1* eff_mpi_plugin_v1();
}

namespace eff::sweep {

// Ranks in this job according to the launcher's environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
// PMIX_SIZE...), 1 when not launched by mpirun.
int launcher_world_size();
// The plugin: $EFFECTUAL_MPI_PLUGIN, else libeffectual_mpi.so beside the executable. A UsageError
// saying how to get one when it cannot be loaded.
const EffMpiV1& load_mpi_plugin();

}  // namespace eff::sweep
