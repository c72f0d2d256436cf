#include "sim/serial/terms.h"

#include <bit>
#include <vector>

#include "core/error.h"

namespace eff::sim::serial {

const uint32_t* booth_mask_table() {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(1u << 16);
    for (uint32_t v = 0; v < t.size(); ++v) t[v] = bits::booth_terms_mask(static_cast<uint16_t>(v));
    return t;
  }();
  return table.data();
}

SignedTerms signed_terms(uint16_t magnitude, TermEncoding enc) {
  SignedTerms out;
  int64_t left = magnitude;
  uint32_t mask = term_mask(magnitude, enc);
  while (mask != 0) {
    const int position = 31 - std::countl_zero(mask);
    mask &= ~(1u << position);
    const int sign = left >= 0 ? 1 : -1;
    left -= sign * (int64_t{1} << position);
    out.term[out.count++] = {position, sign};
  }
  EFF_ASSERT(left == 0);
  return out;
}

TermPlanes to_planes(const uint32_t* term_masks, int lanes) {
  EFF_ASSERT(lanes >= 0 && lanes <= kMaxLanes);
  TermPlanes p;
  for (int i = 0; i < lanes; ++i) {
    uint32_t m = term_masks[i];
    const int n = std::popcount(m);
    p.terms += n;
    if (n > p.max_lane_terms) p.max_lane_terms = n;
    // Zero activations (most of them after ReLU) cost nothing here.
    while (m != 0) {
      p.plane[std::countr_zero(m)] |= uint64_t{1} << i;
      m &= m - 1;
    }
  }
  return p;
}

int pragmatic_brick_cycles(const TermPlanes& planes, int first_stage_bits) {
  EFF_ASSERT(first_stage_bits >= 0 && first_stage_bits <= 16);
  if (planes.terms == 0) return 1;
  // The first stage reaches every position: every lane advances every cycle.
  if (first_stage_bits >= 5) return planes.max_lane_terms;
  uint64_t plane[kTermPositions];
  for (int k = 0; k < kTermPositions; ++k) plane[k] = planes.plane[k];
  const int window = 1 << first_stage_bits;
  int cycles = 0;
  int lowest = 0;  // never decreases: terms are only removed
  for (;;) {
    while (lowest < kTermPositions && plane[lowest] == 0) ++lowest;
    if (lowest == kTermPositions) break;
    // Lanes whose lowest pending term is at j are the lanes of plane j not already seen lower in
    // the window; each of them consumes exactly that term this cycle.
    uint64_t advanced = 0;
    const int end = lowest + window < kTermPositions ? lowest + window : kTermPositions;
    for (int j = lowest; j < end; ++j) {
      const uint64_t take = plane[j] & ~advanced;
      plane[j] &= ~take;
      advanced |= take;
    }
    ++cycles;
  }
  return cycles;
}

}  // namespace eff::sim::serial
