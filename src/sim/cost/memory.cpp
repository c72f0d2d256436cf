#include "sim/cost/memory.h"

#include <algorithm>
#include <cmath>

namespace eff::sim::cost {

namespace {
struct Transfer {
  uint64_t cycles = 0;
  double pj = 0;  // --dram only
};

Transfer transfer(double bytes, const MemoryConfig& m, double run_bytes = 0, double write_bytes = 0) {
  if (bytes + write_bytes <= 0) return {};
  if (m.dram) {
    const DramCost c = dram_transfer(*m.dram, bytes, run_bytes, write_bytes);
    return {static_cast<uint64_t>(std::ceil(c.ns * 1e-9 * m.frequency_hz)), c.pj};
  }
  return {static_cast<uint64_t>(std::ceil((bytes + write_bytes) / m.bytes_per_cycle)), 0};
}
}  // namespace

uint64_t amortised_share(uint64_t total, int rank, int n) {
  const uint64_t images = uint64_t(std::max(1, n)), r = uint64_t(std::clamp(rank, 0, int(images) - 1));
  return total * (r + 1) / images - total * r / images;
}

std::vector<LayerMemory> memory_timeline(const std::vector<LayerTraffic>& layers, const MemoryConfig& m, int image_rank,
                                         int images) {
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
    uint64_t start = prev_end, busy = l.cycles, initial_load = 0;
    r.weight_bytes_loaded = resident ? amortised_share(l.weight_bytes, image_rank, images) : l.weight_bytes;
    if (resident) {
      const Transfer load = transfer(w, m);
      initial_load = amortised_share(load.cycles, image_rank, images);
      r.offchip_pj += load.pj / std::max(1, images);
    } else if (!r.weights_streamed) {
      const bool prefetch =
          i > 0 && w + double(layers[i - 1].weight_bytes) <= m.weight_memory_bytes && !out[i - 1].weights_streamed;
      const uint64_t load_start = std::max(prefetch ? prev_start : prev_end, link_free);
      const Transfer load = transfer(w, m);
      const uint64_t load_end = load_start + load.cycles;
      r.offchip_pj += load.pj;
      link_free = load_end;
      start = std::max(prev_end, load_end);
    } else if (r.weights_streamed) {
      // Double-buffered per filter-set step: load step 0, then each step takes the longer of its
      // load and its compute.
      const int64_t steps = std::max<int64_t>(1, l.filter_sets);
      const double step_bytes = w / double(steps);
      const Transfer step = transfer(step_bytes, m, double(l.weight_run_bytes));
      const uint64_t load = step.cycles;
      r.offchip_pj += step.pj * double(steps);
      const uint64_t compute = l.cycles / uint64_t(steps);
      const uint64_t first = std::max(prev_end, link_free) + load;
      busy = uint64_t(steps - 1) * std::max(load, compute) + compute + (l.cycles - compute * uint64_t(steps));
      start = first;
      link_free = first + uint64_t(steps - 1) * std::max(load, compute);
    }
    if (r.acts_streamed) {
      // Activations share the link with any weight stream of the same layer.
      const Transfer acts = transfer(double(l.act_bytes), m, double(l.act_run_bytes), double(l.output_bytes));
      r.offchip_pj += acts.pj;
      const uint64_t weights = r.weights_streamed ? transfer(w, m, double(l.weight_run_bytes)).cycles : 0;
      busy = std::max(busy, acts.cycles + weights);
      link_free = std::max(link_free, start + busy);
    }
    const uint64_t end = start + busy;
    r.stall_cycles = end - prev_end - l.cycles + initial_load;
    prev_start = start;
    prev_end = end;
  }
  return out;
}

}  // namespace eff::sim::cost
