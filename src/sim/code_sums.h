// --check-values for quantized layers: the layer's sums in code units recomputed directly from its
// integer codes (a plain loop over the ONNX geometry, independent of any design's schedule). A
// design's recomputed sums must equal them exactly: integer products and sums have no rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/geometry.h"

namespace eff::sim {

// acts: one image, ONNX layout [Ni][Ny][Nx] (FC: the first Ni values); wgts: ONNX layout
// (Conv [Nf][Ni/groups][Ky][Kx]; FC [Nf][Ni], or [Ni][Nf] when fc_in_by_out). Returns
// [Nf][Oy][Ox] (FC: [Nf]); padding holds code 0 (the zero point).
std::vector<int64_t> code_sums(const LayerGeometry& g, const int16_t* acts, const std::vector<int16_t>& wgts,
                               bool fc_in_by_out);

}  // namespace eff::sim
