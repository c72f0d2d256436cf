// Direct convolution for layers with few input channels (the 1-channel first layers of the shipped
// models, lenet5's 6-channel conv2): their im2col GEMM is a few microseconds of copying around a
// small product, and on the tile unit they fill 1-6 of a tile's 32 channel rows. Here every output
// is one fused multiply-add chain over the layer's kept synapses, vectorised over 16 output pixels
// (or, with a fused pool and 16 or more filters on AVX-512, over 16 filters).
//
// As in the AMX conv, the input is copied once into zero-padded planes and output pixels are
// numbered along the padded width, q = oy * Wp + ox: for a stride-1 conv the input a synapse
// (c, ky, kx) reads for 16 consecutive q is then 16 consecutive floats of channel c's plane. The
// columns ox >= OW this produces are dropped when the results are stored (compressed per vector).
//
// Each output is the same sequence of operations as gemm_reference() on the layer's im2row rows:
// acc = 0, then for each kept synapse in order acc = fma(x, decoded w, acc), then bias and ReLU;
// for kBf16Dot the operands are rounded (and denormals read as zero) as vdpbf16ps reads them and the
// pairs are summed odd element first, as bf16_dot_step does. So the kernel equals the family's
// scalar reference bit for bit (kBf16Dot: except where a partial sum is a denormal, which the bf16
// unit flushes), on any thread count. The weights are decoded to fp32 once (a few KiB): for these
// layers the format fixes the values, not the storage.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "deft/deft_layer.h"
#include "deft/gemm.h"

namespace eff::deft {

// Convs this kernel runs: stride 1 (any padding and dilation), at most kSmallConvChannels input
// channels.
inline constexpr int64_t kSmallConvChannels = 8;
bool small_conv_fits(const ConvShape& s);

struct SmallConvWeights {
  int64_t m = 0;      // filters
  int64_t steps = 0;  // entries of each output's chain (kept synapses; kBf16Dot: padded to pairs)
  bool bf16 = false;  // activations rounded to bf16 (kBf16Dot)
  // Per step: the synapse read (index into the kept synapses' (c, ky, kx)), or -1 for the zero
  // half of an odd K's last bf16 pair (an add of +0, as the reference's zero product).
  std::vector<int32_t> synapse;
  std::vector<int32_t> c, ky, kx;  // of each kept synapse
  // [m / 8 blocks][steps][8] decoded weights (filters past m: 0), the kernel's broadcast order.
  std::vector<float> w;
  // The same as [m / 16 blocks][steps][16]: for 16 or more filters and a fused pool the AVX-512
  // kernel puts filters in the lanes instead (no lane idles on a short row) and broadcasts the input.
  std::vector<float> w16;
  uint64_t id = 0;  // distinct per small_pack_conv() call: the key of a scratch's cached geometry
};

// From the layer's packed weights (their decoded values) whose column q is synapse synapses[q]
// ((c * kh + ky) * kw + kx).
SmallConvWeights small_pack_conv(const PackedWeights& p, const std::vector<int32_t>& synapses, int64_t kh, int64_t kw);

// A layer's scratch: the input planes, and the plane geometry of the last shape run (offsets per
// synapse, segments per output row: computed once, not on every run).
struct SmallConvGeometry;
struct SmallConvScratch {
  std::vector<float> planes;
  std::shared_ptr<const SmallConvGeometry> geometry;
  struct Key {  // what the geometry is for
    ConvShape shape;
    int64_t pad_bottom = 0, pad_right = 0;
    bool pool = false;
    uint64_t weights = 0;  // SmallConvWeights::id
    bool operator==(const Key&) const = default;
  } key;
};

// x is N x C x H x W, y is N x M x OH x OW (s.oh, s.ow set; pad_bottom / pad_right complete the
// padding). `isa` kAvx512 (where best_isa() has it) or kPortable. e.residual (N x M x OH x OW, or
// null) is added after the bias and before the ReLU, as the AMX conv does; not with `pool`.
// `pool`: a 2 x 2, stride 2 MaxPool (no padding, floor) fused after the epilogue: y is then
// N x M x OH/2 x OW/2, each the max of its window's outputs (rows first, then columns; x > y ? x : y),
// and the conv's own output is never stored.
void small_conv(const SmallConvWeights& w, const float* x, int64_t images, const ConvShape& s, int64_t pad_bottom,
                int64_t pad_right, const Epilogue& e, float* y, SmallConvScratch& scratch, Isa isa, int threads = 1,
                bool pool = false);

}  // namespace eff::deft
