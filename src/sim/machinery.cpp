#include "sim/machinery.h"

#include <algorithm>

namespace eff::sim {

Grid read_grid(Params& p, const Grid& d, const std::string& source, bool columns) {
  Grid g;
  g.tiles = static_cast<int>(p.integer("tiles", d.tiles, 1, 1024, "processing tiles", source));
  g.rows =
      static_cast<int>(p.integer("rows", d.rows, 1, 1024, "filters per tile (inner-product units / SIP rows)", source));
  g.lanes = static_cast<int>(
      p.integer("lanes", d.lanes, 1, 1024, "activation-weight pairs per filter per step (products/filter)", source));
  g.columns = columns ? static_cast<int>(p.integer("columns", d.columns, 1, 1024,
                                                   "windows processed concurrently (SIP columns)", source))
                      : 1;
  return g;
}

BrickOr brick_or(const SimLayer& l, const WalkShape& ws, int lanes, int threads) {
  BrickOr b;
  const bool dw = l.mapping == ChannelMapping::kDepthwise;
  const int64_t width = dw ? ws.lanes_used : lanes;
  const int64_t per_group = dw ? (l.groups + width - 1) / width : ws.chunks;
  const int64_t groups = dw ? 1 : l.groups;
  const int64_t span = dw ? l.groups : l.C;
  b.chunks_total = per_group * groups;
  b.orv.assign(static_cast<size_t>(l.X * l.Y * b.chunks_total), 0);
#pragma omp parallel for schedule(static) num_threads(threads) if (l.Y > 1 && threads > 1)
  for (int64_t y = 0; y < l.Y; ++y) {
    for (int64_t x = 0; x < l.X; ++x) {
      const int16_t* a = l.act_ptr(x, y);
      uint16_t* out = b.orv.data() + (y * l.X + x) * b.chunks_total;
      for (int64_t g = 0; g < groups; ++g) {
        const int16_t* ag = a + (dw ? 0 : l.group_channel_base(g));
        for (int64_t j = 0; j < per_group; ++j) {
          const int64_t lo = j * width, hi = std::min(span, lo + width);
          uint16_t v = 0;
          for (int64_t c = lo; c < hi; ++c) v |= serial_pattern(ag[c]);
          out[g * per_group + j] = v;
        }
      }
    }
  }
  return b;
}

namespace {
std::vector<int64_t> coverage(int64_t n, int64_t outs, int64_t k, int64_t stride, int64_t dil) {
  std::vector<int64_t> cov(static_cast<size_t>(n), 0);
  for (int64_t o = 0; o < outs; ++o) {
    for (int64_t i = 0; i < k; ++i) {
      const int64_t p = o * stride + i * dil;
      if (p < n) ++cov[p];
    }
  }
  return cov;
}
}  // namespace

std::vector<int64_t> phase_coverage(int64_t n, int64_t outs, int64_t k_folded, int64_t k_orig, int64_t s) {
  std::vector<int64_t> cov(static_cast<size_t>(s * n), 0);
  for (int64_t p = 0; p < s; ++p) {
    for (int64_t o = 0; o < outs; ++o) {
      for (int64_t i = 0; i < k_folded; ++i) {
        if (i * s + p < k_orig && o + i < n) ++cov[p * n + o + i];
      }
    }
  }
  return cov;
}

std::vector<int64_t> coverage_x(const SimLayer& l) {
  return coverage(l.X, l.OX, l.Kx, l.stride_x, l.dilation_x);
}
std::vector<int64_t> coverage_y(const SimLayer& l) {
  return coverage(l.Y, l.OY, l.Ky, l.stride_y, l.dilation_y);
}

void recompute_walk(const SimLayer& l, const Grid& grid, std::vector<int64_t>& out,
                    const std::function<int64_t(int16_t, int16_t)>& product) {
  const WalkShape ws = walk_shape(l, grid);
  const int64_t W = l.windows();
  out.assign(static_cast<size_t>(l.K * W), 0);
  const int64_t kg = l.filters_per_group();
  for (int64_t g = 0; g < ws.group_passes; ++g) {
    for (int64_t fs = 0; fs < ws.filter_sets; ++fs) {
      for (int t = 0; t < grid.tiles; ++t) {
        for (int r = 0; r < grid.rows; ++r) {
          // Rows without a filter in this pass do no work: skip them before walking windows.
          const int64_t k_in_group = (fs * grid.tiles + t) * grid.rows + r;
          if (l.mapping == ChannelMapping::kDepthwise) {
            if ((fs * grid.tiles + t) * ws.lanes_used + r >= l.groups || r >= ws.lanes_used) continue;
          } else if (k_in_group >= kg) {
            continue;
          }
          for (int64_t w = 0; w < W; ++w) {
            for (int64_t st = 0; st < ws.steps; ++st) {
              const StepBrick b = step_brick(l, grid, ws, g, fs, t, w, st);
              const int64_t pos = st / ws.chunks;
              const int64_t ky = pos / l.Kx, kx = pos % l.Kx;
              if (l.mapping == ChannelMapping::kDepthwise) {
                if (r >= b.count) continue;
                const int64_t k = b.first + r;  // lane r feeds row r: filter k reads channel k
                out[k * W + w] += product(l.act(b.x, b.y, k), l.wgt(k, ky, kx, 0));
                continue;
              }
              const int64_t k = g * kg + k_in_group;
              const int64_t c0 = b.first - l.group_channel_base(g);
              const int16_t* a = l.act_ptr(b.x, b.y) + b.first;
              const int16_t* wk = &l.wgts[((k * l.Ky + ky) * l.Kx + kx) * l.C + c0];
              int64_t acc = 0;
              for (int lane = 0; lane < b.count; ++lane) acc += product(a[lane], wk[lane]);
              out[k * W + w] += acc;
            }
          }
        }
      }
    }
  }
}

}  // namespace eff::sim
