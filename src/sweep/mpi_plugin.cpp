#include "sweep/mpi_plugin.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace eff::sweep {

int launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    if (const char* v = std::getenv(var)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

const EffMpiV1& load_mpi_plugin() {
  std::string path;
  if (const char* env = std::getenv("EFFECTUAL_MPI_PLUGIN")) {
    path = env;
  } else {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    path = (exe.parent_path() / "libeffectual_mpi.so").string();
  }
  // RTLD_GLOBAL: Open MPI's own components resolve libmpi's symbols through the global scope.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    fail<UsageError>(
        "sweep: started by mpirun with {} ranks, but the MPI plugin {} cannot be loaded ({}); build with MPI "
        "(libopenmpi-dev) or set EFFECTUAL_MPI_PLUGIN",
        launcher_world_size(), path, ::dlerror());
  }
  using Entry = const EffMpiV1* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, "eff_mpi_plugin_v1"));
  if (!entry) fail<UsageError>("sweep: {} is not an effectual MPI plugin (no eff_mpi_plugin_v1)", path);
  return *entry();
}

}  // namespace eff::sweep
