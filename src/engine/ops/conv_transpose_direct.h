// ConvTranspose whose kernel equals its stride (2x2 stride 2 upsampling in DBNet and U-Net heads):
// each input pixel writes its own KH x KW output patch, so there is no overlap to accumulate and
// the layer is a plain product per pixel. oneDNN's deconvolution pads the channels to blocks of
// 16 (sixteen times the work for one output channel) and needs reorders around it; this loop
// takes a few percent of that time.
#pragma once

#include <cstdint>

#include "engine/ops/dnnl_common.h"

namespace eff::ops {

struct PatchGeometry {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t m = 0, kh = 0, kw = 0;       // output channels, kernel (= stride)
};

// x: [N, C, H, W]; w: [C, M, KH, KW] (ONNX ConvTranspose, group 1); bias: [M] or null;
// y: [N, M, H * KH, W * KW]. Every output sums over C in the same order for any thread count.
// `act`: an activation fused into the layer, applied to each output.
void conv_transpose_patches(const float* x, const float* w, const float* bias, float* y, const PatchGeometry& g,
                            const FusedActivation& act);

// The same on channel-blocked activations (x: [N, ceil(C/16), H, W, 16], y: [N, ceil(M/16), OH, OW,
// 16], graph/passes.h assign_blocked_layouts): 16 output channels per vector, each a sum over C in
// the same order as above plus the bias, so both layouts give the same bits; padded output
// channels are zero.
void conv_transpose_patches_blocked(const float* x, const float* w, const float* bias, float* y, const PatchGeometry& g,
                                    const FusedActivation& act);

}  // namespace eff::ops
