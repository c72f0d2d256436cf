// Direct convolution for Deft-16 weights on the CPU's bf16 tile unit (AMX-BF16, TDPBF16PS) as the
// "fission unit" of seed 004: the weights are stored as their upper 16 bits (bf16 bits, exactly
// Deft-16) and the activations are rounded to bf16 when the input is laid out for the tiles, so
// activations carry bf16 rounding too (one more error source next to the weights'; the accuracy
// loop of `effectual optimize` measures it). Products are accumulated in fp32 by the tile unit.
//
// No im2col: the input is copied once into channel-pair planes of the zero-padded image
// (plane[c/2][y][x] holds channels c and c+1 as one bf16 pair), and output pixels are numbered
// along the padded width, q = oy * Wp + ox. For a stride-1 conv, the input a tap (ky, kx) reads for
// 16 consecutive q is then 16 consecutive pairs of the plane: one tile row, no gather. The columns
// ox >= OW this produces are discarded when the epilogue (bias, ReLU) copies the result out.
// Stride s > 1 splits each plane into s x s phase planes (pixels by their residues mod s), inside
// which every tap reads at stride 1 again, numbered along the phase width ceil(Wp / s).
// A batch is one call: threads split (filter block, image, pixel blocks) tasks, filter blocks
// outermost so each thread reuses its filters' weights across the images.
// A tile step multiplies 16 filters x 32 channels of one tap (weights, row-major bf16) by
// 16 channel pairs x 16 pixels (planes), 2 x 2 tiles of 16 x 16 outputs per block.
//
// Every output is one fixed sequence of tile dot products over (tap, channel block) whatever the
// thread count, so results are the same on 1 and 2 threads; they are not bit-equal to the
// vdpbf16ps path (the tile unit's internal summation order differs), only within bf16's bound.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "deft/aligned.h"
#include "deft/deft_layer.h"
#include "deft/gemm.h"

namespace eff::deft {

// The CPU has AMX-TILE, AMX-BF16 and AVX512-BF16, and Linux granted this process the tile data
// state (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), asked once). False otherwise: the
// callers then use the vdpbf16ps / portable kernels of deft/gemm.h.
bool amx_available();

struct AmxConvWeights {
  int64_t m = 0, m_pad = 0;  // filters, padded to 32
  int64_t c = 0, c_pad = 0;  // input channels, padded to 32
  int64_t kh = 1, kw = 1;
  // bf16 (Deft-16) bits, one contiguous 16 x 32 tile per (16 filters, 32 channels, tap):
  // [m_pad / 16][c_pad / 32][kh * kw][16][32], in the order the kernel reads them (dropped
  // synapses are 0). Contiguous runs matter: rows of a row-major [m][taps][c] matrix, or tiles
  // strided by a power of two, map to a fraction of L1's sets and evict each other.
  AlignedVector<uint16_t> w;
  int64_t row() const { return kh * kw * c_pad; }
  int64_t tile_offset(int64_t f0, int64_t tap, int64_t cblock) const {
    return ((f0 / 16 * (c_pad / 32) + cblock) * kh * kw + tap) * 512;
  }
};

// From the DeftLayer's M x K' fp32 weights whose column q is synapse synapses[q] ((c * kh + ky) *
// kw + kx) of a conv with `c` input channels; synapses SVE dropped get weight 0 (the direct conv
// reads every tap, so SVE saves no time here, only the fold's compensation is kept).
AmxConvWeights amx_pack_conv(const float* w, int64_t m, const std::vector<int32_t>& synapses, int64_t c, int64_t kh,
                             int64_t kw);

// Convs the AMX kernel runs: one group, any stride, padding and dilation.
bool amx_conv_fits(const ConvShape& s);

struct AmxConvScratch {
  AlignedVector<uint32_t> planes;       // [image][c_pad / 2] channel-pair (phase) planes of the padded input
  AlignedVector<float> acc;             // per thread: one task's fp32 sums (32 filters x its pixels)
  std::array<int64_t, 7> planes_key{};  // the layout the zero borders were laid for
};

// `images` images: x is N x C x H x W, y is N x M x OH x OW (s.oh, s.ow set; pad_bottom/pad_right
// complete the padding). Requires amx_available() and amx_conv_fits(s). threads <= 0: OpenMP's
// default.
void amx_conv(const AmxConvWeights& w, const float* x, int64_t images, const ConvShape& s, int64_t pad_bottom,
              int64_t pad_right, const Epilogue& e, float* y, AmxConvScratch& scratch, int threads = 1);

// The 64-byte operand of LDTILECFG (palette 1): rows and bytes per row of each of the 16 tiles.
// Shared by the AMX conv, the AMX GEMM and the peak benchmark.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace eff::deft
