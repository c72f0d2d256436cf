// The DeftLayer node: a conv (2-D, one group) or FC layer run by the DeftNN kernels (deft/gemm.h)
// on its packed weights, after synapse vector elimination (deft/sve.h) when the layer has a plan.
// The rewrite (deft/deft_model.h) turns Conv/Gemm nodes into it; the engine runs it like any op.
//
// Inputs: X, W (constant, M x K' fp32: already reordered, truncated and compensated), bias
// (constant, M). Attributes: kind ("conv" | "fc"), format (deft/formats.h name), synapses (the K'
// kept synapse indices of the original K, in W's column order; absent: all K in order), depth
// (the original K), activation ("Relu" or absent), fp8_exp_bits / fp8_bias (kFp8), and for conv
// kernel_shape, strides, pads, dilations as ONNX Conv has them.
#pragma once

#include <cstdint>
#include <vector>

namespace eff::deft {

inline constexpr const char* kDeftLayerOp = "DeftLayer";

struct ConvShape {
  int64_t c = 0, h = 0, w = 0;  // input channels and size
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t dh = 1, dw = 1;
  int64_t oh = 0, ow = 0;
  int64_t depth() const { return c * kh * kw; }
  int64_t pixels() const { return oh * ow; }
  bool operator==(const ConvShape&) const = default;
};

// One image (C x H x W) unrolled: out[p][q] = the input value synapse `synapses[q]` (index
// (c * kh + ky) * kw + kx) meets at output pixel p, 0 in the padding. Only the pixels
// [p0, p0 + count) are written (rows of `out` from 0), each `ldo` floats apart.
void im2row(const float* x, const ConvShape& s, const std::vector<int32_t>& synapses, int64_t p0, int64_t count,
            float* out, int64_t ldo);

// The same transposed: out[q][p] (row stride `pixels()`), one contiguous run of an input row per
// output row, which is what the kernel reads with gemm_strided(row_stride 1, step_stride pixels).
void im2col(const float* x, const ConvShape& s, const std::vector<int32_t>& synapses, float* out);

}  // namespace eff::deft
