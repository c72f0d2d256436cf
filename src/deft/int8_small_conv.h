// The int8 format's direct conv for layers with few input channels (lenet5's conv1 and conv2, the
// 1-channel first convs of the shipped models). oneDNN's u8s8 conv pads such layers' channels to
// whole groups and splits them poorly: lenet5's conv2 (6 -> 16 channels, 5 x 5) took 0.10 ms at
// batch 32 on one thread there, against 0.078 for the fp32 direct conv (deft/conv_small.h) already
// at this CPU's fp32 FMA peak. Here the VNNI dot product (vpdpbusd: four u8 x s8 products summed
// into each int32 lane) takes four taps of a kernel row at once: the input is quantized once into
// zero-point-padded u8 planes, so the four taps (ky, 4q .. 4q + 3) of one output pixel are four
// consecutive bytes, broadcast to all 16 lanes; the lanes hold 16 filters. Padding reads the zero
// point's code, and sum(code * w) - zero * sum(w) is the reference's sum of (code - zero) * w
// exactly (int32, no overflow at these depths), so the output is int8_conv_reference's bit for bit,
// in any order and on any thread count. A following 2 x 2 MaxPool fuses into the epilogue, in
// conv_small's order (rows first, then the column pair).
#pragma once

#include <cstdint>
#include <vector>

#include "deft/aligned.h"
#include "deft/deft_layer.h"
#include "deft/int8_layer.h"

namespace eff::deft {

// Convs this kernel runs: stride 1, dilation 1, at most kSmallConvChannels input channels.
bool int8_small_conv_fits(const ConvShape& s);

struct Int8SmallConvWeights {
  int64_t m = 0, c = 0, kh = 0, kw = 0;
  int64_t quads = 0;  // groups of four taps per kernel row (kw rounded up to 4)
  // [m / 16 blocks][c][kh][quads][16 filters][4 taps] codes; taps past kw and filters past m: 0.
  AlignedVector<int8_t> w;  // on 64-byte lines: one line per weight vector load
  // Per filter (whole blocks): zero * sum of its codes, taken off every sum.
  std::vector<int32_t> correction;
};

Int8SmallConvWeights int8_small_pack(const Int8Layer& l, int64_t c, int64_t kh, int64_t kw);

// x: n images in `in` layout; y: n x M x oh x ow in `out` layout (oh / 2 x ow / 2 with `pool`).
// `scratch` holds the u8 planes between calls. Threads split images and output rows. `vnni` false:
// the scalar loops even where the CPU has VNNI (tests).
void int8_small_conv(const Int8Layer& l, const Int8SmallConvWeights& w, const float* x, ActLayout in, int64_t n,
                     const ConvShape& s, int64_t pad_bottom, int64_t pad_right, float* y, ActLayout out, int threads,
                     bool pool, std::vector<uint8_t>& scratch, bool vnni = true);

// Whether int8_small_conv runs its VNNI kernel here (else its scalar loops: the same bits, slowly).
bool int8_small_conv_has_vnni();

}  // namespace eff::deft
