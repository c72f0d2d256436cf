// Bit-Pragmatic's per-brick cost: how many cycles one column (a row of PEs sharing a window)
// needs to stream the "oneffsets" (term positions) of its L lane activations through a two-stage
// shifter. Design-independent; the design files decide which bricks a column sees.
//
// Model (../shared/specs/accelerators.md §2.5; Albericio et al., MICRO'17, §4 "two-stage
// shifting"): every cycle the column picks the smallest pending term position m over its lanes
// (the shared second-stage shift); each lane whose lowest pending term lies in [m, m + 2^b - 1]
// (reachable with its private b-bit first-stage offset) consumes that one term. A brick with no
// term at all still takes one cycle. b >= 5 makes the window cover all 17 positions, i.e. a
// single-stage full shifter, where the cost is the largest per-lane term count.
#pragma once

#include <cstdint>

#include "core/bits.h"

namespace eff::sim::serial {

// Lanes per brick the kernels accept (bit-plane words are 64-bit lane masks).
inline constexpr int kMaxLanes = 64;
// Term positions: 0..15 for positional 16-bit magnitudes, up to 16 after Booth-like recoding.
inline constexpr int kTermPositions = 17;

enum class TermEncoding {
  kPositional,  // the magnitude's one bits (essential bits)
  kBooth,       // bits::booth_terms_mask: runs of ones become two terms
};

// bits::booth_terms_mask for every 16-bit magnitude, built once (256 KiB): the recoding scans 16
// positions with branches, too slow to redo for every activation of every layer.
const uint32_t* booth_mask_table();

// Term positions of one magnitude as a mask (bit k = a term at 2^k).
inline uint32_t term_mask(uint16_t magnitude, TermEncoding enc) {
  return enc == TermEncoding::kPositional ? magnitude : booth_mask_table()[magnitude];
}

// One term of a magnitude: +-2^position.
struct SignedTerm {
  int position = 0;
  int sign = 1;
};
// The terms with their signs, highest first, summing to `magnitude`. Positional terms are all
// positive; the Booth-like mask drops signs, which are recovered from the value: with the
// positions taken from the top, the lower terms always sum to less than 2^position in magnitude,
// so each term's sign is the sign of what is left to represent.
struct SignedTerms {
  SignedTerm term[kTermPositions];
  int count = 0;
  const SignedTerm* begin() const { return term; }
  const SignedTerm* end() const { return term + count; }
};
SignedTerms signed_terms(uint16_t magnitude, TermEncoding enc);

// A brick transposed into bit planes: plane[k] has bit i set when lane i has a term at k.
// Built once per brick; the cycle count then costs O(cycles * 2^b) word operations instead of a
// per-lane scan per cycle.
struct TermPlanes {
  uint64_t plane[kTermPositions] = {};
  int terms = 0;           // total terms over all lanes (the PE's shift-and-add count)
  int max_lane_terms = 0;  // the most terms any one lane holds
};

TermPlanes to_planes(const uint32_t* term_masks, int lanes);

// Cycles for one brick with a b-bit first stage (b = first_stage_bits, 0..16).
int pragmatic_brick_cycles(const TermPlanes& planes, int first_stage_bits);

inline int pragmatic_brick_cycles(const uint32_t* term_masks, int lanes, int first_stage_bits) {
  return pragmatic_brick_cycles(to_planes(term_masks, lanes), first_stage_bits);
}

}  // namespace eff::sim::serial
