#include "sim/gate_decisions.h"

#include <cmath>

#include "sim/design.h"
#include "sim/gates_file.h"

namespace eff::sim {

namespace {

// on[k * W + w] = scale * sum over (ky, kx, stored channel c of the group with take(c)) of
// value(a) * w > threshold.
template <class Take, class Value>
std::vector<uint8_t> decisions(const SimLayer& l, double threshold, int threads, Take take, Value value) {
  const int64_t W = l.windows(), fpg = l.filters_per_group();
  const bool depthwise = l.mapping == ChannelMapping::kDepthwise;
  const double scale = l.act_format.step() * l.wgt_format.step();
  std::vector<uint8_t> on(static_cast<size_t>(l.K * W), 0);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && l.K > 1)
  for (int64_t k = 0; k < l.K; ++k) {
    const int64_t g = depthwise ? k : k / fpg;
    const int64_t base = l.group_channel_base(g);
    for (int64_t w = 0; w < W; ++w) {
      int64_t sum = 0;
      for (int64_t ky = 0; ky < l.Ky; ++ky) {
        for (int64_t kx = 0; kx < l.Kx; ++kx) {
          const int16_t* a = l.act_ptr(l.window_x(w, kx), l.window_y(w, ky)) + base;
          for (int64_t c = 0; c < l.C; ++c) {
            if (take(c)) sum += int64_t{value(a[c])} * l.wgt(k, ky, kx, c);
          }
        }
      }
      on[static_cast<size_t>(k * W + w)] = double(sum) * scale > threshold ? 1 : 0;
    }
  }
  return on;
}

}  // namespace

int64_t model_channels(const SimLayer& l) { return l.space_to_depth ? 3 : l.C; }

std::vector<uint8_t> channel_gate_decisions(const SimLayer& l, int64_t base_channels, double threshold, int threads) {
  const bool folded = l.space_to_depth;
  return decisions(
      l, threshold, threads, [&](int64_t c) { return (folded ? c % 3 : c) < base_channels; },
      [](int16_t a) { return int32_t{a}; });
}

std::vector<uint8_t> precision_gate_decisions(const SimLayer& l, int low_bits, double threshold, int threads) {
  // Arithmetic shifts floor negative codes too: the high-order part of the two's-complement code.
  return decisions(
      l, threshold, threads, [](int64_t) { return true; },
      [low_bits](int16_t a) { return (int32_t{a} >> low_bits) * (int32_t{1} << low_bits); });
}

const LayerGate* precision_gate(const SimLayer& l, const SimContext& ctx) {
  if (!ctx.gates || ctx.gates->kind != GateKind::kPrecision || l.mapping == ChannelMapping::kDepthwise) return nullptr;
  return ctx.gates->find(l.name);
}

std::vector<uint8_t> pass_any_on(const SimLayer& l, const std::vector<uint8_t>& on, int64_t filters_per_set,
                                 int64_t filter_sets, int64_t columns, int64_t window_sets) {
  const int64_t W = l.windows(), fpg = l.filters_per_group();
  std::vector<uint8_t> any(static_cast<size_t>(l.groups * filter_sets * window_sets), 0);
  for (int64_t k = 0; k < l.K; ++k) {
    const int64_t g = k / fpg, f = (k % fpg) / filters_per_set;
    for (int64_t w = 0; w < W; ++w) {
      if (on[static_cast<size_t>(k * W + w)]) any[static_cast<size_t>((g * filter_sets + f) * window_sets + w / columns)] = 1;
    }
  }
  return any;
}

}  // namespace eff::sim
