// The bf16dot GEMM on the AMX tile unit (TDPBF16PS): FC / MatMul / Gemm layers and the im2col convs
// of the `bf16dot` format. It reads the very packed panels the rest of the family reads (no second
// copy of the weights): a bf16dot panel step is 32 weight rows of one bf16 pair (128 bytes), so 16
// consecutive steps of 16 lanes are exactly a B tile (16 pair rows x 16 columns, row stride 128).
// The activations are the same bf16 pairs as the vdpbf16ps kernel's, laid out with rows padded to
// 16 and pairs padded to a multiple of 16 (zeros) so every A tile is a plain load. A task is one
// panel (32 outputs) by up to 32 activation rows: 2 x 2 tiles of 16 x 16 fp32 accumulated over the
// whole of K, then bias and ReLU on the way out. Every output is one fixed sequence of tile products
// whatever the thread count; the tile unit's own summation order makes it differ from the vdpbf16ps
// kernel within bf16's bound (tests/unit/deft/test_deft_gemm_amx.cpp).
//
// Compiled for AMX and AVX-512 whatever the build's -march (target pragmas, as deft/gemm_avx512.cpp
// does) and only called after amx_available() (deft/conv_amx.h) said yes.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "deft/conv_amx.h"
#include "deft/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define EFF_DEFT_AMX_GEMM 1
#endif

#if EFF_DEFT_AMX_GEMM

#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16,fma"
#include "deft/target_push.h"
// The family's backend and epilogue, inside the target region so their functions build for it.
#include "deft/gemm_amx_tiles.h"
#include "deft/gemm_body.h"
#include "deft/gemm_vec_avx512.h"

namespace eff::deft {

// One panel by rows [j0, j1) of at most 32 (the second row tile only when t.row_tile is 32).
void amx_gemm_block(const AmxGemmTask& o, int64_t panel, int64_t j0, int64_t j1) {
  const PackedWeights& w = *o.w;
  const bool two = o.row_tile == 32;
  const int64_t full = w.steps / 16, tail = w.steps % 16;
  const uint8_t* wp = w.panel(panel);
  // The K tail's B tile: the panel's last steps, then zero pairs (the padded activations are zero
  // there too), so no tile reads past the panel.
  alignas(64) uint8_t tail_tile[16 * 128];
  if (tail) {
    std::memcpy(tail_tile, wp + full * 16 * 128, static_cast<size_t>(tail * 128));
    std::memset(tail_tile + tail * 128, 0, static_cast<size_t>((16 - tail) * 128));
  }
  const uint32_t* a0 = o.a + j0 * o.a_stride;
  const uint32_t* a1 = a0 + 16 * o.a_stride;
  const int64_t as = o.a_stride * 4;
  _tile_zero(0);
  _tile_zero(1);
  if (two) {
    _tile_zero(2);
    _tile_zero(3);
  }
  const int64_t chunks = full + (tail ? 1 : 0);
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const uint8_t* b = ch < full ? wp + ch * 16 * 128 : tail_tile;
    _tile_loadd(4, a0 + ch * 16, as);
    _tile_loadd(6, b, 128);
    _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(7, b + 64, 128);
    _tile_dpbf16ps(1, 4, 7);
    if (two) {
      _tile_loadd(5, a1 + ch * 16, as);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  alignas(64) float out[32][32];
  _tile_stored(0, &out[0][0], 128);
  _tile_stored(1, &out[0][16], 128);
  if (two) {
    _tile_stored(2, &out[16][0], 128);
    _tile_stored(3, &out[16][16], 128);
  }
  // The family's epilogue (deft/gemm_body.h); the bias is added as 0 where there is none.
  const body::Avx512 v;
  const int64_t i0 = panel * kPanelLanes, lanes = std::min<int64_t>(kPanelLanes, w.rows - i0);
  const int64_t rows = j1 - j0;
  for (int half = 0; half < 2 && half * 16 < lanes; ++half) {
    const __mmask16 mask = body::Avx512::prefix(lanes - half * 16);
    const __m512 bias = o.e.bias ? v.load(o.e.bias + i0 + half * 16, mask) : v.zero();
    for (int64_t r = 0; r < rows; ++r)
      body::finish_store(v, o.c + (j0 + r) * o.ldc + i0 + half * 16, v.load(&out[r][half * 16]), mask, &bias, nullptr,
                         o.e.relu);
  }
}

namespace {

// A contiguous row of k activations as bf16 pairs, 32 values per vcvtne2ps2bf16 (nearest even, as
// pack_bf16_pairs rounds; the tile unit reads bf16 denormals as 0 either way): consecutive bf16 in
// memory are the pairs (s[2p] low, s[2p+1] high). Returns the pairs written.
int64_t pack_row(const float* s, int64_t k, uint32_t* out) {
  for (int64_t x = 0; x < k; x += 32) {
    const int64_t n = std::min<int64_t>(32, k - x);
    const __mmask16 lo = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
    const __mmask16 hi = n >= 32 ? __mmask16(0xFFFF) : n > 16 ? __mmask16((1u << (n - 16)) - 1) : __mmask16(0);
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, s + x + 16), _mm512_maskz_loadu_ps(lo, s + x));
    const int64_t pairs = (n + 1) / 2;
    _mm512_mask_storeu_epi32(out + x / 2, pairs >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << pairs) - 1), (__m512i)v);
  }
  return (k + 1) / 2;
}

}  // namespace

AmxGemmTask amx_gemm_operands(const PackedWeights& w, const float* s, int64_t j, int64_t row_stride,
                              int64_t step_stride, float* c, int64_t ldc, const Epilogue& e) {
  if (w.format != Format::kBf16Dot) throw ShapeError("deft: the AMX GEMM runs bf16dot weights only");
  // Rows padded to the row tiles, pairs to whole chunks, zeros in the padding.
  const int64_t row_tiles = j > 16 ? 32 : 16;
  const int64_t j_pad = round_up(j, row_tiles), a_stride = round_up(w.steps, 16);
  thread_local AlignedVector<uint32_t> pairs;
  pairs.resize(static_cast<size_t>(j_pad * a_stride));
  for (int64_t r = 0; r < j_pad; ++r) {
    uint32_t* row = pairs.data() + r * a_stride;
    int64_t done = 0;
    if (r >= j) {
      done = 0;
    } else if (step_stride == 1) {
      done = pack_row(s + r * row_stride, w.depth, row);
    } else {
      pack_bf16_pairs(s + r * row_stride, 1, w.depth, row_stride, step_stride, row);
      done = w.steps;
    }
    std::fill(row + done, row + a_stride, 0u);
  }
  return {&w, pairs.data(), a_stride, j, row_tiles, c, ldc, e};
}

// Functions of their own, not inline in the team's region: clang 14 outlines OpenMP regions into
// functions without the pragma's target attribute and cannot select tile instructions there.
void amx_gemm_begin(const AmxGemmTask& t) {
  body::configure_tiles(static_cast<int>(std::min<int64_t>(t.j, 16)));
}

void amx_gemm_end() {
  body::release_tiles();
}

}  // namespace eff::deft

#include "deft/target_pop.h"

#else

namespace eff::deft {

AmxGemmTask amx_gemm_operands(const PackedWeights&, const float*, int64_t, int64_t, int64_t, float*, int64_t,
                              const Epilogue&) {
  throw ShapeError("deft: AMX is not available on this build");
}
void amx_gemm_begin(const AmxGemmTask&) {}
void amx_gemm_block(const AmxGemmTask&, int64_t, int64_t, int64_t) {}
void amx_gemm_end() {}

}  // namespace eff::deft

#endif
