#include "sim/code_sums.h"

#include <algorithm>

namespace eff::sim {

std::vector<int64_t> code_sums(const LayerGeometry& g, const int16_t* acts, const std::vector<int16_t>& wgts,
                               bool fc_in_by_out) {
  if (g.kind == "fc") {
    std::vector<int64_t> sums(static_cast<size_t>(g.Nf), 0);
    for (int64_t k = 0; k < g.Nf; ++k) {
      for (int64_t i = 0; i < g.Ni; ++i) {
        sums[k] += int64_t{acts[i]} * wgts[fc_in_by_out ? i * g.Nf + k : k * g.Ni + i];
      }
    }
    return sums;
  }
  const int64_t groups = std::max<int64_t>(1, g.groups);
  const int64_t Cg = g.Ni / groups, Kg = g.Nf / groups;
  std::vector<int64_t> sums(static_cast<size_t>(g.Nf * g.Oy * g.Ox), 0);
  for (int64_t k = 0; k < g.Nf; ++k) {
    const int64_t c0 = (k / Kg) * Cg;
    for (int64_t oy = 0; oy < g.Oy; ++oy) {
      for (int64_t ox = 0; ox < g.Ox; ++ox) {
        int64_t s = 0;
        for (int64_t c = 0; c < Cg; ++c) {
          for (int64_t ky = 0; ky < g.Ky; ++ky) {
            const int64_t iy = oy * g.stride_y - g.pad_top + ky * g.dilation_y;
            if (iy < 0 || iy >= g.Ny) continue;
            for (int64_t kx = 0; kx < g.Kx; ++kx) {
              const int64_t ix = ox * g.stride_x - g.pad_left + kx * g.dilation_x;
              if (ix < 0 || ix >= g.Nx) continue;
              s += int64_t{acts[((c0 + c) * g.Ny + iy) * g.Nx + ix]} * wgts[((k * Cg + c) * g.Ky + ky) * g.Kx + kx];
            }
          }
        }
        sums[(k * g.Oy + oy) * g.Ox + ox] = s;
      }
    }
  }
  return sums;
}

}  // namespace eff::sim
