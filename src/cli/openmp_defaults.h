#pragma once

namespace eff::cli {

// When neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY is set, no `--threads N` fixes the thread count
// and the machine has more than one core, sets GOMP_SPINCOUNT to effectual's default and restarts
// the program in place (execv of /proc/self/exe with the same arguments), because libgomp reads it
// only when it is loaded; the restarted process finds it set and goes on. Returns if nothing
// needed doing or exec failed.
void apply_openmp_defaults(char** argv);

}  // namespace eff::cli
