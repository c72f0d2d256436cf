// Value encodings: hand-worked cases, plus whole-range averages quoted in
// ../shared/specs/accelerators.md (popcount 7.50, recoded 5.66, NAF 5.44 over all 15-bit values).
#include <gtest/gtest.h>

#include "core/bits.h"

namespace eff::bits {

TEST(Bits, MsbLsbWidthConventionsForZero) {
  EXPECT_EQ(msb(0), 0);
  EXPECT_EQ(lsb(0), 16);
  EXPECT_EQ(width(0), 1);
  EXPECT_EQ(width_trimmed(0), 1);
}

TEST(Bits, WidthsOfSmallValues) {
  EXPECT_EQ(msb(1), 0);
  EXPECT_EQ(width(1), 1);
  EXPECT_EQ(msb(0b101000), 5);
  EXPECT_EQ(lsb(0b101000), 3);
  EXPECT_EQ(width(0b101000), 6);
  EXPECT_EQ(width_trimmed(0b101000), 3);  // bits 5..3
  EXPECT_EQ(width(0x8000), 16);
  EXPECT_EQ(width_trimmed(0x8001), 16);
}

TEST(Bits, BoothRecodingOfRunsOfOnes) {
  // 0b0111 = 8 - 1: the run 2..0 becomes terms at 3 and 0.
  EXPECT_EQ(booth_terms_mask(0b0111), 0b1001u);
  // Two ones are not a run of three: kept as they are.
  EXPECT_EQ(booth_terms_mask(0b0110), 0b0110u);
  // The spec's example: 0b110110 -> 4 terms (NAF needs 3).
  EXPECT_EQ(booth_terms(0b110110), 4);
  EXPECT_EQ(naf_weight(0b110110), 3);
  // 0b11101111: enter the run at bit 7 (term at 8), isolated zero at bit 4 (term), leave at the end.
  // 239 = 256 - 16 - 1: terms at 8, 4 and 0.
  EXPECT_EQ(booth_terms_mask(0b11101111), (1u << 8) | (1u << 4) | 1u);
  // A run ending at bit 15 emits a term at 16.
  EXPECT_EQ(booth_terms_mask(0xF000), (1u << 16) | (1u << 12));
  EXPECT_EQ(booth_terms(0), 0);
  EXPECT_EQ(booth_terms(1), 1);
}

TEST(Bits, NafWeightOfKnownValues) {
  EXPECT_EQ(naf_weight(0), 0);
  EXPECT_EQ(naf_weight(1), 1);
  EXPECT_EQ(naf_weight(3), 2);       // 4 - 1
  EXPECT_EQ(naf_weight(7), 2);       // 8 - 1
  EXPECT_EQ(naf_weight(0b1011), 3);  // 16 - 4 - 1
}

TEST(Bits, AveragesOverAll15BitValuesMatchTheSpec) {
  double pop = 0, booth = 0, naf = 0;
  const int n = 1 << 15;
  for (int v = 0; v < n; ++v) {
    pop += popcount(static_cast<uint16_t>(v));
    booth += booth_terms(static_cast<uint16_t>(v));
    naf += naf_weight(static_cast<uint32_t>(v));
    ASSERT_LE(booth_terms(static_cast<uint16_t>(v)), popcount(static_cast<uint16_t>(v))) << v;
    ASSERT_GE(booth_terms(static_cast<uint16_t>(v)), naf_weight(static_cast<uint32_t>(v))) << v;
  }
  EXPECT_NEAR(pop / n, 7.50, 0.005);
  EXPECT_NEAR(booth / n, 5.66, 0.005);
  EXPECT_NEAR(naf / n, 5.44, 0.005);
}

TEST(Bits, MagnitudeSaturatesMostNegativeCode) {
  EXPECT_EQ(magnitude(-5), 5);
  EXPECT_EQ(magnitude(5), 5);
  EXPECT_EQ(magnitude(-32768), 32767);
}

}  // namespace eff::bits
