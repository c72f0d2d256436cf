// The design-independent bit-serial kernels of src/sim/serial/: Pragmatic's per-brick cycles
// (two-stage shifting), the FC rotation with a weight-load cost, Tartan's FC pipeline.
// Map: hand-worked bricks first, then a differential check against the spec's literal per-lane
// algorithm (written out below, independently of the bit-plane implementation), then invariants.
// To add a case: work the cycle count out in a comment, then assert it.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <random>
#include <vector>

#include "sim/serial/column_sync.h"
#include "sim/serial/terms.h"

namespace eff::sim::serial {
namespace {

// Spec §2.5, literally: repeat until all values are 0: m := min lsb over non-zero values; every
// non-zero value whose lsb <= m + 2^b - 1 clears its lowest term; cycles += 1. All zero: 1.
int reference_cycles(std::vector<uint32_t> v, int b) {
  int cycles = 0;
  for (;;) {
    int m = 99;
    for (uint32_t x : v) {
      if (x != 0) m = std::min(m, std::countr_zero(x));
    }
    if (m == 99) break;
    for (uint32_t& x : v) {
      if (x != 0 && std::countr_zero(x) <= m + (1 << b) - 1) x &= x - 1;
    }
    ++cycles;
  }
  return std::max(cycles, 1);
}

TEST(SerialPragmaticBrick, AllZeroBrickStillTakesOneCycle) {
  const uint32_t zeros[16] = {};
  for (int b = 0; b <= 5; ++b) EXPECT_EQ(pragmatic_brick_cycles(zeros, 16, b), 1);
  EXPECT_EQ(pragmatic_brick_cycles(zeros, 0, 2), 1);
}

TEST(SerialPragmaticBrick, OneLaneSpendsOneCyclePerTerm) {
  // 0b1011: terms at 0, 1, 3 -> 3 cycles whatever the first stage.
  const uint32_t v[1] = {0b1011};
  for (int b = 0; b <= 5; ++b) EXPECT_EQ(pragmatic_brick_cycles(v, 1, b), 3) << b;
}

TEST(SerialPragmaticBrick, FirstStageWindowDecidesWhichLanesAdvanceTogether) {
  // Lane 0 has a term at 0, lane 1 at 3. b = 0 or 1 (window 1 or 2 positions): cycle 1 takes
  // position 0 only, cycle 2 position 3 -> 2. b = 2 (positions 0..3): both in cycle 1 -> 1.
  const uint32_t v[2] = {0b0001, 0b1000};
  EXPECT_EQ(pragmatic_brick_cycles(v, 2, 0), 2);
  EXPECT_EQ(pragmatic_brick_cycles(v, 2, 1), 2);
  EXPECT_EQ(pragmatic_brick_cycles(v, 2, 2), 1);
}

TEST(SerialPragmaticBrick, TwoStageShiftingSplitsWideTermSpans) {
  // Lane 0: terms {0, 8}; lane 1: {4, 12}. b = 2 (window of 4): m = 0 takes lane 0's 0 (lane 1's 4
  // is out of reach), m = 4 takes lane 1's 4, m = 8 lane 0's 8, m = 12 lane 1's 12 -> 4 cycles.
  // b = 3 (window of 8): m = 0 takes 0 and 4, m = 8 takes 8 and 12 -> 2 cycles, as a full shifter.
  const uint32_t v[2] = {0x0101, 0x1010};
  EXPECT_EQ(pragmatic_brick_cycles(v, 2, 2), 4);
  EXPECT_EQ(pragmatic_brick_cycles(v, 2, 3), 2);
  EXPECT_EQ(pragmatic_brick_cycles(v, 2, 16), 2);
}

TEST(SerialPragmaticBrick, AllOnesSixteenBitValuesTakeSixteenCyclesLikeStripes) {
  // Every lane holds a term at every position: each cycle all lanes take the same position, so
  // 16 cycles: exactly Stripes' 16 at 16 bits, never fewer, whatever the first stage.
  uint32_t v[16];
  std::fill(v, v + 16, term_mask(0xFFFF, TermEncoding::kPositional));
  for (int b = 0; b <= 16; ++b) EXPECT_EQ(pragmatic_brick_cycles(v, 16, b), 16) << b;
  // Booth-like recoding turns the run into terms at 16 and 0: 2 cycles.
  std::fill(v, v + 16, term_mask(0xFFFF, TermEncoding::kBooth));
  EXPECT_EQ(pragmatic_brick_cycles(v, 16, 2), 2);
}

TEST(SerialPragmaticBrick, PlanesCountTermsAndDeepestLane) {
  const uint32_t v[3] = {0b1011, 0, 0b100000};
  const TermPlanes p = to_planes(v, 3);
  EXPECT_EQ(p.terms, 4);
  EXPECT_EQ(p.max_lane_terms, 3);
  EXPECT_EQ(p.plane[0], 0b001u);
  EXPECT_EQ(p.plane[1], 0b001u);
  EXPECT_EQ(p.plane[3], 0b001u);
  EXPECT_EQ(p.plane[5], 0b100u);
}

TEST(SerialPragmaticBrick, MatchesTheSpecAlgorithmOnRandomBricks) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    const int lanes = 1 + static_cast<int>(rng() % 20);  // includes lane counts that are not 16
    std::vector<uint32_t> v(lanes);
    const TermEncoding enc = trial % 2 ? TermEncoding::kBooth : TermEncoding::kPositional;
    for (auto& x : v) {
      const uint16_t mag = static_cast<uint16_t>(rng() % 3 == 0 ? 0 : rng() >> static_cast<int>(rng() % 16));
      x = term_mask(mag, enc);
    }
    for (int b = 0; b <= 5; ++b) {
      ASSERT_EQ(pragmatic_brick_cycles(v.data(), lanes, b), reference_cycles(v, b)) << trial << " b=" << b;
    }
  }
}

TEST(SerialPragmaticBrick, WithoutFirstStageCyclesEqualDistinctTermPositions) {
  // b = 0: each cycle consumes the smallest pending position in every lane holding it, so the
  // count is the number of distinct positions; and never fewer than the deepest lane's terms.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 500; ++trial) {
    uint32_t v[16];
    uint32_t any = 0;
    int deepest = 0;
    for (auto& x : v) {
      x = static_cast<uint16_t>(rng());
      any |= x;
      deepest = std::max(deepest, std::popcount(x));
    }
    ASSERT_EQ(pragmatic_brick_cycles(v, 16, 0), std::max(1, std::popcount(any)));
    for (int b = 1; b <= 5; ++b) ASSERT_GE(pragmatic_brick_cycles(v, 16, b), deepest);
  }
}

TEST(SerialTerms, SignedTermsSumToTheMagnitudeForEveryFifteenBitValue) {
  // Positional terms are the one bits, all positive; Booth-like terms sit where
  // bits::booth_terms_mask puts them and, with the recovered signs, still add up to the value.
  for (int v = 0; v < (1 << 15); ++v) {
    const uint16_t mag = static_cast<uint16_t>(v);
    for (TermEncoding enc : {TermEncoding::kPositional, TermEncoding::kBooth}) {
      int64_t sum = 0;
      uint32_t positions = 0;
      for (const SignedTerm& t : signed_terms(mag, enc)) {
        sum += t.sign * (int64_t{1} << t.position);
        positions |= 1u << t.position;
        if (enc == TermEncoding::kPositional) {
          ASSERT_EQ(t.sign, 1);
        }
      }
      ASSERT_EQ(sum, v);
      ASSERT_EQ(positions, term_mask(mag, enc));
    }
  }
  // 239 = 256 - 16 - 1 (the spec's worked example).
  const SignedTerms t = signed_terms(239, TermEncoding::kBooth);
  ASSERT_EQ(t.count, 3);
  EXPECT_EQ(t.term[0].position, 8);
  EXPECT_EQ(t.term[0].sign, 1);
  EXPECT_EQ(t.term[1].position, 4);
  EXPECT_EQ(t.term[1].sign, -1);
  EXPECT_EQ(t.term[2].position, 0);
  EXPECT_EQ(t.term[2].sign, -1);
}

TEST(SerialRotation, UnitDispatchIsTheSpecRotation) {
  // Spec §2.2 with costs 3, 3, 3 on 2 columns: t=0 c0 ends 3; t=1 c1 ends 4; t=2 waits for c0
  // until 3, ends 6; t=4. Layer = max(4, 6, 4) = 6.
  EXPECT_EQ(rotation_cycles_with_load({1, 1, 1}, {3, 3, 3}, 2), 6);
  EXPECT_EQ(rotation_cycles_with_load({}, {}, 4), 0);
}

TEST(SerialRotation, SerialWeightLoadsHoldTheSharedWires) {
  // Loom-like: loads of 4 cycles, columns busy 4 + 2*4 = 12. Step 0: c0 0..12, wires free at 4;
  // step 1: c1 4..16, wires free at 8; step 2: c0 free at 12 -> 12..24. Last = 24.
  EXPECT_EQ(rotation_cycles_with_load({4, 4, 4}, {12, 12, 12}, 2), 24);
  // 32 steps on 16 columns, load 3, busy 18 < 16 * 3: the wires are the bottleneck; step s
  // starts at 3s, the last at 93 and ends at 93 + 18 = 111.
  EXPECT_EQ(rotation_cycles_with_load(std::vector<int>(32, 3), std::vector<int>(32, 18), 16), 111);
}

TEST(SerialTartanFc, LoadOverlapsTheNextRoundsProcessing) {
  EXPECT_EQ(tartan_fc_cycles(0, 5, 9), 0);
  EXPECT_EQ(tartan_fc_cycles(1, 5, 9), 14);  // load 9, then process 5
  // 4 rounds, Pa 5, Pw 9: 9 + 3 * max(5, 9) + 5 = 41.
  EXPECT_EQ(tartan_fc_cycles(4, 5, 9), 41);
  EXPECT_EQ(tartan_fc_cycles(4, 9, 5), 5 + 3 * 9 + 9);
}

}  // namespace
}  // namespace eff::sim::serial
