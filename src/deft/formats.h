// DeftNN's packed value formats (seed 004 section 4.2, Figure 7(d-e) and Figure 8) as scalar
// encode/decode rules. The kernels in deft/gemm.h unpack the same bits in registers right before
// the multiply ("near-compute data fission"); these functions are their bit-exact reference.
#pragma once

#include <bit>
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
};
std::string format_name(Format f);
// "fp32", "deft16", "deft16q", "fp8", "bf16dot"; ConfigError-free: returns false when unknown.
bool parse_format(const std::string& name, Format& out);
std::span<const Format> all_formats();

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

}  // namespace eff::deft
