// The int8 format's own VNNI conv for layers with more than a few input channels (every int8 conv
// after the first, on a CPU with AVX512-VNNI; deft/int8_small_conv.h takes the few-channel ones).
// Before it, such a conv went through oneDNN's u8s8 conv: our quantization into its u8 NHWC, its
// int32 sums to memory, our epilogue from them. On resnet at batch 1 on two threads that came to
// about 3 us a layer besides the dot products (oneDNN's per-call work, the int32 round trip, our
// two passes), against 3.4 us of dot products on stage 2's convs.
//
// Here the input is quantized once into zero-point-padded u8 images laid out pixel by pixel, the
// channels of a pixel in groups of four (four consecutive bytes, the group past the last channel
// padded with the zero point's code). One vpdpbusd multiplies a group of one input pixel,
// broadcast to all 16 lanes, with 16 filters' four weights of that group: up to 12 output pixels of
// a row times two blocks of 16 filters are 24 independent sums in registers. The epilogue finishes
// them in the registers (int8_output, then the shortcut and the Relu, or a 2 x 2 MaxPool in
// conv_small's order) and stores fp32 straight to the output, so no int32 sum goes to memory.
//
// Padding reads the zero point's code, and sum(code * w) - zero * sum(w) is the reference's sum of
// (code - zero) * w exactly (int32: K <= 33000 keeps 255 * 127 * K below 2^31), so the output is
// int8_conv_reference's bit for bit, in any order and on any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "deft/aligned.h"
#include "deft/deft_layer.h"
#include "deft/int8_layer.h"

namespace eff::deft {

// Convs this kernel runs: dilation 1 (any stride, kernel and channel count), on a CPU with
// AVX512-VNNI (else oneDNN's u8s8 conv runs them, deft/int8_layer.h).
bool int8_direct_conv_fits(const ConvShape& s);

// Whether int8 layers should run it: a CPU with VNNI and without AMX-INT8. Where the CPU has the
// AMX tiles, oneDNN's u8s8 conv runs on them, at several times VNNI's rate (bench_peak on the Xeon
// this project had before: ~5850 GOP/s AMX-INT8), so int8 convs stay there (untested: no AMX
// machine since this kernel).
bool int8_direct_conv_preferred();

struct Int8DirectConvWeights {
  int64_t m = 0, c = 0, kh = 0, kw = 0;
  int64_t groups = 0;  // input channels in fours (c rounded up to 4, over 4)
  // [m / 16 blocks][kh][kw][groups][16 filters][4 channels] codes; channels past c, filters past m: 0.
  AlignedVector<int8_t> w;  // on 64-byte lines: one line per weight vector load
  // Per filter (whole blocks): zero * sum of its codes, taken off every sum.
  std::vector<int32_t> correction;
};

Int8DirectConvWeights int8_direct_pack(const Int8Layer& l, int64_t c, int64_t kh, int64_t kw);

// x: n images in `in` layout; y: n x M x oh x ow in `out` layout (oh / 2 x ow / 2 with `pool`);
// `residual` (or null, never with `pool`) laid out as y, added before the Relu. `scratch` holds the
// u8 images between calls. Threads split images, filter blocks and output rows.
void int8_direct_conv(const Int8Layer& l, const Int8DirectConvWeights& w, const float* x, ActLayout in, int64_t n,
                      const ConvShape& s, int64_t pad_bottom, int64_t pad_right, float* y, ActLayout out, int threads,
                      const float* residual, bool pool, std::vector<uint8_t>& scratch);

// One conv of int8_direct_convs.
struct Int8DirectConvCall {
  const Int8Layer* layer = nullptr;
  const Int8DirectConvWeights* weights = nullptr;
  ConvShape shape;
  int64_t pad_bottom = 0, pad_right = 0;
  float* y = nullptr;
  ActLayout out = ActLayout::kPlain;
  const float* residual = nullptr;
  bool pool = false;
};
constexpr int kMaxConvs = 2;

// Up to kMaxConvs convs of the same input x with the same quantization (resnet: a stage's first
// conv and its 1x1 stride-2 shortcut), each as int8_direct_conv alone computes it, bit for bit: the
// input quantized once (padded as much as any of them is), the convs' tasks split over the threads
// together. ShapeError if they read different inputs or quantize them differently.
void int8_direct_convs(const Int8DirectConvCall* convs, int count, const float* x, ActLayout in, int64_t n, int threads,
                       std::vector<uint8_t>& scratch);

}  // namespace eff::deft
