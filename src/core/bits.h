// Value encodings shared by the profiler and the simulator: how many bits of a 16-bit fixed-point
// value are needed, and how many "terms" (non-zero digits) a bit-serial or term-serial unit
// processes. Definitions follow ../shared/specs/accelerators.md §2.0 item 5.
#pragma once

#include <bit>
#include <cstdint>

namespace eff::bits {

// Position of the most significant 1 of a 16-bit pattern; 0 for v == 0 (the spec's convention,
// which makes a zero cost the same one bit as the value 1).
inline int msb(uint16_t v) {
  return v == 0 ? 0 : 15 - std::countl_zero(static_cast<uint16_t>(v));
}
// Position of the least significant 1; 16 for v == 0.
inline int lsb(uint16_t v) {
  return v == 0 ? 16 : std::countr_zero(v);
}

// Bits a unit that skips leading zeros needs: msb + 1 (a zero costs 1).
inline int width(uint16_t v) {
  return msb(v) + 1;
}
// Bits when trailing zeros are trimmed too: msb - lsb + 1 (a zero costs 1).
inline int width_trimmed(uint16_t v) {
  return v == 0 ? 1 : msb(v) - lsb(v) + 1;
}

// Essential bits: the number of ones.
inline int popcount(uint16_t v) {
  return std::popcount(v);
}

// Booth-like recoding of a magnitude (Bit-Pragmatic's term encoding), as the spec defines it:
// scan k = 15..0 with a `run` flag. Returns the 17-bit mask of term positions (a run of ones
// ending at bit 15 emits a term at 16); the term count is its popcount. Never more terms than
// popcount(v); not always as few as the non-adjacent form.
uint32_t booth_terms_mask(uint16_t magnitude);
inline int booth_terms(uint16_t magnitude) {
  return std::popcount(booth_terms_mask(magnitude));
}

// Number of non-zero digits of the non-adjacent form (the minimum over signed-digit encodings):
// a reference point for how good a recoding could be.
inline int naf_weight(uint32_t v) {
  const uint64_t x = v;
  return std::popcount((x ^ (3 * x)) >> 1);
}

// A 16-bit two's-complement code as sign and magnitude (|-32768| saturates to 32767 so the
// magnitude always fits 15 bits, which is how a sign-magnitude 16-bit datapath stores it).
inline uint16_t magnitude(int32_t code) {
  const int32_t m = code < 0 ? -code : code;
  return static_cast<uint16_t>(m > 32767 ? 32767 : m);
}

}  // namespace eff::bits
