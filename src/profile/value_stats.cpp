#include "profile/value_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/bits.h"

#if defined(__AVX512F__) && defined(__AVX512CD__) && defined(__AVX512BW__) && defined(__AVX512VPOPCNTDQ__)
#include <immintrin.h>
#define EFF_PROFILE_AVX512 1
#else
#define EFF_PROFILE_AVX512 0
#endif

namespace eff::profile {

namespace {

// Booth-like term counts of every 16-bit magnitude: the recoding is a 16-step scan, far too slow
// to run per activation.
const std::array<uint8_t, 65536>& booth_table() {
  static const std::array<uint8_t, 65536> table = [] {
    std::array<uint8_t, 65536> t{};
    for (uint32_t m = 0; m < 65536; ++m) t[m] = static_cast<uint8_t>(bits::booth_terms(static_cast<uint16_t>(m)));
    return t;
  }();
  return table;
}

// Nonzero values, one bits and Booth terms of one fixed-point width, each plain and weighted by
// how many MACs read the value: the 16-bit and 8-bit views are counted by the same rule.
struct BitTermSums {
  int64_t nonzero = 0, nonzero_mac = 0, popcount = 0, popcount_mac = 0, booth = 0, booth_mac = 0;

  void add(int32_t magnitude, int64_t mac_weight, const std::array<uint8_t, 65536>& booth_terms) {
    const int nz = magnitude != 0;
    const int pc = std::popcount(static_cast<uint32_t>(magnitude));
    const int bt = booth_terms[static_cast<size_t>(magnitude)];
    nonzero += nz;
    nonzero_mac += nz * mac_weight;
    popcount += pc;
    popcount_mac += pc * mac_weight;
    booth += bt;
    booth_mac += bt * mac_weight;
  }
};

#if EFF_PROFILE_AVX512
// BitTermSums in 16 lanes; per chunk of at most 256 values every lane sum fits in 32 bits.
struct BitTermLanes {
  __m512i nonzero = _mm512_setzero_si512(), nonzero_mac = _mm512_setzero_si512();
  __m512i popcount = _mm512_setzero_si512(), popcount_mac = _mm512_setzero_si512();
  __m512i booth = _mm512_setzero_si512(), booth_mac = _mm512_setzero_si512();

  void add(__m512i magnitude, __m512i mac_weight, const std::array<uint8_t, 65536>& booth_terms) {
    const __m512i one = _mm512_set1_epi32(1);
    const __mmask16 nz = _mm512_test_epi32_mask(magnitude, magnitude);
    const __m512i pc = _mm512_popcnt_epi32(magnitude);
    // 4-byte gathers at byte offsets: magnitudes stay below 32768, so the table has room.
    const __m512i bt =
        _mm512_and_si512(_mm512_i32gather_epi32(magnitude, booth_terms.data(), 1), _mm512_set1_epi32(0xff));
    nonzero = _mm512_add_epi32(nonzero, _mm512_maskz_mov_epi32(nz, one));
    nonzero_mac = _mm512_add_epi32(nonzero_mac, _mm512_maskz_mov_epi32(nz, mac_weight));
    popcount = _mm512_add_epi32(popcount, pc);
    popcount_mac = _mm512_add_epi32(popcount_mac, _mm512_mullo_epi32(pc, mac_weight));
    booth = _mm512_add_epi32(booth, bt);
    booth_mac = _mm512_add_epi32(booth_mac, _mm512_mullo_epi32(bt, mac_weight));
  }

  void reduce_into(BitTermSums& s) const {
    s.nonzero += _mm512_reduce_add_epi32(nonzero);
    s.nonzero_mac += _mm512_reduce_add_epi32(nonzero_mac);
    s.popcount += _mm512_reduce_add_epi32(popcount);
    s.popcount_mac += _mm512_reduce_add_epi32(popcount_mac);
    s.booth += _mm512_reduce_add_epi32(booth);
    s.booth_mac += _mm512_reduce_add_epi32(booth_mac);
  }
};
#endif
}  // namespace

int log2_bin(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  const int e = static_cast<int>((u >> 23) & 0xff);
  if (e == 0) return std::ilogb(v);  // subnormal
  return e - 127;
}

FixedPointFormat fixed_format_for_range(double absmax) {
  FixedPointFormat f;
  if (!(absmax > 0) || !std::isfinite(absmax)) {
    f.int_bits = 1;
  } else {
    int e = 0;
    std::frexp(absmax, &e);  // absmax = m * 2^e, m in [0.5, 1): floor(log2(absmax)) = e - 1
    f.int_bits = std::clamp(e + 1, 1, 16);
  }
  f.frac_bits = 16 - f.int_bits;
  return f;
}

FixedCode fixed_code(float v, const FixedPointFormat& f) {
  if (std::isnan(v)) return {0, false};
  const double lo = -std::ldexp(1.0, f.total_bits() - 1);
  const double hi = std::ldexp(1.0, f.total_bits() - 1) - 1;
  const double q = std::round(static_cast<double>(v) * std::ldexp(1.0, f.frac_bits));  // ties away from zero
  if (q > hi) return {static_cast<int32_t>(hi), true};
  if (q < lo) return {static_cast<int32_t>(lo), true};
  return {static_cast<int32_t>(q), false};
}

void finite_range(const float* v, int64_t n, float& lo, float& hi) {
  // 8 fixed lanes so the loop vectorises; non-finite values are replaced by 0 (inside [lo, hi]).
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0}, h[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      uint32_t u;
      std::memcpy(&u, &v[i + j], sizeof u);
      const float x = (u & 0x7f800000u) == 0x7f800000u ? 0.0f : v[i + j];
      l[j] = x < l[j] ? x : l[j];
      h[j] = x > h[j] ? x : h[j];
    }
  }
  for (; i < n; ++i) {
    if (std::isfinite(v[i])) {
      l[0] = std::min(l[0], v[i]);
      h[0] = std::max(h[0], v[i]);
    }
  }
  lo = 0;
  hi = 0;
  for (int j = 0; j < 8; ++j) {
    lo = std::min(lo, l[j]);
    hi = std::max(hi, h[j]);
  }
}

Uniform8 Uniform8::for_range(float lo, float hi) {
  Uniform8 u;
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float absmax = std::max(-lo, hi);
  if (absmax == 0 || !std::isfinite(absmax)) return u;
  u.is_signed = lo < 0;
  u.scale = absmax / (u.is_signed ? 127.0f : 255.0f);
  return u;
}

int32_t Uniform8::code(float v) const {
  if (scale == 0 || std::isnan(v)) return 0;
  float q = std::round(std::min(std::max(v / scale, -1024.0f), 1024.0f));
  q = std::min(std::max(q, is_signed ? -127.0f : 0.0f), is_signed ? 127.0f : 255.0f);
  return static_cast<int32_t>(q);
}

void ValueCounters::merge(const ValueCounters& o) {
  count += o.count;
  count_mac += o.count_mac;
  zeros += o.zeros;
  zeros_mac += o.zeros_mac;
  nonfinite += o.nonfinite;
  if (below.size() < o.below.size()) {
    below.resize(o.below.size(), 0);
    below_mac.resize(o.below.size(), 0);
  }
  for (size_t i = 0; i < o.below.size(); ++i) {
    below[i] += o.below[i];
    below_mac[i] += o.below_mac[i];
  }
  for (int i = 0; i < kLog2Bins; ++i) log2_hist[i] += o.log2_hist[i];
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  saturated += o.saturated;
  nonzero16 += o.nonzero16;
  nonzero16_mac += o.nonzero16_mac;
  popcount16 += o.popcount16;
  popcount16_mac += o.popcount16_mac;
  booth16 += o.booth16;
  booth16_mac += o.booth16_mac;
  msb_max = std::max(msb_max, o.msb_max);
  lsb_min = std::min(lsb_min, o.lsb_min);
  negative = negative || o.negative;
  nonzero8 += o.nonzero8;
  nonzero8_mac += o.nonzero8_mac;
  popcount8 += o.popcount8;
  popcount8_mac += o.popcount8_mac;
  booth8 += o.booth8;
  booth8_mac += o.booth8_mac;
}

namespace {

// Round half away from zero without a libm call; exact for |y| < 2^23 (the caller clamps).
[[maybe_unused]] inline int32_t round_away(float y) {
  int32_t t = static_cast<int32_t>(y);
  const float rest = y - static_cast<float>(t);
  t += (rest >= 0.5f ? 1 : 0) - (rest <= -0.5f ? 1 : 0);
  return t;
}

}  // namespace

// GCC 12 reports the deliberately undefined pass-through operand of its own AVX-512 intrinsics
// (_mm512_undefined_epi32) as maybe-uninitialized; silence that false positive here only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void accumulate_values(const float* v, int64_t n, const int64_t* cov, int64_t cov_scale, const ValueContext& ctx,
                       ValueCounters& c, uint8_t* width, uint8_t* nonzero) {
  const auto& booth = booth_table();
  const size_t nt = ctx.thresholds.size();
  if (c.below.size() < nt) {
    c.below.resize(nt, 0);
    c.below_mac.resize(nt, 0);
  }
  // The engine's fixed-point conversion (quantize_block in engine/value_transform.cpp): scaling by
  // a power of two is exact, so this float path gives the same codes as fixed_code().
  const float scale = static_cast<float>(std::ldexp(1.0, ctx.fixed.frac_bits));
  const int32_t lo = ctx.fixed.min_code();
  const int32_t hi = ctx.fixed.max_code();
  const float u8_scale = ctx.u8.scale == 0 ? 1.0f : ctx.u8.scale;
  const bool u8_on = ctx.u8.scale != 0;
  const int32_t u8_lo = ctx.u8.is_signed ? -127 : 0, u8_hi = ctx.u8.is_signed ? 127 : 255;

  // Chunks of values go through simple loops the compiler vectorises (conversions, compares,
  // sums in 8 fixed lanes so the result does not depend on how it is vectorised), then one scalar
  // loop does the table look-ups.
  constexpr int64_t kChunk = 256;
  alignas(64) float clean[kChunk];
  alignas(64) int32_t wgt[kChunk];
  alignas(64) int32_t q16[kChunk];
  alignas(64) int32_t q8[kChunk];
  std::array<int64_t, kLog2Bins> hist{};
  int64_t hist4[4][kLog2Bins] = {};
  double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t count_mac = 0, zeros = 0, zeros_mac = 0, nonfinite = 0, saturated = 0;
  BitTermSums terms16, terms8;
  int msb_max = c.msb_max, lsb_min = c.lsb_min;
  bool negative = c.negative;
  float vmin = c.min, vmax = c.max;
  for (int64_t base = 0; base < n; base += kChunk) {
    const int64_t m = std::min(kChunk, n - base);
    const float* x = v + base;
    for (int64_t i = 0; i < m; ++i) wgt[i] = static_cast<int32_t>(cov ? cov[base + i] : 1);
    // Finite check on the bit pattern (vectorises); non-finite values are rare and take a copy.
    uint32_t bad = 0;
    for (int64_t i = 0; i < m; ++i) {
      uint32_t u;
      std::memcpy(&u, &x[i], sizeof u);
      bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    const float* y = x;
    if (bad) {
      int64_t fin = 0;
      for (int64_t i = 0; i < m; ++i) {
        const bool f = std::isfinite(x[i]);
        fin += f;
        clean[i] = f ? x[i] : 0.0f;
      }
      nonfinite += m - fin;
      y = clean;
      // Non-finite values count as values but not as zeros; they are stored as zero codes.
      for (int64_t i = 0; i < m; ++i) zeros -= !std::isfinite(x[i]);
      for (int64_t i = 0; i < m; ++i) zeros_mac -= std::isfinite(x[i]) ? 0 : wgt[i];
    }
    int64_t cm = 0, z = 0, zm = 0;
    for (int64_t i = 0; i < m; ++i) {
      cm += wgt[i];
      z += y[i] == 0;
      zm += y[i] == 0 ? wgt[i] : 0;
    }
    // Sums, minima and maxima in 8 fixed lanes (vectorises; the order of additions is fixed).
    float mn = vmin, mx = vmax;
    {
      float l_mn[8], l_mx[8];
      for (int j = 0; j < 8; ++j) l_mn[j] = mn, l_mx[j] = mx;
      int64_t i = 0;
      for (; i + 8 <= m; i += 8) {
        for (int j = 0; j < 8; ++j) {
          lanes[j] += y[i + j];
          l_mn[j] = y[i + j] < l_mn[j] ? y[i + j] : l_mn[j];
          l_mx[j] = y[i + j] > l_mx[j] ? y[i + j] : l_mx[j];
        }
      }
      for (; i < m; ++i) {
        lanes[i & 7] += y[i];
        l_mn[0] = std::min(l_mn[0], y[i]);
        l_mx[0] = std::max(l_mx[0], y[i]);
      }
      for (int j = 0; j < 8; ++j) mn = std::min(mn, l_mn[j]), mx = std::max(mx, l_mx[j]);
    }
    if (bad) {
      // Restore min/max over finite values only (zeros stood in for the others).
      mn = vmin;
      mx = vmax;
      for (int64_t i = 0; i < m; ++i) {
        if (std::isfinite(x[i])) {
          mn = std::min(mn, x[i]);
          mx = std::max(mx, x[i]);
        }
      }
    }
    count_mac += cm;
    zeros += z;
    zeros_mac += zm;
    vmin = mn;
    vmax = mx;
    for (size_t t = 0; t < nt; ++t) {
      const float th = ctx.thresholds[t];
      int64_t b = 0, bm = 0;
      for (int64_t i = 0; i < m; ++i) {
        const bool below = std::fabs(y[i]) < th;
        b += below;
        bm += below ? wgt[i] : 0;
      }
      if (bad) {
        for (int64_t i = 0; i < m; ++i) {
          const bool stood_in = !std::isfinite(x[i]) && 0.0f < th;
          b -= stood_in;
          bm -= stood_in ? wgt[i] : 0;
        }
      }
      c.below[t] += b;
      c.below_mac[t] += bm * cov_scale;
    }
    int64_t sat = 0;
    int64_t c0 = 0;
#if EFF_PROFILE_AVX512
    {
      // The same conversions as the scalar loop below, 16 lanes at a time (truncation, the same
      // compares, IEEE division), so the codes are identical.
      const __m512 vscale = _mm512_set1_ps(scale), vu8 = _mm512_set1_ps(u8_scale);
      const __m512 lim16 = _mm512_set1_ps(65536.0f), lim8 = _mm512_set1_ps(1024.0f);
      const __m512 half = _mm512_set1_ps(0.5f), mhalf = _mm512_set1_ps(-0.5f);
      const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi), one = _mm512_set1_epi32(1);
      const __m512i v8lo = _mm512_set1_epi32(u8_lo), v8hi = _mm512_set1_epi32(u8_hi);
      auto round_away16 = [&](__m512 v) {
        __m512i t = _mm512_cvttps_epi32(v);
        const __m512 rest = _mm512_sub_ps(v, _mm512_cvtepi32_ps(t));
        t = _mm512_mask_add_epi32(t, _mm512_cmp_ps_mask(rest, half, _CMP_GE_OQ), t, one);
        return _mm512_mask_sub_epi32(t, _mm512_cmp_ps_mask(rest, mhalf, _CMP_LE_OQ), t, one);
      };
      for (; c0 + 16 <= m; c0 += 16) {
        const __m512 x = _mm512_loadu_ps(y + c0);
        const __m512 ys =
            _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x, vscale), _mm512_sub_ps(_mm512_setzero_ps(), lim16)), lim16);
        const __m512i t = round_away16(ys);
        sat += std::popcount(static_cast<uint32_t>(_mm512_cmpgt_epi32_mask(t, vhi) | _mm512_cmplt_epi32_mask(t, vlo)));
        _mm512_store_si512(q16 + c0, _mm512_min_epi32(_mm512_max_epi32(t, vlo), vhi));
        const __m512 y8 =
            _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x, vu8), _mm512_sub_ps(_mm512_setzero_ps(), lim8)), lim8);
        const __m512i t8 = _mm512_min_epi32(_mm512_max_epi32(round_away16(y8), v8lo), v8hi);
        _mm512_store_si512(q8 + c0, u8_on ? t8 : _mm512_setzero_si512());
      }
    }
#endif
    for (int64_t i = c0; i < m; ++i) {
      const float ys = std::min(std::max(y[i] * scale, -65536.0f), 65536.0f);
      int32_t t = static_cast<int32_t>(ys);
      const float rest = ys - static_cast<float>(t);
      t += (rest >= 0.5f ? 1 : 0) - (rest <= -0.5f ? 1 : 0);
      sat += (t > hi) | (t < lo);
      q16[i] = std::min(std::max(t, lo), hi);
      const float y8 = std::min(std::max(y[i] / u8_scale, -1024.0f), 1024.0f);
      int32_t t8 = static_cast<int32_t>(y8);
      const float rest8 = y8 - static_cast<float>(t8);
      t8 += (rest8 >= 0.5f ? 1 : 0) - (rest8 <= -0.5f ? 1 : 0);
      q8[i] = u8_on ? std::min(std::max(t8, u8_lo), u8_hi) : 0;
    }
    saturated += sat;
    // Exponent histogram in four interleaved copies: consecutive values often share a bin, and a
    // single array would serialise on its store-to-load dependency.
    for (int64_t i = 0; i < m; ++i) {
      uint32_t u;
      std::memcpy(&u, &y[i], sizeof u);
      // Subnormals have exponent field 0 and land in the first bin with everything below 2^kLog2Min.
      const int e = std::clamp(static_cast<int>((u >> 23) & 0xff) - 127, kLog2Min, kLog2Max);
      hist4[i & 3][e - kLog2Min] += y[i] != 0;
    }
    // Widths, msb/lsb, popcounts and Booth terms: 16 lanes at a time with AVX-512 where the
    // build has it, the scalar loop for the rest. Both give the same integers.
    int32_t mmax = msb_max, lmin = lsb_min, anyneg = 0;
    int64_t i0 = 0;
#if EFF_PROFILE_AVX512
    {
      const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
      const __m512i k31 = _mm512_set1_epi32(31), k32767 = _mm512_set1_epi32(32767);
      const __m512i k10000 = _mm512_set1_epi32(0x10000);
      __m512i vmax = _mm512_set1_epi32(mmax), vmin = _mm512_set1_epi32(lmin);
      BitTermLanes lanes16, lanes8;
      __mmask16 neg_any = 0;
      for (; i0 + 16 <= m; i0 += 16) {
        const __m512i q = _mm512_load_si512(q16 + i0);
        const __m512i w = _mm512_load_si512(wgt + i0);
        const __m512i mg = _mm512_min_epi32(_mm512_abs_epi32(q), k32767);
        const __mmask16 neg = _mm512_cmplt_epi32_mask(q, zero);
        const __mmask16 nz = _mm512_test_epi32_mask(mg, mg);
        const __m512i msb = _mm512_sub_epi32(k31, _mm512_lzcnt_epi32(_mm512_or_si512(mg, one)));
        vmax = _mm512_mask_max_epi32(vmax, nz, vmax, msb);
        const __m512i x = _mm512_or_si512(mg, k10000);  // lsb = popcount(lowest set bit - 1)
        const __m512i lsb = _mm512_popcnt_epi32(_mm512_sub_epi32(_mm512_and_si512(x, _mm512_sub_epi32(zero, x)), one));
        vmin = _mm512_min_epi32(vmin, lsb);
        neg_any |= neg;
        if (width) {
          const __m512i wd = _mm512_mask_add_epi32(_mm512_add_epi32(msb, one), neg, _mm512_add_epi32(msb, one), one);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(width + base + i0), _mm512_cvtepi32_epi8(wd));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(nonzero + base + i0),
                           _mm512_cvtepi32_epi8(_mm512_maskz_mov_epi32(nz, one)));
        }
        lanes16.add(mg, w, booth);
        lanes8.add(_mm512_abs_epi32(_mm512_load_si512(q8 + i0)), w, booth);
      }
      // Per chunk (at most 16 values per lane) every lane sum fits in 32 bits.
      mmax = _mm512_reduce_max_epi32(vmax);
      lmin = _mm512_reduce_min_epi32(vmin);
      anyneg = neg_any != 0;
      lanes16.reduce_into(terms16);
      lanes8.reduce_into(terms8);
    }
#endif
    for (int64_t i = i0; i < m; ++i) {
      const int32_t q = q16[i];
      const int32_t mg = std::min(q < 0 ? -q : q, 32767);
      const int32_t neg = q < 0;
      const int32_t msb = 31 - std::countl_zero(static_cast<uint32_t>(mg | 1));
      const int32_t lsb = std::countr_zero(static_cast<uint32_t>(mg | 0x10000));
      mmax = std::max(mmax, mg ? msb : -1);
      lmin = std::min(lmin, lsb);
      anyneg |= neg;
      if (width) {
        width[base + i] = static_cast<uint8_t>(msb + 1 + neg);
        nonzero[base + i] = mg != 0;
      }
      terms16.add(mg, wgt[i], booth);
      terms8.add(q8[i] < 0 ? -q8[i] : q8[i], wgt[i], booth);
    }
    msb_max = mmax;
    lsb_min = lmin;
    negative = negative || anyneg;
  }
  for (int k = 0; k < 4; ++k) {
    for (int b = 0; b < kLog2Bins; ++b) hist[b] += hist4[k][b];
  }
  c.count += n;
  c.count_mac += count_mac * cov_scale;
  c.zeros += zeros;
  c.zeros_mac += zeros_mac * cov_scale;
  c.nonfinite += nonfinite;
  c.saturated += saturated;
  for (int b = 0; b < kLog2Bins; ++b) c.log2_hist[b] += hist[b];
  c.nonzero16 += terms16.nonzero;
  c.nonzero16_mac += terms16.nonzero_mac * cov_scale;
  c.popcount16 += terms16.popcount;
  c.popcount16_mac += terms16.popcount_mac * cov_scale;
  c.booth16 += terms16.booth;
  c.booth16_mac += terms16.booth_mac * cov_scale;
  c.nonzero8 += terms8.nonzero;
  c.nonzero8_mac += terms8.nonzero_mac * cov_scale;
  c.popcount8 += terms8.popcount;
  c.popcount8_mac += terms8.popcount_mac * cov_scale;
  c.booth8 += terms8.booth;
  c.booth8_mac += terms8.booth_mac * cov_scale;
  c.msb_max = msb_max;
  c.lsb_min = lsb_min;
  c.negative = negative;
  c.min = vmin;
  c.max = vmax;
  c.sum += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

#pragma GCC diagnostic pop

std::vector<int64_t> coverage_1d(int64_t n, int64_t out, int64_t kernel, int64_t stride, int64_t dilation,
                                 int64_t pad_before) {
  std::vector<int64_t> cov(std::max<int64_t>(n, 0), 0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t k = 0; k < kernel; ++k) {
      const int64_t i = o * stride + k * dilation - pad_before;
      if (i >= 0 && i < n) ++cov[i];
    }
  }
  return cov;
}

void GroupCounters::merge(const GroupCounters& o) {
  groups += o.groups;
  width_sum += o.width_sum;
  all_zero += o.all_zero;
  for (size_t i = 0; i < hist.size(); ++i) hist[i] += o.hist[i];
}

namespace {

void count_group(int w, bool nz, GroupCounters& out) {
  ++out.groups;
  out.width_sum += w;
  ++out.hist[std::clamp(w, 0, 16)];
  if (!nz) ++out.all_zero;
}

}  // namespace

void accumulate_groups_conv(const LayerGeometry& g, const uint8_t* width, const uint8_t* nonzero,
                            const GroupShape& shape, GroupCounters& out, bool walk) {
  const int64_t C = g.Ni, H = g.Ny, W = g.Nx;
  const int64_t groups = std::max<int64_t>(1, g.groups);
  const int64_t cg = C / groups;
  const int64_t lanes = std::max(1, shape.channels);
  const int64_t chunks_per_group = (cg + lanes - 1) / lanes;
  const int64_t chunks = chunks_per_group * groups;
  // Brick widths: per input position (y, x) and chunk, the max width and whether any value is
  // non-zero, laid out [y][x][chunk] so the walk below reads them contiguously.
  std::vector<uint8_t> bw(static_cast<size_t>(H * W * chunks), 0), bnz(static_cast<size_t>(H * W * chunks), 0);
  for (int64_t gi = 0; gi < groups; ++gi) {
    for (int64_t cc = 0; cc < cg; ++cc) {
      const int64_t c = gi * cg + cc;
      const int64_t chunk = gi * chunks_per_group + cc / lanes;
      const uint8_t* wr = width + c * H * W;
      const uint8_t* nr = nonzero + c * H * W;
      for (int64_t p = 0; p < H * W; ++p) {
        uint8_t& b = bw[p * chunks + chunk];
        b = std::max(b, wr[p]);
        bnz[p * chunks + chunk] |= nr[p];
      }
    }
  }
  const int64_t windows = g.Ox * g.Oy;
  const int64_t per_set = std::max(1, shape.windows);
  if (per_set == 1 && !walk) {
    // One window per group: every (window, tap) reads one brick, so each brick counts as many
    // groups as (window, tap) pairs read its position (the separable coverage of the
    // per-multiplication weighting); the remaining pairs read padding, i.e. all-zero groups of
    // width 1. Same counts as the walk below, Kx*Ky times cheaper.
    const auto cov_y = coverage_1d(H, g.Oy, g.Ky, g.stride_y, g.dilation_y, g.pad_top);
    const auto cov_x = coverage_1d(W, g.Ox, g.Kx, g.stride_x, g.dilation_x, g.pad_left);
    int64_t covered = 0;
    for (int64_t y = 0; y < H; ++y) {
      for (int64_t x = 0; x < W; ++x) {
        const int64_t n = cov_y[y] * cov_x[x];
        if (n == 0) continue;
        const uint8_t* b = &bw[(y * W + x) * chunks];
        const uint8_t* z = &bnz[(y * W + x) * chunks];
        for (int64_t k = 0; k < chunks; ++k) {
          out.hist[std::min<int>(b[k], 16)] += n;
          out.width_sum += n * b[k];
          out.all_zero += z[k] ? 0 : n;
        }
        covered += n * chunks;
      }
    }
    const int64_t total = windows * g.Ky * g.Kx * chunks;
    out.groups += total;
    const int64_t padding = total - covered;
    out.hist[1] += padding;
    out.width_sum += padding;
    out.all_zero += padding;
    return;
  }
  std::vector<uint8_t> gw(chunks), gnz(chunks);
  std::vector<int64_t> set_y(per_set), set_x(per_set);
  for (int64_t ws = 0; ws < windows; ws += per_set) {
    const int64_t we = std::min(windows, ws + per_set);
    for (int64_t win = ws; win < we; ++win) {
      set_y[win - ws] = (win / g.Ox) * g.stride_y - g.pad_top;
      set_x[win - ws] = (win % g.Ox) * g.stride_x - g.pad_left;
    }
    for (int64_t ky = 0; ky < g.Ky; ++ky) {
      for (int64_t kx = 0; kx < g.Kx; ++kx) {
        std::fill(gw.begin(), gw.end(), 0);
        std::fill(gnz.begin(), gnz.end(), 0);
        for (int64_t k = 0; k < we - ws; ++k) {
          const int64_t iy = set_y[k] + ky * g.dilation_y;
          const int64_t ix = set_x[k] + kx * g.dilation_x;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
            for (int64_t c = 0; c < chunks; ++c) gw[c] = std::max<uint8_t>(gw[c], 1);  // padding: a zero
            continue;
          }
          const uint8_t* b = &bw[(iy * W + ix) * chunks];
          const uint8_t* z = &bnz[(iy * W + ix) * chunks];
          for (int64_t c = 0; c < chunks; ++c) {
            gw[c] = std::max(gw[c], b[c]);
            gnz[c] |= z[c];
          }
        }
        for (int64_t c = 0; c < chunks; ++c) count_group(gw[c], gnz[c] != 0, out);
      }
    }
  }
}

void accumulate_groups_rows(int64_t rows, int64_t k, const uint8_t* width, const uint8_t* nonzero,
                            const GroupShape& shape, GroupCounters& out) {
  const int64_t lanes = std::max(1, shape.channels);
  const int64_t per_set = std::max(1, shape.windows);
  for (int64_t rs = 0; rs < rows; rs += per_set) {
    const int64_t re = std::min(rows, rs + per_set);
    for (int64_t c0 = 0; c0 < k; c0 += lanes) {
      const int64_t c1 = std::min(k, c0 + lanes);
      int w = 0;
      bool nz = false;
      for (int64_t r = rs; r < re; ++r) {
        for (int64_t c = c0; c < c1; ++c) {
          w = std::max<int>(w, width[r * k + c]);
          nz = nz || nonzero[r * k + c];
        }
      }
      count_group(w, nz, out);
    }
  }
}

}  // namespace eff::profile
