// The AVX-512 backend V of the kernel family's templates (deft/gemm_body.h, deft/conv_small_body.h)
// and of the AMX kernels' epilogues: 16 fp32 lanes per zmm register. Include it inside a target
// region (deft/target_push.h) that has AVX-512 F/BW/VL/DQ and BF16, after deft/gemm.h was included
// outside it (so that no non-template code of that header is built for the region); the dispatcher
// calls what is built from it only where the CPU has them (best_isa()).
//
// In an anonymous namespace: every kernel file gets its own copy, built for its own target region,
// so no out-of-line copy built for another region's instruction set can be picked by the linker.
#pragma once

#include <cstdint>

#include "deft/gemm_body.h"

namespace eff::deft::body {

namespace {

struct Avx512 {
  using F = __m512;
  using U = __m512i;
  using Mask = __mmask16;
  static Mask prefix(int64_t n) { return n >= 16 ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
  F zero() const { return _mm512_setzero_ps(); }
  F bcast(float x) const { return _mm512_set1_ps(x); }
  U bcast32(uint32_t x) const { return _mm512_set1_epi32(static_cast<int>(x)); }
  U load_u(const uint8_t* p) const { return _mm512_loadu_si512(p); }
  F load(const float* p) const { return _mm512_loadu_ps(p); }
  F load(const float* p, Mask m) const { return _mm512_maskz_loadu_ps(m, p); }  // 0 in the other lanes
  void store(float* p, F x, Mask m) const { _mm512_mask_storeu_ps(p, m, x); }
  void prefetch(const uint8_t* p) const { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  F add(F a, F b) const { return _mm512_add_ps(a, b); }
  F fma(F a, F b, F acc) const { return _mm512_fmadd_ps(a, b, acc); }
  F dot(F acc, U a, U b) const { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
  F max(F a, F b) const { return _mm512_max_ps(a, b); }  // a > b ? a : b (NaN: b)
  // Lane t < 8: max(lane 2t, lane 2t + 1) as max() takes it (a 2-wide pooling window per lane pair).
  F max_lane_pairs(F x) const {
    const __m512i even = _mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(14, 12, 10, 8, 6, 4, 2, 0, 15, 13, 11, 9, 7, 5, 3, 1);
    return max(_mm512_permutexvar_ps(even, x), _mm512_permutexvar_ps(odd, x));
  }
  template <Format FMT>
  void decode(const uint8_t* p, F& w0, F& w1, const DecodeCtx& ctx) const {
    if constexpr (FMT == Format::kFp32) {
      w0 = _mm512_loadu_ps(p);
      w1 = _mm512_loadu_ps(p + 64);
    } else if constexpr (FMT == Format::kDeft16 || FMT == Format::kDeft16Q) {
      const __m512i x = _mm512_loadu_si512(p);
      w0 = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
      if constexpr (FMT == Format::kDeft16)
        w1 = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
      else
        w1 = _mm512_castsi512_ps(x);  // the low value's bits stay as extra mantissa
    } else if constexpr (FMT == Format::kFp8) {
      const __m128i count = _mm_cvtsi32_si128(9 - ctx.fp8_exp_bits);
      const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
      const __m512i offset = _mm512_set1_epi32(static_cast<int>(ctx.fp8_exponent_offset));
      const __m512i exponent = _mm512_set1_epi32(static_cast<int>(ctx.fp8_exponent_mask));
      auto one = [&](const uint8_t* q) {
        const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
        const __m512i s = _mm512_and_si512(_mm512_slli_epi32(x, 24), sign);
        const __m512i m = _mm512_add_epi32(_mm512_srl_epi32(_mm512_slli_epi32(x, 25), count), offset);
        return _mm512_castsi512_ps(_mm512_maskz_or_epi32(_mm512_test_epi32_mask(x, exponent), s, m));
      };
      w0 = one(p);
      w1 = one(p + 16);
    }
  }
};

}  // namespace

}  // namespace eff::deft::body
