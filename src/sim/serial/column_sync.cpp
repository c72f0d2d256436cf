#include "sim/serial/column_sync.h"

#include <algorithm>

#include "core/error.h"

namespace eff::sim::serial {

int64_t rotation_cycles_with_load(const std::vector<int>& dispatch, const std::vector<int>& busy, int columns) {
  EFF_ASSERT(dispatch.size() == busy.size() && columns >= 1);
  std::vector<int64_t> column_end(columns, 0);
  int64_t wires_free = 0;  // when the shared weight wires can start the next hand-over
  int c = 0;
  for (size_t s = 0; s < busy.size(); ++s) {
    const int64_t start = std::max(wires_free, column_end[c]);
    wires_free = start + dispatch[s];
    column_end[c] = std::max(start + busy[s], wires_free);
    c = c + 1 == columns ? 0 : c + 1;
  }
  int64_t last = wires_free;
  for (int64_t e : column_end) last = std::max(last, e);
  return last;
}

int64_t tartan_fc_cycles(int64_t rounds, int activation_bits, int weight_bits) {
  if (rounds <= 0) return 0;
  return weight_bits + (rounds - 1) * std::max(activation_bits, weight_bits) + activation_bits;
}

}  // namespace eff::sim::serial
