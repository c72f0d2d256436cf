// Independent tasks over a thread team, for the DeftNN kernels' own loops.
#pragma once

#include <cstdint>

namespace eff::deft {

// Tasks 0..count-1 on `threads`, statically split (no OpenMP region for one: libgomp starts a team
// even then).
template <class F>
void for_tasks(int64_t count, int threads, const F& f) {
  if (threads <= 1 || count <= 1) {
    for (int64_t t = 0; t < count; ++t) f(t);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t t = 0; t < count; ++t) f(t);
}

}  // namespace eff::deft
