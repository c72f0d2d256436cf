// DeftNN's packed value formats (seed 004 section 4.2, Figure 7(d-e) and Figure 8) as scalar
// encode/decode rules. The kernels in deft/gemm.h unpack the same bits in registers right before
// the multiply ("near-compute data fission"); these functions are their bit-exact reference.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace eff::deft {

// How a GEMM's packed (weight) operand is stored, and how the products are formed.
enum class Format {
  kFp32,     // no packing: the baseline kernel of the family
  kDeft16,   // upper 16 bits of fp32 (bf16 bits); fission = shift / mask, multiply in fp32
  kDeft16Q,  // two Deft-16 values per 32-bit word; the high one keeps the low one's bits as extra
             // mantissa (no mask: Figure 7(e)'s "quick" fission)
  kFp8,      // 8 bits: sign, E exponent bits (1..7), 7-E mantissa bits, per-layer bias (Figure 8)
  kBf16Dot,  // Deft-16 weights and activations rounded to bf16, pairs multiplied by the CPU's bf16
             // dot-product instruction (vdpbf16ps) as the fission unit, emulated where absent
  kInt8,     // beyond the paper: s8 weights (per output channel scale), u8 activations (per-layer
             // scale and zero point from calibration), int32 sums on VNNI (vpdpbusd) through
             // oneDNN's u8s8 kernels; deft/int8_layer.h. Not a GEMM-family format (pack_weights
             // refuses it).
};
std::string format_name(Format f);
// "fp32", "deft16", "deft16q", "fp8", "bf16dot", "int8"; ConfigError-free: returns false when unknown.
bool parse_format(const std::string& name, Format& out);
std::span<const Format> all_formats();
// The formats of the packed-weight GEMM family (deft/gemm.h): every format but kInt8.
std::span<const Format> gemm_formats();

inline float bits_to_float(uint32_t u) {
  return std::bit_cast<float>(u);
}
inline uint32_t float_to_bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

// fp32 -> upper 16 bits, rounded to nearest even (NaN stays NaN). Packing is offline, so it
// rounds rather than truncating as the paper's Deft-16 does; the fission rule is the same.
// Inline: the bf16dot kernels round every activation with it (a call per value was half of a
// non-AMX bf16dot conv's time).
inline uint16_t to_deft16(float x) {
  const uint32_t u = float_to_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
inline float from_deft16(uint16_t h) {
  return bits_to_float(uint32_t(h) << 16);
}
// Deft-16Q word of the pair (lo, hi): the high value decodes from the whole word.
inline uint32_t pack_deft16q(uint16_t lo, uint16_t hi) {
  return (uint32_t(hi) << 16) | lo;
}
inline float deft16q_high(uint32_t w) {
  return bits_to_float(w);
}
inline float deft16q_low(uint32_t w) {
  return bits_to_float(w << 16);
}

// The 8-bit float: value = (-1)^S * 2^(e - bias) * (1.m) for e > 0; every code with e = 0 is 0
// (no subnormals: a subnormal fp32 operand costs a microcode assist on x86, and Figure 8's unit has
// no subnormal path either). Fission adds the bias difference to the exponent as Figure 8 does:
// bits = S << 31 | ((e:m) << (23 - (7 - E))) + ((127 - bias) << 23), zeroed where e = 0.
struct Fp8Spec {
  int exp_bits = 4;  // 1..7
  int bias = 7;
  uint32_t exponent_offset() const { return uint32_t(127 - bias) << 23; }
  bool operator==(const Fp8Spec&) const = default;
};
float fp8_decode(uint8_t code, const Fp8Spec& s);
uint8_t fp8_encode(float x, const Fp8Spec& s);  // nearest code, ties to the even code; saturating
// The exponent width and bias with the least squared error on `values` (the layer's weights).
Fp8Spec choose_fp8_spec(std::span<const float> values);

// bf16 round-to-nearest-even of an fp32 (the activations of the bf16 dot-product kernel).
inline uint16_t to_bf16(float x) {
  return to_deft16(x);
}

// One step of vdpbf16ps as the CPU computes it (Intel SDM pseudocode): the odd pair first, then
// the even one, each product exact in fp32 and each sum rounded to nearest even; bf16 denormal
// inputs are read as zero and denormal results flushed to zero.
float bf16_dot_step(float acc, uint32_t a_pair, uint32_t b_pair);

// ---- int8 (beyond the paper: seed 004 has no integer format) ----------------------------------
// Weights: symmetric per output channel, scale_w[m] = max |w[m][:]| / 127 (1 for a channel of zeros,
// so that no scale is 0 or NaN), code = nearbyint(w / scale_w[m]) (ties to even) in -127..127.
// Activations: u8 with one scale and zero point per layer from calibration (Int8Input), code =
// nearbyint(clamp(x * (1 / scale), -zero, 255 - zero)) + zero (NaN: code 0). Sums of code products exact in int32;
// out = fma(float(acc), scale_x * scale_w[m], bias[m]), then max(out, 0) for a fused Relu
// (int8_output below: the one rule the kernels equal bit for bit).
struct Int8Input {
  float scale = 1.f;  // > 0
  int32_t zero = 0;   // 0..255; 0 when the calibration never saw a negative input (after a ReLU)
  float inverse() const { return 1.f / scale; }
  bool operator==(const Int8Input&) const = default;
};
// The scale and zero point for inputs seen in [lo, hi] (the range is widened to hold 0, so 0 is
// a code exactly). Never negative: zero 0, scale hi / 255; else scale (hi - lo) / 255, zero
// nearbyint(-lo / scale). A range of only 0: scale 1.
Int8Input choose_int8_input(float lo, float hi);
// Whether a plan's stored values are usable (finite positive scale, zero in 0..255).
bool valid_int8_input(const Int8Input& q);

inline uint8_t quantize_int8_input(float x, float inverse, int32_t zero) {
  float v = x * inverse;
  const float lo = static_cast<float>(-zero), hi = static_cast<float>(255 - zero);
  v = v > lo ? v : lo;  // NaN becomes lo (code 0), as the vector max does
  v = v < hi ? v : hi;
  return static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(v)) + zero);
}

float int8_weight_scale(const float* row, int64_t k);  // max |w| / 127 over finite w, 1 when 0
int8_t quantize_int8_weight(float w, float scale);     // nearbyint(w / scale) in -127..127; NaN 0

inline float int8_output(int32_t acc, float combined_scale, float bias, bool relu) {
  const float v = std::fma(static_cast<float>(acc), combined_scale, bias);
  return relu ? (v > 0.f ? v : 0.f) : v;  // NaN becomes 0, as the vector max does
}
// A residual block fused in (the unfused Add and Relu nodes' bits): (fma(...) + shortcut), then the Relu.
inline float int8_output_residual(int32_t acc, float combined_scale, float bias, float shortcut, bool relu) {
  const float v = std::fma(static_cast<float>(acc), combined_scale, bias) + shortcut;
  return relu ? (v > 0.f ? v : 0.f) : v;
}

}  // namespace eff::deft
