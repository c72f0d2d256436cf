#include "engine/value_transform.h"

#include <algorithm>
#include <cmath>

namespace eff {

double FixedPointFormat::step() const {
  return std::ldexp(1.0, -frac_bits);
}
double FixedPointFormat::max_value() const {
  return (std::ldexp(1.0, total_bits() - 1) - 1) * step();
}
double FixedPointFormat::min_value() const {
  return -std::ldexp(1.0, total_bits() - 1) * step();
}

void validate_fixed_point(const FixedPointFormat& f, const std::string& where) {
  if (f.int_bits < 1 || f.frac_bits < 0 || f.total_bits() > 16) {
    fail<ConfigError>(
        "{}: fixed point with int_bits={} (incl. sign) and frac_bits={} does not fit 16-bit two's "
        "complement (need int_bits >= 1, frac_bits >= 0, int_bits + frac_bits <= 16)",
        where, f.int_bits, f.frac_bits);
  }
}

int32_t to_fixed_int(float x, const FixedPointFormat& f) {
  const double lo = -std::ldexp(1.0, f.total_bits() - 1);
  const double hi = std::ldexp(1.0, f.total_bits() - 1) - 1;
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
// a power of two is exact, and |y| <= 2^16 leaves y - trunc(y) exact.
void quantize_block(float* __restrict data, int64_t n, float scale, float inv, int32_t lo, int32_t hi) {
  const float bound = 65536.0f;  // beyond any 16-bit code, yet exact as an int32
  for (int64_t i = 0; i < n; ++i) {
    float y = data[i] * scale;
    y = y == y ? y : 0.0f;  // NaN -> 0
    y = std::min(std::max(y, -bound), bound);
    int32_t t = static_cast<int32_t>(y);
    const float rest = y - static_cast<float>(t);
    t += (rest >= 0.5f ? 1 : 0) - (rest <= -0.5f ? 1 : 0);
    t = std::min(std::max(t, lo), hi);
    data[i] = static_cast<float>(t) * inv;
  }
}

void apply_fixed(float* data, int64_t n, const FixedPointFormat& f) {
  const float scale = static_cast<float>(std::ldexp(1.0, f.frac_bits));
  const float inv = static_cast<float>(f.step());
  const int32_t lo = -(int32_t{1} << (f.total_bits() - 1));
  const int32_t hi = (int32_t{1} << (f.total_bits() - 1)) - 1;
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 4)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    quantize_block(data + begin, std::min(kChunk, n - begin), scale, inv, lo, hi);
  }
}

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
