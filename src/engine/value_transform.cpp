#include "engine/value_transform.h"

#include <algorithm>
#include <cmath>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace eff {

double FixedPointFormat::step() const {
  return std::ldexp(1.0, -frac_bits);
}
int32_t FixedPointFormat::max_code() const {
  return is_signed ? (int32_t{1} << (total_bits() - 1)) - 1 : (int32_t{1} << total_bits()) - 1;
}
int32_t FixedPointFormat::min_code() const {
  return is_signed ? -(int32_t{1} << (total_bits() - 1)) : 0;
}
double FixedPointFormat::max_value() const {
  return max_code() * step();
}
double FixedPointFormat::min_value() const {
  return min_code() * step();
}

void validate_fixed_point(const FixedPointFormat& f, const std::string& where) {
  if (f.is_signed && (f.int_bits < 1 || f.frac_bits < 0 || f.total_bits() > 16)) {
    fail<ConfigError>(
        "{}: fixed point with int_bits={} (incl. sign) and frac_bits={} does not fit 16-bit two's "
        "complement (need int_bits >= 1, frac_bits >= 0, int_bits + frac_bits <= 16)",
        where, f.int_bits, f.frac_bits);
  }
  if (!f.is_signed && (f.int_bits < 0 || f.frac_bits < 0 || f.total_bits() < 1 || f.total_bits() > 15)) {
    fail<ConfigError>(
        "{}: unsigned fixed point with int_bits={} and frac_bits={} does not fit (need int_bits >= 0, "
        "frac_bits >= 0, 1 <= int_bits + frac_bits <= 15)",
        where, f.int_bits, f.frac_bits);
  }
}

int32_t to_fixed_int(float x, const FixedPointFormat& f) {
  const double lo = f.min_code();
  const double hi = f.max_code();
  if (std::isnan(x)) return 0;
  double q = std::round(static_cast<double>(x) * std::ldexp(1.0, f.frac_bits));  // ties away from zero
  q = std::clamp(q, lo, hi);
  return static_cast<int32_t>(q);
}

float quantize_fixed(float x, const FixedPointFormat& f) {
  return static_cast<float>(to_fixed_int(x, f) * f.step());
}

void apply_prune(float* data, int64_t n, float threshold) {
  if (threshold <= 0) return;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    if (std::fabs(data[i]) < threshold) data[i] = 0.0f;
  }
}

namespace {

// Written so the compiler vectorises it (it runs on every activation of every hooked layer; the
// file is built with -fno-trapping-math so the selects below if-convert): no libm call, a
// truncating conversion plus an explicit ties-away-from-zero correction. Exact in float: scaling by
// a power of two is exact, and |y| <= 2^16 leaves y - trunc(y) exact. Pruning (|x| < threshold ->
// 0, before quantization) rides along for free; threshold 0 prunes nothing.
inline float quantize_one(float x, float threshold, float scale, float inv, int32_t lo, int32_t hi) {
  const float bound = 65536.0f;  // beyond any 16-bit code, yet exact as an int32
  float y = (x < threshold && x > -threshold ? 0.0f : x) * scale;
  y = y == y ? y : 0.0f;  // NaN -> 0
  y = std::min(std::max(y, -bound), bound);
  int32_t t = static_cast<int32_t>(y);
  const float rest = y - static_cast<float>(t);
  t += (rest >= 0.5f ? 1 : 0) - (rest <= -0.5f ? 1 : 0);
  t = std::min(std::max(t, lo), hi);
  return static_cast<float>(t) * inv;
}

// quantize_one on 16 values at a time with AVX-512 (the compiler's own vectorisation of the loop
// below used 8-wide vectors and 30 instructions per vector), the same value for every input:
// the truncation, the ties-away correction and the clamp run on integer-valued floats, exact
// below 2^24; NaN and pruned values are zeroed by the mask before scaling, and adding +0 at the
// end turns the -0 of a truncated (-1, 0) into the +0 that int32 0 converts to. Returns how many
// values it did (a multiple of 16); `src` may equal `dst`.
int64_t quantize_vectors(const float* src, float* dst, int64_t n, float threshold, float scale, float inv, int32_t lo,
                         int32_t hi) {
#if defined(__AVX512F__)
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 vthreshold = _mm512_set1_ps(threshold), vscale = _mm512_set1_ps(scale), vinv = _mm512_set1_ps(inv);
  const __m512 vlo = _mm512_set1_ps(static_cast<float>(lo)), vhi = _mm512_set1_ps(static_cast<float>(hi));
  const __m512 bound = _mm512_set1_ps(65536.0f), one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
  const __m512 zero = _mm512_setzero_ps();
  // The zero-masked forms with a full mask: GCC 12's plain min/max/roundscale read an
  // "undefined" register that -Wmaybe-uninitialized reports.
  constexpr __mmask16 kAll = 0xffff;
  auto clamp = [&](__m512 v, __m512 low, __m512 high) {
    return _mm512_maskz_min_ps(kAll, _mm512_maskz_max_ps(kAll, v, low), high);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_loadu_ps(src + i);
    // Kept: |x| >= threshold, ordered (NaN is not kept, as quantize_one maps it to 0).
    const __mmask16 keep = _mm512_cmp_ps_mask(_mm512_and_ps(x, abs_mask), vthreshold, _CMP_GE_OQ);
    const __m512 y = clamp(_mm512_maskz_mul_ps(keep, x, vscale), _mm512_sub_ps(zero, bound), bound);
    __m512 t = _mm512_maskz_roundscale_ps(kAll, y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 rest = _mm512_sub_ps(y, t);
    t = _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(rest, half, _CMP_GE_OQ), t, one);
    t = _mm512_mask_sub_ps(t, _mm512_cmp_ps_mask(rest, _mm512_sub_ps(zero, half), _CMP_LE_OQ), t, one);
    t = clamp(t, vlo, vhi);
    _mm512_storeu_ps(dst + i, _mm512_add_ps(_mm512_mul_ps(t, vinv), zero));
  }
  return i;
#else
  (void)src, (void)dst, (void)n, (void)threshold, (void)scale, (void)inv, (void)lo, (void)hi;
  return 0;
#endif
}

void quantize_block(const float* __restrict src, float* __restrict dst, int64_t n, float threshold, float scale,
                    float inv, int32_t lo, int32_t hi) {
  for (int64_t i = quantize_vectors(src, dst, n, threshold, scale, inv, lo, hi); i < n; ++i) {
    dst[i] = quantize_one(src[i], threshold, scale, inv, lo, hi);
  }
}

void quantize_block_in_place(float* data, int64_t n, float threshold, float scale, float inv, int32_t lo, int32_t hi) {
  for (int64_t i = quantize_vectors(data, data, n, threshold, scale, inv, lo, hi); i < n; ++i) {
    data[i] = quantize_one(data[i], threshold, scale, inv, lo, hi);
  }
}

// A few hundred thousand values take tens of microseconds on one thread: below that, waking a
// team (and, on a busy machine, waiting for it) costs more than the work. The rule is elementwise,
// so results never depend on the thread count.
constexpr int64_t kChunk = 1 << 15;
constexpr int64_t kParallelChunks = 4;

struct FixedConstants {
  float scale, inv;
  int32_t lo, hi;
  explicit FixedConstants(const FixedPointFormat& f)
      : scale(static_cast<float>(std::ldexp(1.0, f.frac_bits))),
        inv(static_cast<float>(f.step())),
        lo(f.min_code()),
        hi(f.max_code()) {}
};

void apply_fixed(float* data, int64_t n, const FixedPointFormat& f) {
  const FixedConstants k(f);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks >= kParallelChunks)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    quantize_block_in_place(data + begin, std::min(kChunk, n - begin), 0.0f, k.scale, k.inv, k.lo, k.hi);
  }
}

}  // namespace

void prune_and_quantize_fixed(const float* src, float* dst, int64_t n, float threshold, const FixedPointFormat& f) {
  const FixedConstants k(f);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks >= kParallelChunks)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    quantize_block(src + begin, dst + begin, std::min(kChunk, n - begin), std::max(threshold, 0.0f), k.scale, k.inv,
                   k.lo, k.hi);
  }
}

void prune_and_quantize_fixed_in_place(float* data, int64_t n, float threshold, const FixedPointFormat& f) {
  const FixedConstants k(f);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks >= kParallelChunks)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    quantize_block_in_place(data + begin, std::min(kChunk, n - begin), std::max(threshold, 0.0f), k.scale, k.inv, k.lo,
                            k.hi);
  }
}

namespace {

// Symmetric 8-bit (signed, 127 levels) when the range has negative values; otherwise unsigned with
// 255 levels, which is what post-ReLU activations get on 8-bit hardware.
void apply_uniform8(float* data, int64_t n) {
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, data[i]);
    hi = std::max(hi, data[i]);
  }
  const float absmax = std::max(-lo, hi);
  if (absmax == 0 || !std::isfinite(absmax)) return;
  const float levels = lo < 0 ? 127.0f : 255.0f;
  const float scale = absmax / levels;
  for (int64_t i = 0; i < n; ++i) {
    float q = std::round(data[i] / scale);
    q = std::min(std::max(q, lo < 0 ? -127.0f : 0.0f), levels);
    data[i] = q * scale;
  }
}

}  // namespace

void apply_operand_transform(float* data, int64_t n, const OperandSpec& spec, int64_t sample_size) {
  switch (spec.kind) {
    case OperandTransform::kNone:
      return;
    case OperandTransform::kFixedPoint:
      apply_fixed(data, n, spec.fixed);
      return;
    case OperandTransform::kUniform8: {
      const int64_t step = sample_size > 0 ? sample_size : n;
      for (int64_t s = 0; s < n; s += step) apply_uniform8(data + s, std::min(step, n - s));
      return;
    }
  }
}

}  // namespace eff
