// An FC layer applied to a sequence (a transformer's MatMul over [batch, S, C]; every leading
// dimension but the batch counts as rows) is, for the designs, a 1x1 convolution over a 1 x S
// image: the S rows are the windows and each filter's weights are reused across them. Seed 001's
// FC layers have one row per image; they stay FC layers (one window, column rotation).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/geometry.h"

namespace eff::sim {

// Rows per image of an FC layer: its MACs over Ni x Nf (the geometry keeps the per-image MACs of
// all rows); 1 for other layers. A count that does not divide is returned as 0 (inconsistent).
int64_t fc_rows(const LayerGeometry& g);

// The geometry the designs see: for an FC layer of more than one row, the 1x1 convolution over a
// 1 x rows image (Nx = Ox = rows, Ni channels, Nf filters, the same MACs); otherwise `g`.
LayerGeometry simulated_geometry(const LayerGeometry& g);

// [rows][cols] -> [cols][rows]: one image's FC activations [rows][Ni] into the convolution's
// channel-major layout [Ni][1][rows], its outputs [rows][Nf] into [Nf][1][rows], and MatMul
// weights [Ni][Nf] into [Nf][Ni].
template <typename T>
std::vector<T> transposed(const T* m, int64_t rows, int64_t cols) {
  std::vector<T> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(c * rows + r)] = m[r * cols + c];
  }
  return out;
}

}  // namespace eff::sim
