// Small hand-built layers and design construction for the Tartan, Loom and Pragmatic tests.
// Layers are given already padded (padding positions are explicit zeros), as SimLayer stores them.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>

#include "sim/design.h"

namespace eff::sim::testing {

// A dense conv layer on a padded X x Y input with `groups` groups of C channels, K filters of
// Kx x Ky, stride s; all codes zero, 16-bit precision.
inline SimLayer serial_conv(int64_t X, int64_t Y, int64_t C, int64_t K, int64_t Kx, int64_t Ky, int64_t stride = 1,
                            int64_t groups = 1) {
  SimLayer l;
  l.name = "conv";
  l.kind = LayerKind::kConv;
  l.X = X;
  l.Y = Y;
  l.groups = groups;
  l.C = C;
  l.C_total = C * groups;
  l.K = K;
  l.Kx = Kx;
  l.Ky = Ky;
  l.stride_x = l.stride_y = stride;
  l.OX = (X - Kx) / stride + 1;
  l.OY = (Y - Ky) / stride + 1;
  l.macs = l.OX * l.OY * K * C * Kx * Ky;
  l.act_count = X * Y * l.C_total;
  l.wgt_count = K * Kx * Ky * C;
  l.acts.assign(static_cast<size_t>(X * Y * l.C_total), 0);
  l.wgts.assign(static_cast<size_t>(K * Kx * Ky * C), 0);
  return l;
}

inline SimLayer serial_fc(int64_t C, int64_t K) {
  SimLayer l = serial_conv(1, 1, C, K, 1, 1);
  l.name = "fc";
  l.kind = LayerKind::kFC;
  return l;
}

inline int16_t& act_at(SimLayer& l, int64_t x, int64_t y, int64_t c) {
  return l.acts[static_cast<size_t>((y * l.X + x) * l.C_total + c)];
}

// Fills activations and weights with seeded values of mixed widths and a share of zeros.
inline void fill_random(SimLayer& l, uint32_t seed, bool signed_acts = false) {
  std::mt19937 rng(seed);
  auto draw = [&](bool allow_negative) -> int16_t {
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) return 0;
    const int bits = 1 + static_cast<int>(rng() % 15);
    int v = static_cast<int>(rng() % (1u << bits));
    if (allow_negative && (rng() & 1)) v = -v;
    return static_cast<int16_t>(v);
  };
  for (auto& a : l.acts) a = draw(signed_acts);
  for (auto& w : l.wgts) w = draw(true);
  l.act_signed = false;
  for (int16_t a : l.acts) l.act_signed |= a < 0;
  l.wgt_signed = false;
  for (int16_t w : l.wgts) l.wgt_signed |= w < 0;
}

inline std::unique_ptr<Design> make_design(const std::string& id, std::map<std::string, std::string> values = {}) {
  const DesignEntry* e = find_design(id);
  EXPECT_NE(e, nullptr) << id;
  if (e == nullptr) return nullptr;
  Params p(std::move(values), "test");
  std::unique_ptr<Design> d = e->make(p);
  p.finish();
  return d;
}

inline LayerStats run(const Design& d, const SimLayer& l, int threads = 1) {
  SimContext ctx;
  ctx.threads = threads;
  return d.simulate(l, ctx);
}

// Plain convolution in code units, out[k * windows + w] (the layout of recompute_outputs).
inline std::vector<int64_t> direct_outputs(const SimLayer& l) {
  std::vector<int64_t> out(static_cast<size_t>(l.K * l.windows()), 0);
  const int64_t kg = l.filters_per_group();
  for (int64_t k = 0; k < l.K; ++k) {
    const int64_t base = l.mapping == ChannelMapping::kDepthwise ? k : l.group_channel_base(k / kg);
    for (int64_t w = 0; w < l.windows(); ++w) {
      int64_t sum = 0;
      for (int64_t ky = 0; ky < l.Ky; ++ky) {
        for (int64_t kx = 0; kx < l.Kx; ++kx) {
          for (int64_t c = 0; c < l.C; ++c) {
            sum += int64_t{l.act(l.window_x(w, kx), l.window_y(w, ky), base + c)} * l.wgt(k, ky, kx, c);
          }
        }
      }
      out[static_cast<size_t>(k * l.windows() + w)] = sum;
    }
  }
  return out;
}

inline void expect_same_stats(const LayerStats& a, const LayerStats& b) {
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.macs, b.macs);
  EXPECT_EQ(a.lane_cycles_busy, b.lane_cycles_busy);
  EXPECT_EQ(a.lane_cycles_total, b.lane_cycles_total);
  EXPECT_EQ(a.ideal_bit_products, b.ideal_bit_products);
  EXPECT_EQ(a.bit_products, b.bit_products);
  EXPECT_EQ(a.adder_tree_adds, b.adder_tree_adds);
  EXPECT_EQ(a.shifter_ops, b.shifter_ops);
  EXPECT_EQ(a.accumulator_updates, b.accumulator_updates);
  EXPECT_EQ(a.act_buffer_read_bits, b.act_buffer_read_bits);
  EXPECT_EQ(a.wgt_buffer_read_bits, b.wgt_buffer_read_bits);
  EXPECT_EQ(a.offchip_act_bytes, b.offchip_act_bytes);
  EXPECT_EQ(a.offchip_wgt_bytes, b.offchip_wgt_bytes);
}

}  // namespace eff::sim::testing
