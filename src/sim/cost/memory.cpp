#include "sim/cost/memory.h"

#include <algorithm>
#include <cmath>

namespace eff::sim::cost {

namespace {
uint64_t transfer_cycles(double bytes, double bytes_per_cycle) {
  return bytes <= 0 ? 0 : static_cast<uint64_t>(std::ceil(bytes / bytes_per_cycle));
}
}  // namespace

std::vector<LayerMemory> memory_timeline(const std::vector<LayerTraffic>& layers, const MemoryConfig& m) {
  std::vector<LayerMemory> out(layers.size());
  double total_weights = 0;
  for (const LayerTraffic& l : layers) total_weights += double(l.weight_bytes);
  const bool resident = total_weights <= m.weight_memory_bytes;
  uint64_t prev_start = 0, prev_end = 0, link_free = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerTraffic& l = layers[i];
    LayerMemory& r = out[i];
    r.weights_resident = resident;
    const double w = double(l.weight_bytes);
    r.weights_streamed = !resident && w > m.weight_memory_bytes;
    r.acts_streamed = double(l.act_bytes + l.output_bytes) > m.activation_memory_bytes;
    uint64_t start = prev_end, busy = l.cycles;
    if (!resident && !r.weights_streamed) {
      const bool prefetch =
          i > 0 && w + double(layers[i - 1].weight_bytes) <= m.weight_memory_bytes && !out[i - 1].weights_streamed;
      const uint64_t load_start = std::max(prefetch ? prev_start : prev_end, link_free);
      const uint64_t load_end = load_start + transfer_cycles(w, m.bytes_per_cycle);
      link_free = load_end;
      start = std::max(prev_end, load_end);
    } else if (r.weights_streamed) {
      // Double-buffered per filter-set step: load step 0, then each step takes the longer of its
      // load and its compute.
      const int64_t steps = std::max<int64_t>(1, l.filter_sets);
      const double step_bytes = w / double(steps);
      const uint64_t load = transfer_cycles(step_bytes, m.bytes_per_cycle);
      const uint64_t compute = l.cycles / uint64_t(steps);
      const uint64_t first = std::max(prev_end, link_free) + load;
      busy = uint64_t(steps - 1) * std::max(load, compute) + compute + (l.cycles - compute * uint64_t(steps));
      start = first;
      link_free = first + uint64_t(steps - 1) * std::max(load, compute);
    }
    if (r.acts_streamed) {
      // Activations share the link with any weight stream of the same layer.
      const double bytes = double(l.act_bytes + l.output_bytes) + (r.weights_streamed ? w : 0.0);
      busy = std::max(busy, transfer_cycles(bytes, m.bytes_per_cycle));
      link_free = std::max(link_free, start + busy);
    }
    const uint64_t end = start + busy;
    r.stall_cycles = end - prev_end - l.cycles;
    prev_start = start;
    prev_end = end;
  }
  return out;
}

}  // namespace eff::sim::cost
