#include "deft/formats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace eff::deft {

namespace {
constexpr std::array<Format, 6> kFormats = {Format::kFp32, Format::kDeft16,  Format::kDeft16Q,
                                            Format::kFp8,  Format::kBf16Dot, Format::kInt8};
constexpr std::array<const char*, 6> kNames = {"fp32", "deft16", "deft16q", "fp8", "bf16dot", "int8"};

// Sorted magnitudes of the 128 non-negative codes (the format is monotone in the code).
std::array<float, 128> fp8_magnitudes(const Fp8Spec& s) {
  std::array<float, 128> m{};
  for (int c = 0; c < 128; ++c) m[c] = fp8_decode(static_cast<uint8_t>(c), s);
  return m;
}

uint8_t fp8_encode_with(float x, const std::array<float, 128>& mag) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const float a = std::fabs(x);
  if (!(a == a)) return 0;  // NaN: no code for it; weights holding NaN are refused upstream
  const auto it = std::lower_bound(mag.begin(), mag.end(), a);
  int c;
  if (it == mag.end()) {
    c = 127;  // saturate
  } else if (it == mag.begin()) {
    c = 0;
  } else {
    c = static_cast<int>(it - mag.begin());
    const float up = mag[c] - a, down = a - mag[c - 1];
    if (down < up || (down == up && (c & 1))) --c;
  }
  if (c == 0) return 0;  // no negative zero in packed weights
  return static_cast<uint8_t>(sign | c);
}
}  // namespace

std::string format_name(Format f) {
  return kNames[static_cast<size_t>(f)];
}

bool parse_format(const std::string& name, Format& out) {
  for (size_t i = 0; i < kFormats.size(); ++i)
    if (name == kNames[i]) {
      out = kFormats[i];
      return true;
    }
  return false;
}

std::span<const Format> all_formats() {
  return kFormats;
}

std::span<const Format> gemm_formats() {
  return std::span<const Format>(kFormats).first(5);
}

Int8Input choose_int8_input(float lo, float hi) {
  lo = std::min(lo, 0.f);
  hi = std::max(hi, 0.f);
  Int8Input q;
  if (!(hi - lo > 0.f) || !std::isfinite(hi - lo)) return q;  // only zeros seen (or no range): scale 1, zero 0
  if (lo == 0.f) {
    q.scale = hi / 255.f;
  } else {
    q.scale = (hi - lo) / 255.f;
    q.zero = std::clamp(static_cast<int32_t>(std::nearbyint(-lo / q.scale)), 0, 255);
  }
  if (!(q.scale > 0.f) || !std::isfinite(1.f / q.scale)) q.scale = 1.f;  // a denormal range
  return q;
}

bool valid_int8_input(const Int8Input& q) {
  return q.scale > 0.f && std::isfinite(q.scale) && std::isfinite(q.inverse()) && q.zero >= 0 && q.zero <= 255;
}

float int8_weight_scale(const float* row, int64_t k) {
  float m = 0.f;
  for (int64_t i = 0; i < k; ++i)
    if (std::isfinite(row[i])) m = std::max(m, std::fabs(row[i]));
  const float s = m / 127.f;
  return s > 0.f ? s : 1.f;  // a channel of zeros (or of denormals too small to scale): codes 0
}

int8_t quantize_int8_weight(float w, float scale) {
  const float v = w / scale;
  if (!(v == v)) return 0;
  return static_cast<int8_t>(std::nearbyint(std::clamp(v, -127.f, 127.f)));
}

float fp8_decode(uint8_t code, const Fp8Spec& s) {
  if ((code & 0x7F) >> (7 - s.exp_bits) == 0) return 0.f;
  const uint32_t bits =
      (uint32_t(code & 0x80) << 24) | ((uint32_t(code & 0x7F) << (16 + s.exp_bits)) + s.exponent_offset());
  return bits_to_float(bits);
}

uint8_t fp8_encode(float x, const Fp8Spec& s) {
  return fp8_encode_with(x, fp8_magnitudes(s));
}

Fp8Spec choose_fp8_spec(std::span<const float> values) {
  float maxabs = 0;
  for (float v : values)
    if (std::isfinite(v)) maxabs = std::max(maxabs, std::fabs(v));
  if (maxabs == 0) return Fp8Spec{};
  // At most 2^16 values decide (a fixed stride, so the choice is deterministic).
  const size_t stride = std::max<size_t>(1, values.size() >> 16);
  const int top = std::ilogb(maxabs);
  Fp8Spec best;
  double best_err = std::numeric_limits<double>::infinity();
  for (int e = 1; e <= 7; ++e) {
    for (int shift = 0; shift <= 1; ++shift) {
      // The largest code's binade holds maxabs (or one binade more, when rounding would saturate).
      const Fp8Spec s{e, (1 << e) - 1 - top - shift};
      if (s.bias < -100 || s.bias > 100) continue;  // decoded exponents stay normal fp32 ones
      const auto mag = fp8_magnitudes(s);
      double err = 0;
      for (size_t i = 0; i < values.size(); i += stride) {
        const float v = values[i];
        if (!std::isfinite(v)) continue;
        const double d = double(v) - double(fp8_decode(fp8_encode_with(v, mag), s));
        err += d * d;
      }
      if (err < best_err) best_err = err, best = s;
    }
  }
  return best;
}

namespace {
float daz(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.f, x) : x;
}
float bf16_at(uint32_t pair, int half) {
  return daz(bits_to_float(half ? pair & 0xFFFF0000u : pair << 16));
}
}  // namespace

float bf16_dot_step(float acc, uint32_t a_pair, uint32_t b_pair) {
  float t = daz(acc);
  t = daz(t + bf16_at(a_pair, 1) * bf16_at(b_pair, 1));
  t = daz(t + bf16_at(a_pair, 0) * bf16_at(b_pair, 0));
  return t;
}

}  // namespace eff::deft
