// The GatedConv node (seed 003): a 2-D conv whose output elements are computed in two parts, a
// dense base path for every element and a conditional path only where a gate, which compares
// the base path's result with the layer's threshold, is on.
//   channel gating: the base path sums over the first `base_channels` input channels of each
//     group (weights and bias as the graph has them: BatchNormalization already folded), the
//     conditional path over the group's other channels;
//   precision gating: the input activations as B-bit fixed-point codes, the base path over their
//     top `high_bits` bits, the conditional path over the low B - high_bits bits.
// Gated-off elements keep the base result (bias included); a fused Relu applies after. The base
// path runs on the engine's oneDNN Conv kernel. Then, from how many gates are on: few (below about
// a third), the conditional path runs only for the gated-on outputs, a dot product each over the
// conditional inputs transposed to [pixel][channel] (AVX-512, 8 outputs of a filter at a time);
// many, the whole conv runs in oneDNN (on the B-bit values for precision gating) and each output
// takes the full or the base result. Every output's sum has a fixed order in either path, so
// results do not depend on the thread count (they may differ in the last bits between the paths).
//
// Inputs: X [N, C, H, W], W (constant, [M, C / group, kh, kw] fp32), B (constant [M], optional).
// Outputs: Y [N, M, OH, OW]; optionally the number of gated-on elements per image (int64 [N]),
// which the gate search reads (gating/gate_search.h).
// Attributes: mode ("channel" | "precision"), threshold (float, -inf: every gate on) or thresholds
// (floats, one per output channel), group,
// kernel_shape, strides, pads, dilations, activation ("Relu" or absent); channel: base_channels
// (per group), grouping ("first" default | "contiguous" | "shuffle") and gate_groups (G, grouped:
// filter block k of a group reads input set k on its base path, gating/gates_file.h; the base path
// runs as one conv of group x G groups; the sparse conditional path transposes each block's own
// conditional channels); precision: bits, high_bits,
// frac_bits (code = value x 2^frac_bits), signed (0/1).
#pragma once

#include <cstdint>

namespace eff::gating {

inline constexpr const char* kGatedConvOp = "GatedConv";

// A value as a B-bit fixed-point code (round to nearest, ties away from zero; saturated), and that
// code split into its top `high_bits` bits (floor, so the low part is never negative) and the rest.
struct PrecisionSplit {
  int bits = 8, high_bits = 4, frac_bits = 0;
  bool is_signed = false;
  // Returns the high part's value; `low` gets the low part's (high + low = the B-bit value).
  float split(float x, float& low) const;
};

}  // namespace eff::gating
