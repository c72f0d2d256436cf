// The AVX-512 backend of the kernel family: compiled for AVX-512 F/BW/VL/BF16 whatever the build's
// -march, called only when the CPU has them (best_isa()). The bf16 dot-product instruction is the
// "fission unit" of kBf16Dot; the other formats unpack with a shift, a mask or (fp8) two shifts,
// the bias add of Figure 8 and a zeroing mask.
#include <cstdint>
#include <cstring>

#include "deft/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define EFF_DEFT_TARGET_ISA "avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma"
#include "deft/target_push.h"
// The kernel template, inside the target region so its functions build for it.
#include "deft/gemm_body.h"

namespace eff::deft {

namespace {

struct Avx512 {
  using F = __m512;
  using U = __m512i;
  F zero() const { return _mm512_setzero_ps(); }
  F bcast(float x) const { return _mm512_set1_ps(x); }
  U bcast32(uint32_t x) const { return _mm512_set1_epi32(static_cast<int>(x)); }
  U load_u(const uint8_t* p) const { return _mm512_loadu_si512(p); }
  void prefetch(const uint8_t* p) const { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
  F fma(F a, F b, F acc) const { return _mm512_fmadd_ps(a, b, acc); }
  F dot(F acc, U a, U b) const { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
  template <Format FMT>
  void decode(const uint8_t* p, F& w0, F& w1, const body::DecodeCtx& ctx) const {
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
  void store(float* dst, F acc, int64_t lanes, const float* bias, bool relu) const {
    const __mmask16 mask = lanes >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << lanes) - 1);
    if (bias) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mask, bias));
    if (relu) acc = _mm512_max_ps(acc, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(dst, mask, acc);
  }
};

}  // namespace

void gemm_block_avx512(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1) {
  body::run_block(t, Avx512{}, panel, j0, j1);
}

void gemm_rows_avx512(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  body::run_rows(t, Avx512{}, p0, p1, j0, j1);
}

}  // namespace eff::deft

#include "deft/target_pop.h"
#else
namespace eff::deft {
void gemm_block_avx512(const GemmTask& t, int64_t panel, int64_t j0, int64_t j1) {
  gemm_block_portable(t, panel, j0, j1);
}
void gemm_rows_avx512(const GemmTask& t, int64_t p0, int64_t p1, int64_t j0, int64_t j1) {
  gemm_rows_portable(t, p0, p1, j0, j1);
}
}  // namespace eff::deft
#endif
