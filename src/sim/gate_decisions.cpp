#include "sim/gate_decisions.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "sim/design.h"
#include "sim/gates_file.h"

namespace eff::sim {

namespace {

// Per group: for each window, psum[n] += a x w over (ky, kx, c < c_end) with the weights
// transposed filter-innermost, so the inner loop runs over the group's filters (vectorised) and
// skips zero activations. Sums are doubles: exact, as every product of two 16-bit codes is below
// 2^30 and a layer has far fewer than 2^23 terms per output.
// Grouped channel gating: which stored channels are on a filter's base path.
struct BaseSet {
  gating::Grouping grouping = gating::Grouping::kFirst;
  int64_t groups = 1, base = 0, cg = 0, mg = 0;
  bool folded = false;  // space-to-depth first layer: stored channel c holds model channel c mod 3
  bool has(int64_t c, int64_t n) const {
    return gating::on_base_path(grouping, groups, base, cg, mg, folded ? c % 3 : c, n);
  }
};

void group_sums(const SimLayer& l, const std::vector<double>& acts, int64_t c_end, int64_t g, double scale,
                const std::vector<double>& thresholds, int threads, std::vector<uint8_t>& on,
                const BaseSet* set = nullptr) {
  constexpr int64_t kBlock = 16;  // filters whose sums stay in registers while a window's terms stream
  const int64_t W = l.windows(), taps = l.Kx * l.Ky;
  const int64_t fpg = l.mapping == ChannelMapping::kDepthwise ? 1 : l.filters_per_group();
  const int64_t padded = (fpg + kBlock - 1) / kBlock * kBlock;
  const int64_t k0 = g * fpg, base = l.group_channel_base(g), terms = taps * c_end;
  // wt[(block * terms + term) * kBlock + j]: filter block * kBlock + j, zero past the last filter.
  std::vector<double> wt(static_cast<size_t>(terms * padded), 0.0);
  for (int64_t n = 0; n < fpg; ++n) {
    for (int64_t t = 0; t < taps; ++t) {
      for (int64_t c = 0; c < c_end; ++c) {
        if (set && !set->has(c, n)) continue;  // not on filter n's base path: weight 0
        wt[static_cast<size_t>(((n / kBlock) * terms + t * c_end + c) * kBlock + n % kBlock)] =
            l.wgts[static_cast<size_t>(((k0 + n) * taps + t) * l.C + c)];
      }
    }
  }
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && W > 1)
  for (int64_t w = 0; w < W; ++w) {
    std::vector<const double*> rows(static_cast<size_t>(taps));
    for (int64_t t = 0; t < taps; ++t) {
      rows[static_cast<size_t>(t)] =
          acts.data() + (l.window_y(w, t / l.Kx) * l.X + l.window_x(w, t % l.Kx)) * l.C_total + base;
    }
    for (int64_t b = 0; b < padded / kBlock; ++b) {
      double acc[kBlock] = {};
      const double* wb = wt.data() + b * terms * kBlock;
      for (int64_t t = 0; t < taps; ++t) {
        const double* a = rows[static_cast<size_t>(t)];
        for (int64_t c = 0; c < c_end; ++c) {
          if (a[c] == 0) continue;
          const double av = a[c];
          const double* row = wb + (t * c_end + c) * kBlock;
#pragma omp simd
          for (int64_t j = 0; j < kBlock; ++j) acc[j] += av * row[j];
        }
      }
      for (int64_t j = 0; j < kBlock && b * kBlock + j < fpg; ++j) {
        const int64_t k = k0 + b * kBlock + j;
        const double bias = l.bias.empty() ? 0.0 : double(l.bias[static_cast<size_t>(k)]);
        on[static_cast<size_t>(k * W + w)] = acc[j] * scale + bias > thresholds[static_cast<size_t>(k)] ? 1 : 0;
      }
    }
  }
}

// on[k * W + w] = scale * sum over (ky, kx, stored channel c < c_end of the group) of
// acts[c] * w > thresholds[k], `acts` laid out like l.acts.
std::vector<uint8_t> decisions(const SimLayer& l, const std::vector<double>& acts, int64_t c_end,
                               const std::vector<double>& thresholds, int threads, const BaseSet* set = nullptr) {
  if (static_cast<int64_t>(thresholds.size()) != l.K)
    fail<ConfigError>("layer '{}': {} gate thresholds for {} filters", l.name, thresholds.size(), l.K);
  const double scale = l.act_format.step() * l.wgt_format.step();
  std::vector<uint8_t> on(static_cast<size_t>(l.K * l.windows()), 0);
  const int64_t groups = l.mapping == ChannelMapping::kDepthwise ? l.K : l.groups;
  for (int64_t g = 0; g < groups; ++g) {
    group_sums(l, acts, c_end, g, scale, thresholds, threads, on, set);
  }
  return on;
}

}  // namespace

int64_t model_channels(const SimLayer& l) {
  return l.space_to_depth ? 3 : l.C;
}

std::vector<double> filter_thresholds(const LayerGate& gate, int64_t filters) {
  if (gate.thresholds.empty()) return std::vector<double>(static_cast<size_t>(filters), gate.threshold);
  return std::vector<double>(gate.thresholds.begin(), gate.thresholds.end());
}

std::vector<uint8_t> channel_gate_decisions(const SimLayer& l, int64_t base_channels, double threshold, int threads) {
  return channel_gate_decisions(l, base_channels, std::vector<double>(static_cast<size_t>(l.K), threshold), threads);
}

std::vector<uint8_t> channel_gate_decisions(const SimLayer& l, int64_t base_channels,
                                            const std::vector<double>& threshold, int threads,
                                            gating::Grouping grouping, int64_t groups) {
  std::vector<double> acts(l.acts.begin(), l.acts.end());
  if (grouping != gating::Grouping::kFirst) {
    const BaseSet set{grouping,
                      groups,
                      base_channels,
                      model_channels(l),
                      l.mapping == ChannelMapping::kDepthwise ? 1 : l.filters_per_group(),
                      l.space_to_depth};
    return decisions(l, acts, l.C, threshold, threads, &set);
  }
  if (!l.space_to_depth) return decisions(l, acts, std::min(base_channels, l.C), threshold, threads);
  // Folded first layer: stored channel c' holds model channel c' mod 3; zero the others.
  for (size_t i = 0; i < acts.size(); ++i) {
    if (static_cast<int64_t>(i % static_cast<size_t>(l.C_total)) % 3 >= base_channels) acts[i] = 0;
  }
  return decisions(l, acts, l.C, threshold, threads);
}

double high_order_part(double x, const LayerGate& g) {
  const double scale = std::ldexp(1.0, g.frac_bits);
  const double lo = g.is_signed ? -std::ldexp(1.0, g.bits - 1) : 0.0;
  const double hi = g.is_signed ? std::ldexp(1.0, g.bits - 1) - 1 : std::ldexp(1.0, g.bits) - 1;
  const double code = std::clamp(std::round(x * scale), lo, hi);  // std::round: ties away from zero
  const double unit = std::ldexp(1.0, g.bits - g.high_bits);
  return std::floor(code / unit) * unit / scale;
}

std::vector<uint8_t> precision_gate_decisions(const SimLayer& l, const LayerGate& gate, int threads) {
  const double step = l.act_format.step();
  std::vector<double> high(l.acts.size());
  for (size_t i = 0; i < high.size(); ++i) high[i] = high_order_part(double(l.acts[i]) * step, gate) / step;
  return decisions(l, high, l.C, filter_thresholds(gate, l.K), threads);
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
      if (on[static_cast<size_t>(k * W + w)])
        any[static_cast<size_t>((g * filter_sets + f) * window_sets + w / columns)] = 1;
    }
  }
  return any;
}

}  // namespace eff::sim
