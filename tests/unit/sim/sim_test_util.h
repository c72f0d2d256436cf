// Builders for simulator tests: small layers from hand-written codes, designs from the registry
// with fields overridden (ChampSim-style builder + defaults), and a plain direct convolution to
// compare scheduled recomputations with.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/geometry.h"
#include "sim/design.h"
#include "sim/sources.h"

namespace eff::sim::testing {

inline LayerGeometry conv_geo(int64_t C, int64_t H, int64_t W, int64_t F, int64_t k, int64_t stride = 1,
                              int64_t pad = 0, int64_t groups = 1, int index = 1) {
  LayerGeometry g;
  g.index = index;
  g.name = "conv" + std::to_string(index);
  g.op = "Conv";
  g.kind = "conv";
  g.Ni = C;
  g.Ny = H;
  g.Nx = W;
  g.Nf = F;
  g.Kx = g.Ky = k;
  g.stride_x = g.stride_y = stride;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = pad;
  g.groups = groups;
  g.Ox = (W + 2 * pad - k) / stride + 1;
  g.Oy = (H + 2 * pad - k) / stride + 1;
  g.macs = g.Ox * g.Oy * F * (C / groups) * k * k;
  return g;
}

inline LayerGeometry fc_geo(int64_t in, int64_t out, int index = 1) {
  LayerGeometry g;
  g.index = index;
  g.name = "fc" + std::to_string(index);
  g.op = "Gemm";
  g.kind = "fc";
  g.Ni = in;
  g.Nf = out;
  g.macs = in * out;
  return g;
}

inline int64_t weight_count(const LayerGeometry& g) {
  return g.kind == "fc" ? g.Ni * g.Nf : g.Nf * (g.Ni / g.groups) * g.Kx * g.Ky;
}

// acts in model layout [C][H][W]; empty weights -> all ones.
inline SimLayer layer_from(const LayerGeometry& g, const std::vector<int16_t>& acts, std::vector<int16_t> wgts = {},
                           int act_bits = 16, bool first_layer = false, bool space_to_depth = true,
                           const LayerTransform* t = nullptr) {
  if (wgts.empty()) wgts.assign(static_cast<size_t>(weight_count(g)), 1);
  SimLayerOptions o;
  o.first_layer = first_layer;
  o.space_to_depth = space_to_depth;
  o.transform = t;
  return make_sim_layer_from_codes(g, acts, wgts, act_bits, 16, o);
}

inline std::vector<int16_t> filled(int64_t n, int16_t v) {
  return std::vector<int16_t>(static_cast<size_t>(n), v);
}

inline std::unique_ptr<Design> make(const std::string& id, std::map<std::string, std::string> params = {}) {
  const DesignEntry* e = find_design(id);
  EXPECT_NE(e, nullptr) << id;
  Params p(std::move(params), "test");
  std::unique_ptr<Design> d = e->make(p);
  p.finish();
  return d;
}

inline uint64_t cycles(const Design& d, const SimLayer& l, int threads = 1) {
  return d.simulate(l, SimContext{threads}).cycles;
}

// Direct convolution of the model-layout codes (the reference the scheduled walks must match).
inline std::vector<int64_t> direct_conv(const LayerGeometry& g, const std::vector<int16_t>& a,
                                        const std::vector<int16_t>& w) {
  const int64_t cg = g.Ni / g.groups, kg = g.Nf / g.groups, W = g.Ox * g.Oy;
  std::vector<int64_t> out(static_cast<size_t>(g.Nf * W), 0);
  for (int64_t k = 0; k < g.Nf; ++k) {
    const int64_t grp = k / kg;
    for (int64_t oy = 0; oy < g.Oy; ++oy) {
      for (int64_t ox = 0; ox < g.Ox; ++ox) {
        int64_t acc = 0;
        for (int64_t c = 0; c < cg; ++c) {
          for (int64_t ky = 0; ky < g.Ky; ++ky) {
            for (int64_t kx = 0; kx < g.Kx; ++kx) {
              const int64_t y = oy * g.stride_y + ky - g.pad_top, x = ox * g.stride_x + kx - g.pad_left;
              if (y < 0 || x < 0 || y >= g.Ny || x >= g.Nx) continue;
              acc += int64_t{a[((grp * cg + c) * g.Ny + y) * g.Nx + x]} * w[((k * cg + c) * g.Ky + ky) * g.Kx + kx];
            }
          }
        }
        out[k * W + oy * g.Ox + ox] = acc;
      }
    }
  }
  return out;
}

// Deterministic small codes in [lo, hi] (a tiny LCG; tests must not depend on <random>'s
// implementation-defined distributions).
inline std::vector<int16_t> pseudo_random(int64_t n, int lo, int hi, uint32_t seed) {
  std::vector<int16_t> v(static_cast<size_t>(n));
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<int16_t>(lo + static_cast<int>((s >> 8) % static_cast<uint32_t>(hi - lo + 1)));
  }
  return v;
}

}  // namespace eff::sim::testing
