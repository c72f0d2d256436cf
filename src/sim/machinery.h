// Shared pieces of the designs: the grid parameters, value encodings as bit-serial units see them,
// per-position brick summaries (computed once per layer, reused by every window and filter set),
// coverage counts for potentials, and the event counts of the two datapath styles.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/bits.h"
#include "sim/design.h"
#include "sim/layer.h"
#include "sim/params.h"

namespace eff::sim {

// Declares tiles, rows, lanes and (with `columns`) columns with the given defaults.
Grid read_grid(Params& p, const Grid& defaults, const std::string& source, bool columns);

// The pattern whose msb/lsb give the serial width of an activation code (spec §2.0 item 5, G3
// rule): non-negative values as they are, negative ones one's-complemented (|v| - 1), so that
// msb + 1 (+1 for the sign when the tensor is signed) is the shortest two's-complement width.
inline uint16_t serial_pattern(int16_t code) {
  return static_cast<uint16_t>(code < 0 ? ~code : code);
}
// Width of a group whose OR of serial patterns is `orv` (all lanes of all its values): the group
// shares one start and (with trimming) one stop bit. A zero group costs 1 bit (+1 when signed).
inline int group_width(uint16_t orv, bool tensor_signed, bool trim_trailing) {
  const int w = trim_trailing ? bits::width_trimmed(orv) : bits::width(orv);
  return w + (tensor_signed ? 1 : 0);
}

// Per stored position (x, y) and channel chunk: the OR of the serial patterns of the chunk's
// channels. Dense layers: chunks of `lanes` channels per group, index [(y*X + x)*chunks_total +
// g*chunks + j]. Depthwise: chunks of `lanes_used` channels. Computed once per layer.
struct BrickOr {
  int64_t chunks_total = 0;
  std::vector<uint16_t> orv;
  uint16_t at(int64_t x, int64_t y, int64_t X, int64_t chunk) const { return orv[(y * X + x) * chunks_total + chunk]; }
};
BrickOr brick_or(const SimLayer& l, const WalkShape& ws, int lanes, int threads);

// How many (window, kernel offset) pairs read padded input column x (and likewise row y): the
// potentials sum a per-value cost weighted by cov_x[x] * cov_y[y] * filters-per-group.
std::vector<int64_t> coverage_x(const SimLayer& l);
std::vector<int64_t> coverage_y(const SimLayer& l);
// Sum over the layer's MACs (padding positions included, as in `macs`) of cost(activation code).
// Space-to-depth layers: coverage per phase (cov[p * n + i]), counting only the folded kernel taps
// that exist in the original kernel.
std::vector<int64_t> phase_coverage(int64_t n, int64_t outs, int64_t k_folded, int64_t k_orig, int64_t s);

template <class Cost>
uint64_t sum_over_macs(const SimLayer& l, Cost cost) {
  if (l.space_to_depth) {
    const int64_t s = l.s2d_stride;
    const std::vector<int64_t> cx = phase_coverage(l.X, l.OX, l.Kx, l.orig_Kx, s);
    const std::vector<int64_t> cy = phase_coverage(l.Y, l.OY, l.Ky, l.orig_Ky, s);
    uint64_t total = 0;
    for (int64_t y = 0; y < l.Y; ++y) {
      for (int64_t x = 0; x < l.X; ++x) {
        const int16_t* a = l.act_ptr(x, y);
        for (int64_t c = 0; c < l.C_total; ++c) {
          const int64_t py = c / (3 * s), px = (c / 3) % s;
          const int64_t cov = cx[px * l.X + x] * cy[py * l.Y + y];
          if (cov != 0) total += static_cast<uint64_t>(cost(a[c])) * static_cast<uint64_t>(cov);
        }
      }
    }
    return total * static_cast<uint64_t>(l.filters_per_group());
  }
  const std::vector<int64_t> cx = coverage_x(l), cy = coverage_y(l);
  uint64_t total = 0;
  for (int64_t y = 0; y < l.Y; ++y) {
    if (cy[y] == 0) continue;
    for (int64_t x = 0; x < l.X; ++x) {
      const int64_t cov = cx[x] * cy[y];
      if (cov == 0) continue;
      const int16_t* a = l.act_ptr(x, y);
      uint64_t s = 0;
      for (int64_t c = 0; c < l.C_total; ++c) s += static_cast<uint64_t>(cost(a[c]));
      total += s * static_cast<uint64_t>(cov);
    }
  }
  return total * static_cast<uint64_t>(l.filters_per_group());
}

// --check-values: walks the schedule (filter set, tile, row, window, step, lane) as the step walk
// maps it and sums product(a, w) into out[k * windows + w], so a wrong mapping of lanes to
// channels or steps to kernel offsets shows up as a wrong output. `product` is how the design
// multiplies (bit-parallel, bit-serial, ...).
void recompute_walk(const SimLayer& l, const Grid& g, std::vector<int64_t>& out,
                    const std::function<int64_t(int16_t, int16_t)>& product);

// Off-chip traffic at a precision: ceil(count * bits / 8).
inline uint64_t bytes_at(int64_t count, int bits) {
  return (static_cast<uint64_t>(count) * bits + 7) / 8;
}

}  // namespace eff::sim
