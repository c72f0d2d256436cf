#include "sim/fc_rows.h"

namespace eff::sim {

int64_t fc_rows(const LayerGeometry& g) {
  if (g.kind != "fc") return 1;
  const int64_t per_row = g.Ni * g.Nf;
  if (per_row <= 0 || g.macs < per_row || g.macs % per_row != 0) return 0;
  return g.macs / per_row;
}

LayerGeometry simulated_geometry(const LayerGeometry& g) {
  const int64_t rows = fc_rows(g);
  if (rows <= 1) return g;
  LayerGeometry c = g;
  c.kind = "conv";
  c.Nx = c.Ox = rows;
  c.Ny = c.Oy = 1;
  c.Kx = c.Ky = 1;
  c.stride_x = c.stride_y = c.dilation_x = c.dilation_y = 1;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = 0;
  c.groups = 1;
  return c;
}

}  // namespace eff::sim
