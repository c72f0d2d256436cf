// The one template behind every kernel of the family (included by gemm_portable.cpp and
// gemm_avx512.cpp, each with its vector backend V: deft/gemm_vec_portable.h, deft/gemm_vec_avx512.h).
// A tile is JR activation rows by one panel of 32 weight rows: 2*JR accumulators stay in registers
// for the whole of K, the packed weights are unpacked (fission) once per k step and used by JR
// multiply-adds. The epilogue at the end of this file is the family's one way out of an accumulator
// (bias, residual, ReLU, masked store): the AMX kernels and the small-channel conv use it too.
//
// V provides: F (16 floats), U (16 x 32 bits), Mask (16 lanes), prefix(n), zero(), bcast(float),
// bcast32(uint32_t), decode<FORMAT>(step pointer, w0, w1, ctx) for lanes 0-15 and 16-31, fma(a, b,
// acc), dot(acc, u, v) (vdpbf16ps), add, max, max_lane_pairs, load_u(pointer), load(pointer[, mask]),
// store(dst, v, mask) and prefetch(pointer).
#pragma once

#include <cstdint>

#include "deft/gemm.h"

namespace eff::deft::body {

struct DecodeCtx {
  int fp8_exp_bits = 4;
  uint32_t fp8_exponent_offset = 0;
  uint32_t fp8_exponent_mask = 0;  // the exponent bits of a code: 0 there means the value 0
};

// The family's one epilogue for one vector of outputs: (acc + bias) + residual, then max(., 0) (NaN
// becomes 0, as with the CPU's max), stored in the lanes of m. `bias` is a vector laid as the lanes
// are (a GEMM's outputs in the lanes: their biases; a conv's pixels in the lanes: the filter's bias
// broadcast) or null; `residual` points at the shortcut of the lanes' outputs, or is null. The order
// of the unfused Add and Relu nodes, so a fused residual block gives their bits.
template <class V>
inline typename V::F finish(const V& v, typename V::F acc, const typename V::F* bias, const float* residual,
                            typename V::Mask m, bool relu) {
  if (bias) acc = v.add(acc, *bias);
  if (residual) acc = v.add(acc, v.load(residual, m));
  if (relu) acc = v.max(acc, v.zero());
  return acc;
}

template <class V>
inline void finish_store(const V& v, float* dst, typename V::F acc, typename V::Mask m, const typename V::F* bias,
                         const float* residual, bool relu) {
  v.store(dst, finish(v, acc, bias, residual, m, relu), m);
}

// A panel's 32 outputs of one row (lanes 0-15 in a0, 16-31 in a1) with the panel's biases (`bias`:
// its 32, or null) and ReLU; `lanes` of them are real (rows past M are not stored).
template <class V>
inline void store_panel_row(const V& v, float* dst, const typename V::F& a0, const typename V::F& a1, int64_t lanes,
                            const float* bias, bool relu) {
  for (int half = 0; half < 2 && half * 16 < lanes; ++half) {
    const typename V::Mask m = V::prefix(lanes - half * 16);
    const typename V::F b = bias ? v.load(bias + half * 16, m) : v.zero();
    finish_store(v, dst + half * 16, half ? a1 : a0, m, bias ? &b : nullptr, nullptr, relu);
  }
}

template <class V, Format FMT, int JR>
inline void tile(const GemmTask& t, const DecodeCtx& ctx, const V& v, int64_t panel, int64_t j0) {
  using F = typename V::F;
  const PackedWeights& w = *t.w;
  F acc[JR][2];
  for (int r = 0; r < JR; ++r) acc[r][0] = acc[r][1] = v.zero();
  const uint8_t* wp = w.panel(panel);
  const int64_t steps = w.steps, sb = w.step_bytes;
  if constexpr (FMT == Format::kBf16Dot) {
    const uint32_t* sp = t.pairs + j0 * t.row_stride;
    for (int64_t s = 0; s < steps; ++s, wp += sb, sp += t.step_stride) {
      const auto w0 = v.load_u(wp), w1 = v.load_u(wp + 64);
      for (int r = 0; r < JR; ++r) {
        const auto b = v.bcast32(sp[r * t.row_stride]);
        acc[r][0] = v.dot(acc[r][0], w0, b);
        acc[r][1] = v.dot(acc[r][1], w1, b);
      }
    }
  } else {
    const float* sp = t.s + j0 * t.row_stride;
    for (int64_t s = 0; s < steps; ++s, wp += sb, sp += t.step_stride) {
      F w0, w1;
      v.template decode<FMT>(wp, w0, w1, ctx);
      for (int r = 0; r < JR; ++r) {
        const F b = v.bcast(sp[r * t.row_stride]);
        acc[r][0] = v.fma(b, w0, acc[r][0]);
        acc[r][1] = v.fma(b, w1, acc[r][1]);
      }
    }
  }
  const int64_t i0 = panel * kPanelLanes;
  const int64_t lanes = w.rows - i0 < kPanelLanes ? w.rows - i0 : kPanelLanes;
  const float* bias = t.e.bias ? t.e.bias + i0 : nullptr;
  for (int r = 0; r < JR; ++r)
    store_panel_row(v, t.c + (j0 + r) * t.ldc + i0, acc[r][0], acc[r][1], lanes, bias, t.e.relu);
}

constexpr int kRowsPerTile = 6;  // 12 accumulators + 2 weight vectors + 1 broadcast

template <class V, Format FMT>
inline void block(const GemmTask& t, const DecodeCtx& ctx, const V& v, int64_t panel, int64_t j0, int64_t j1) {
  int64_t j = j0;
  for (; j + kRowsPerTile <= j1; j += kRowsPerTile) tile<V, FMT, kRowsPerTile>(t, ctx, v, panel, j);
  switch (j1 - j) {
    case 5:
      tile<V, FMT, 5>(t, ctx, v, panel, j);
      break;
    case 4:
      tile<V, FMT, 4>(t, ctx, v, panel, j);
      break;
    case 3:
      tile<V, FMT, 3>(t, ctx, v, panel, j);
      break;
    case 2:
      tile<V, FMT, 2>(t, ctx, v, panel, j);
      break;
    case 1:
      tile<V, FMT, 1>(t, ctx, v, panel, j);
      break;
    default:
      break;
  }
}

// One activation row by NP panels at once (small batches): a row tile of one panel has 2
// accumulators, so its chains of K dependent multiply-adds leave the FMA units idle for most of
// each latency; NP panels give 2*NP independent chains. Each output's chain is the same sequence
// over k as in tile(), so the results are the same bits.
constexpr int64_t kPrefetchSteps = 16;  // how far ahead a row tile asks for its weights

template <class V, Format FMT, int NP>
inline void row_tile(const GemmTask& t, const DecodeCtx& ctx, const V& v, int64_t p0, int64_t j) {
  using F = typename V::F;
  const PackedWeights& w = *t.w;
  F acc[NP][2];
  for (int q = 0; q < NP; ++q) acc[q][0] = acc[q][1] = v.zero();
  const uint8_t* wp = w.panel(p0);
  const int64_t steps = w.steps, sb = w.step_bytes, panel_bytes = w.steps * w.step_bytes;
  if constexpr (FMT == Format::kBf16Dot) {
    const uint32_t* sp = t.pairs + j * t.row_stride;
    for (int64_t s = 0; s < steps; ++s, wp += sb, sp += t.step_stride) {
      const auto b = v.bcast32(*sp);
      for (int q = 0; q < NP; ++q) {
        v.prefetch(wp + q * panel_bytes + kPrefetchSteps * sb);
        v.prefetch(wp + q * panel_bytes + kPrefetchSteps * sb + 64);
      }
      for (int q = 0; q < NP; ++q) {
        acc[q][0] = v.dot(acc[q][0], v.load_u(wp + q * panel_bytes), b);
        acc[q][1] = v.dot(acc[q][1], v.load_u(wp + q * panel_bytes + 64), b);
      }
    }
  } else {
    const float* row = t.s + j * t.row_stride;
    const float* sp = row;
    for (int64_t s = 0; s < steps; ++s, wp += sb, sp += t.step_stride) {
      const F b = v.bcast(t.columns ? row[t.columns[s]] : *sp);
      // At one row each weight is used once: it streams from L2, and the FMAs that read it wait.
      for (int q = 0; q < NP; ++q) v.prefetch(wp + q * panel_bytes + kPrefetchSteps * sb);
      for (int q = 0; q < NP; ++q) {
        F w0, w1;
        v.template decode<FMT>(wp + q * panel_bytes, w0, w1, ctx);
        acc[q][0] = v.fma(b, w0, acc[q][0]);
        acc[q][1] = v.fma(b, w1, acc[q][1]);
      }
    }
  }
  for (int q = 0; q < NP; ++q) {
    const int64_t i0 = (p0 + q) * kPanelLanes;
    const int64_t lanes = w.rows - i0 < kPanelLanes ? w.rows - i0 : kPanelLanes;
    store_panel_row(v, t.c + j * t.ldc + i0, acc[q][0], acc[q][1], lanes, t.e.bias ? t.e.bias + i0 : nullptr, t.e.relu);
  }
}

constexpr int kPanelsPerRowTile = 4;  // 8 accumulators: enough chains to cover the FMA latency

template <class V, Format FMT>
inline void row_block(const GemmTask& t, const DecodeCtx& ctx, const V& v, int64_t p0, int64_t p1, int64_t j) {
  int64_t p = p0;
  for (; p + kPanelsPerRowTile <= p1; p += kPanelsPerRowTile) row_tile<V, FMT, kPanelsPerRowTile>(t, ctx, v, p, j);
  switch (p1 - p) {
    case 3:
      row_tile<V, FMT, 3>(t, ctx, v, p, j);
      break;
    case 2:
      row_tile<V, FMT, 2>(t, ctx, v, p, j);
      break;
    case 1:
      row_tile<V, FMT, 1>(t, ctx, v, p, j);
      break;
    default:
      break;
  }
}

template <class V>
inline void run_rows(const GemmTask& t, const V& v, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  const int e = t.w->fp8.exp_bits;
  const DecodeCtx ctx{e, t.w->fp8.exponent_offset(), (0x7Fu >> (7 - e)) << (7 - e)};
  for (int64_t j = j0; j < j1; ++j) {
    switch (t.w->format) {
      case Format::kFp32:
        row_block<V, Format::kFp32>(t, ctx, v, p0, p1, j);
        break;
      case Format::kDeft16:
        row_block<V, Format::kDeft16>(t, ctx, v, p0, p1, j);
        break;
      case Format::kDeft16Q:
        row_block<V, Format::kDeft16Q>(t, ctx, v, p0, p1, j);
        break;
      case Format::kFp8:
        row_block<V, Format::kFp8>(t, ctx, v, p0, p1, j);
        break;
      case Format::kBf16Dot:
        row_block<V, Format::kBf16Dot>(t, ctx, v, p0, p1, j);
        break;
      case Format::kInt8:  // never packed (pack_weights refuses it)
        break;
    }
  }
}

template <class V>
inline void run_block(const GemmTask& t, const V& v, int64_t panel, int64_t j0, int64_t j1) {
  const int e = t.w->fp8.exp_bits;
  const DecodeCtx ctx{e, t.w->fp8.exponent_offset(), (0x7Fu >> (7 - e)) << (7 - e)};
  switch (t.w->format) {
    case Format::kFp32:
      block<V, Format::kFp32>(t, ctx, v, panel, j0, j1);
      break;
    case Format::kDeft16:
      block<V, Format::kDeft16>(t, ctx, v, panel, j0, j1);
      break;
    case Format::kDeft16Q:
      block<V, Format::kDeft16Q>(t, ctx, v, panel, j0, j1);
      break;
    case Format::kFp8:
      block<V, Format::kFp8>(t, ctx, v, panel, j0, j1);
      break;
    case Format::kBf16Dot:
      block<V, Format::kBf16Dot>(t, ctx, v, panel, j0, j1);
      break;
    case Format::kInt8:  // never packed (pack_weights refuses it)
      break;
  }
}

}  // namespace eff::deft::body
