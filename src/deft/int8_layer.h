// The int8 format's layers (Format::kInt8, deft/formats.h; beyond seed 004, whose formats are
// Deft-16/16Q and fp8): s8 weights per output channel, u8 activations with the layer's calibrated
// scale and zero point, int32 sums on the CPU's 8-bit dot product (VNNI vpdpbusd) through oneDNN's
// u8s8 conv and matmul, and an epilogue of our own (int8_output: fma(float(acc), scale_x *
// scale_w[m], bias[m]), Relu). The sums are exact, so results are the same bits on any thread count
// and equal the scalar references below.
//
// Convs read and write fp32 activations plain (NCHW) or in the engine's channel-blocked layout
// (nChw16c, engine/blocked_layout.h), so an int8 conv sits between the engine's blocked convs
// without a layout change: the input is quantized straight from the blocked fp32 into the u8 layout
// oneDNN's VNNI kernel reads, and the epilogue writes blocked fp32 from its int32 sums.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deft/deft_layer.h"
#include "deft/formats.h"

namespace eff {
struct DnnlEnv;
}

namespace eff::deft {

// A layer's int8 operands and epilogue constants.
struct Int8Layer {
  int64_t rows = 0, depth = 0;      // M, K
  std::vector<int8_t> codes;        // M x K (conv: [M][C][kh][kw])
  std::vector<float> weight_scale;  // M
  Int8Input input;
  bool relu = false;
  // Padded to whole blocks of 16 with zeros (a padded channel's output is fma(acc, 0, 0) = 0):
  std::vector<float> combined;  // input.scale * weight_scale[m]
  std::vector<float> bias;
};
// `w`: M x K row-major; `bias`: M values or null (zeros). ShapeError when K is so deep that an int32
// sum of u8 x s8 products could overflow (K > 33000).
Int8Layer make_int8_layer(const float* w, int64_t m, int64_t k, const float* bias, const Int8Input& input, bool relu);

// The scalar definitions the kernels equal bit for bit. Conv: x NCHW (n images), y NCHW; padding
// reads as the zero point (the value 0); `residual` (NCHW as y, or null): a residual block's
// shortcut, added after the fma and before the Relu (int8_output_residual). FC: x n x K, y n x M.
void int8_conv_reference(const Int8Layer& l, const float* x, int64_t n, const ConvShape& s, float* y,
                         const float* residual = nullptr);
void int8_fc_reference(const Int8Layer& l, const float* x, int64_t n, float* y);

// Activation codes by quantize_int8_input's rule, on AVX-512 where the CPU has it: `count`
// contiguous values; or `pixels` vectors of 16 (16 apart), the first `lanes` of each to
// dst + p * dst_stride.
void quantize_int8_row(const float* src, int64_t count, uint8_t* dst, float inverse, int32_t zero);
void quantize_int8_pixels(const float* src, int64_t pixels, uint8_t* dst, int64_t dst_stride, int64_t lanes,
                          float inverse, int32_t zero);
// `pixels` pixels of `lanes` (<= 16) channels of a plain (NCHW) tensor, channel k's values at
// src + k * plane, to codes at dst + p * dst_stride + k (the same rule).
void quantize_int8_planes(const float* src, int64_t plane, int64_t lanes, int64_t pixels, uint8_t* dst,
                          int64_t dst_stride, float inverse, int32_t zero);

// The CPU has AVX512 F/BW/VL, AVX512_VNNI and FMA: what our own int8 convs (deft/int8_small_conv.h,
// deft/int8_direct_conv.h) run on.
bool int8_vnni_available();

// A conv layer's codes (l.codes, [M][C][kh][kw]) handed one at a time to place(filter, channel, ky,
// kx, code), for a kernel's own weight order; returns per filter, padded to whole blocks of 16,
// zero * the sum of its codes, which those kernels take off sums of codes that hold the zero point
// (sum(code * w) - zero * sum(w) is the reference's sum((code - zero) * w) exactly).
template <class Place>
std::vector<int32_t> place_int8_conv_codes(const Int8Layer& l, int64_t c, int64_t kh, int64_t kw, Place&& place) {
  std::vector<int32_t> correction(static_cast<size_t>((l.rows + 15) / 16 * 16), 0);
  for (int64_t f = 0; f < l.rows; ++f) {
    int32_t sum = 0;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int8_t code = l.codes[static_cast<size_t>(f * l.depth + (ch * kh + ky) * kw + kx)];
          sum += code;
          place(f, ch, ky, kx, code);
        }
    correction[static_cast<size_t>(f)] = l.input.zero * sum;
  }
  return correction;
}

// The layout of a conv's fp32 activations: NCHW, or nChw16c with C padded to whole blocks.
enum class ActLayout { kPlain, kBlocked };

// An int8 conv on oneDNN, plans cached per shape and thread count; buffers kept between calls.
class Int8ConvKernel {
 public:
  Int8ConvKernel();
  ~Int8ConvKernel();
  // y: n x M x oh x ow in `out` layout (and `residual`, if given, laid out as y). On `threads` >= 2
  // each thread runs its own share (images, output rows or output channels) through one-thread
  // oneDNN plans; a layer too small to split runs oneDNN's team on the caller's OpenMP thread count.
  // Every split gives the same bits. The bottom and right padding follow from the output size `s` gives.
  // With `pool` (and no residual) a 2 x 2, stride 2 MaxPool follows in the epilogue, in conv_small's
  // order: y is then n x M x oh/2 x ow/2.
  void run(DnnlEnv& env, const Int8Layer& l, const float* x, ActLayout in, int64_t n, const ConvShape& s, float* y,
           ActLayout out, int threads, const float* residual = nullptr, bool pool = false);
  // oneDNN's implementation ("dnnl-u8s8" until the first run; "reference" when oneDNN had no fast kernel
  // for the shape and the scalar reference ran).
  std::string impl() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// An int8 FC on oneDNN's u8s8 matmul (int32 sums, the zero point as oneDNN's run-time source zero
// point when it is not 0).
class Int8FcKernel {
 public:
  Int8FcKernel();
  ~Int8FcKernel();
  void run(DnnlEnv& env, const Int8Layer& l, const float* x, int64_t n, float* y, int threads);
  std::string impl() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace eff::deft
