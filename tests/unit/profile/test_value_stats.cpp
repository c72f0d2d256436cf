// Value statistics of src/profile/value_stats.h on tiny hand-made tensors: zero and near-zero
// counts (negative values, per-MAC weights), the log2 histogram, fixed-point codes against the
// engine's own conversion, static precision at the saturation limits, popcount and Booth terms
// (runs of ones), the 8-bit variant, per-multiplication coverage and dynamic group precision
// (all-zero groups, partial channel chunks, partial window sets, padding).
//
// To add a case: build the values by hand, work the expected numbers out in a comment, and call
// the pure function directly; never take an expected number from the code under test.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "engine/value_transform.h"
#include "profile/value_stats.h"

namespace eff::profile {
namespace {

ValueContext integer_context(std::vector<float> thresholds = {}) {
  // I = 16, F = 0: codes are the integers themselves, so bit patterns are easy to read.
  return ValueContext{FixedPointFormat{16, 0}, Uniform8{}, std::move(thresholds)};
}

}  // namespace

TEST(ProfileValues, ZeroAndNearZeroFractionsCountNegativeValuesByMagnitude) {
  const std::vector<float> v = {0.0f, -0.5f, 0.02f, -0.01f, 3.0f, 0.0f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, integer_context({0.05f, 1.0f}), c);
  EXPECT_EQ(c.count, 6);
  EXPECT_EQ(c.zeros, 2);
  // |v| < 0.05: 0, 0.02, -0.01, 0 -> 4 (zeros included); |v| < 1: also -0.5 -> 5.
  EXPECT_EQ(c.below[0], 4);
  EXPECT_EQ(c.below[1], 5);
  EXPECT_FLOAT_EQ(c.min, -0.5f);
  EXPECT_FLOAT_EQ(c.max, 3.0f);
  // (0 - 0.5 + 0.02 - 0.01 + 3 + 0) = 2.51
  EXPECT_NEAR(c.sum, 2.51, 1e-6);
}

TEST(ProfileValues, PerMacCountsWeighEachValueByTheMacsItFeeds) {
  // Values feed 1, 2, 1 window positions, times 3 filters: weights 3, 6, 3 (total 12).
  const std::vector<float> v = {0.0f, 0.0f, 2.0f};
  const std::vector<int64_t> cov = {1, 2, 1};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), cov.data(), 3, integer_context({0.5f}), c);
  EXPECT_EQ(c.count_mac, 12);
  EXPECT_EQ(c.zeros, 2);
  EXPECT_EQ(c.zeros_mac, 9);  // 3 + 6: the zero in the middle feeds twice as many MACs
  EXPECT_EQ(c.below_mac[0], 9);
  // 2 = 0b10: one bit, one term, fed to 3 MACs.
  EXPECT_EQ(c.popcount16, 1);
  EXPECT_EQ(c.popcount16_mac, 3);
  EXPECT_EQ(c.nonzero16_mac, 3);
}

TEST(ProfileValues, Log2HistogramBinsByFloorOfLog2AndClampsTheEnds) {
  const std::vector<float> v = {1.0f, 1.5f, 2.0f, 0.25f, -3.0f, 0.0f, 1e-30f, 1e20f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, integer_context(), c);
  auto bin = [&](int k) { return c.log2_hist[k - kLog2Min]; };
  EXPECT_EQ(bin(0), 2);         // 1, 1.5
  EXPECT_EQ(bin(1), 2);         // 2, |-3|
  EXPECT_EQ(bin(-2), 1);        // 0.25
  EXPECT_EQ(bin(kLog2Min), 1);  // 1e-30 ~ 2^-99.7, below the first bin
  EXPECT_EQ(bin(kLog2Max), 1);  // 1e20 ~ 2^66.4, above the last bin
  int64_t total = 0;
  for (int64_t n : c.log2_hist) total += n;
  EXPECT_EQ(total + c.zeros, c.count);  // the zero is not binned
}

TEST(ProfileValues, FixedFormatFromRangeIsTheSmallestIntegerPartThatHoldsTheMax) {
  // 5.3 = 0.6625 * 2^3: floor(log2) = 2, I = 4 holds [-8, 8); F = 12.
  EXPECT_EQ(fixed_format_for_range(5.3), (FixedPointFormat{4, 12}));
  // Exactly 4 = 2^2: I = 4 still (max 8 - 2^-12 > 4).
  EXPECT_EQ(fixed_format_for_range(4.0), (FixedPointFormat{4, 12}));
  // 0.3: floor(log2) = -2 -> I = 0, clamped to the sign bit alone.
  EXPECT_EQ(fixed_format_for_range(0.3), (FixedPointFormat{1, 15}));
  EXPECT_EQ(fixed_format_for_range(0.0), (FixedPointFormat{1, 15}));
  // 40000: floor(log2) = 15 -> I = 17, clamped to 16.
  EXPECT_EQ(fixed_format_for_range(40000.0), (FixedPointFormat{16, 0}));
}

TEST(ProfileValues, FixedCodesMatchTheEngineConversionIncludingTiesAndSaturation) {
  const FixedPointFormat f{4, 12};
  for (float x : {0.0f, 1.0f, -1.0f, 0.5f / 4096, -0.5f / 4096, 1.5f / 4096, 7.99f, 8.0f, 100.0f, -8.0f, -9.0f,
                  3.14159f, -2.71828f}) {
    EXPECT_EQ(fixed_code(x, f).code, to_fixed_int(x, f)) << x;
    // The counters' inlined path: its 16-bit popcount equals that of the engine's code.
    ValueCounters c;
    accumulate_values(&x, 1, nullptr, 1, ValueContext{f, Uniform8{}, {}}, c);
    EXPECT_EQ(c.popcount16, std::popcount(static_cast<unsigned>(std::min(std::abs(to_fixed_int(x, f)), 32767)))) << x;
  }
  EXPECT_TRUE(fixed_code(8.0f, f).saturated);    // 8 * 4096 = 32768 > 32767
  EXPECT_FALSE(fixed_code(-8.0f, f).saturated);  // -32768 is representable
  EXPECT_TRUE(fixed_code(-9.0f, f).saturated);
}

TEST(ProfileValues, StaticPrecisionAtTheSaturationLimits) {
  const FixedPointFormat f{4, 12};
  // 7.999755859375 = 32767 / 4096: code 32767 = 0x7fff, msb 14, lsb 0.
  // 100 saturates to 32767. -8 = code -32768, magnitude saturates to 32767 and is negative.
  const std::vector<float> v = {32767.0f / 4096, 100.0f, -8.0f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, ValueContext{f, Uniform8{}, {}}, c);
  EXPECT_EQ(c.saturated, 1);
  EXPECT_EQ(c.msb_max, 14);
  EXPECT_EQ(c.lsb_min, 0);
  EXPECT_TRUE(c.negative);
  EXPECT_EQ(c.popcount16, 3 * 15);
}

TEST(ProfileValues, StaticPrecisionOfSmallPositiveValues) {
  // 0.5 and 0.25 in I=4, F=12: codes 2048 (bit 11) and 1024 (bit 10): msb 11, lsb 10, unsigned.
  const std::vector<float> v = {0.5f, 0.25f, 0.0f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, ValueContext{FixedPointFormat{4, 12}, Uniform8{}, {}}, c);
  EXPECT_EQ(c.msb_max, 11);
  EXPECT_EQ(c.lsb_min, 10);
  EXPECT_FALSE(c.negative);
  EXPECT_EQ(c.saturated, 0);
  EXPECT_EQ(c.nonzero16, 2);
}

TEST(ProfileValues, AllZeroValuesLeaveMsbUnsetAndLsbAtSixteen) {
  const std::vector<float> v = {0.0f, 0.0f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, integer_context(), c);
  EXPECT_EQ(c.msb_max, -1);
  EXPECT_EQ(c.lsb_min, 16);
  EXPECT_EQ(c.popcount16, 0);
  EXPECT_EQ(c.booth16, 0);
}

TEST(ProfileValues, PopcountAndBoothTermsIncludingARunOfOnes) {
  // 127 = 0b1111111: 7 ones; Booth-like recoding: 128 - 1 -> 2 terms.
  // 5 = 0b101: 2 ones, 2 terms (no run).  -6 -> magnitude 0b110: 2 ones; two ones are not a run
  // of three, so 2 terms.  0: nothing.
  const std::vector<float> v = {127.0f, 5.0f, -6.0f, 0.0f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, integer_context(), c);
  EXPECT_EQ(c.popcount16, 7 + 2 + 2);
  EXPECT_EQ(c.booth16, 2 + 2 + 2);
  EXPECT_EQ(c.nonzero16, 3);
  EXPECT_TRUE(c.negative);
}

TEST(ProfileValues, EightBitCodesUnsignedAndSigned) {
  // Unsigned range [0, 15.9375]: scale 15.9375 / 255 = 1/16.
  // 1 -> 16 (1 one), 15.9375 -> 255 (8 ones), 0.03 -> 0.48 -> 0, 0.1 -> 1.6 -> 2 (1 one).
  {
    const Uniform8 u = Uniform8::for_range(0.0f, 15.9375f);
    EXPECT_FLOAT_EQ(u.scale, 1.0f / 16);
    EXPECT_FALSE(u.is_signed);
    const std::vector<float> v = {1.0f, 15.9375f, 0.03f, 0.1f};
    ValueCounters c;
    accumulate_values(v.data(), v.size(), nullptr, 1, ValueContext{FixedPointFormat{16, 0}, u, {}}, c);
    EXPECT_EQ(c.popcount8, 1 + 8 + 0 + 1);
    EXPECT_EQ(c.nonzero8, 3);
    // 255 = 0b11111111 -> 256 - 1: 2 terms; 16 and 2: 1 term each.
    EXPECT_EQ(c.booth8, 2 + 1 + 1);
  }
  // Signed range [-7.9375, 2]: absmax 7.9375 = 127/16, scale 1/16. -7.9375 -> -127 (7 ones),
  // 0.5 -> 8 (1 one).
  {
    const Uniform8 u = Uniform8::for_range(-7.9375f, 2.0f);
    EXPECT_TRUE(u.is_signed);
    EXPECT_EQ(u.code(-7.9375f), -127);
    EXPECT_EQ(u.code(-100.0f), -127);  // clamped
    const std::vector<float> v = {-7.9375f, 0.5f};
    ValueCounters c;
    accumulate_values(v.data(), v.size(), nullptr, 1, ValueContext{FixedPointFormat{16, 0}, u, {}}, c);
    EXPECT_EQ(c.popcount8, 7 + 1);
  }
  // An all-zero range gives code 0 everywhere.
  EXPECT_EQ(Uniform8::for_range(0.0f, 0.0f).code(1.0f), 0);
}

TEST(ProfileValues, NonFiniteValuesAreCountedApartAndNotAsZeros) {
  const std::vector<float> v = {std::nanf(""), 1.0f, INFINITY, 0.0f};
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, integer_context({0.5f}), c);
  EXPECT_EQ(c.count, 4);
  EXPECT_EQ(c.nonfinite, 2);
  EXPECT_EQ(c.zeros, 1);
  EXPECT_EQ(c.below[0], 1);
  EXPECT_FLOAT_EQ(c.max, 1.0f);
  EXPECT_FLOAT_EQ(c.min, 0.0f);
}

TEST(ProfileValues, FiniteRangeSkipsNonFiniteValuesAndIncludesZero) {
  // 11 values: the 8-lane body and a 3-value tail both see an extreme and a non-finite value.
  const std::vector<float> v = {1, 2, NAN, 3, 0.5f, INFINITY, 1, 1, 9, -INFINITY, 4};
  float lo = 1, hi = 1;
  finite_range(v.data(), v.size(), lo, hi);
  EXPECT_FLOAT_EQ(lo, 0.0f);  // positive data: the range still starts at 0
  EXPECT_FLOAT_EQ(hi, 9.0f);
  const std::vector<float> w = {-3, 1, 2};
  finite_range(w.data(), w.size(), lo, hi);
  EXPECT_FLOAT_EQ(lo, -3.0f);
  EXPECT_FLOAT_EQ(hi, 2.0f);
}

TEST(ProfileValues, LongRunsCountTheSameAsValueByValue) {
  // 1000 values (several 256-value chunks, a partial one, 16-lane vector bodies and tails) with
  // zeros, negatives, saturating and tiny values, non-finite ones, per-MAC weights 1..9 and a
  // signed 8-bit range: counted in one call, and one value per call (scalar path only).
  const FixedPointFormat f{3, 13};
  std::vector<float> v(1000);
  std::vector<int64_t> cov(v.size());
  uint32_t state = 12345;
  for (size_t i = 0; i < v.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    const float r = static_cast<float>(state >> 8) / static_cast<float>(1u << 24);  // [0, 1)
    v[i] = i % 3 == 0 ? 0.0f : (r - 0.3f) * 10.0f;                                  // -3 .. 7: past the format's max 4
    if (i % 97 == 5) v[i] = 1e-6f;
    if (i % 331 == 7) v[i] = NAN;
    cov[i] = 1 + static_cast<int64_t>(i % 9);
  }
  const ValueContext ctx{f, Uniform8::for_range(-3.0f, 7.0f), {0.5f, 2.0f}};
  ValueCounters all, one;
  std::vector<uint8_t> w_all(v.size()), nz_all(v.size()), w_one(v.size()), nz_one(v.size());
  accumulate_values(v.data(), v.size(), cov.data(), 4, ctx, all, w_all.data(), nz_all.data());
  for (size_t i = 0; i < v.size(); ++i) accumulate_values(&v[i], 1, &cov[i], 4, ctx, one, &w_one[i], &nz_one[i]);
  EXPECT_EQ(all.count, one.count);
  EXPECT_EQ(all.count_mac, one.count_mac);
  EXPECT_EQ(all.zeros, one.zeros);
  EXPECT_EQ(all.zeros_mac, one.zeros_mac);
  EXPECT_EQ(all.nonfinite, one.nonfinite);
  EXPECT_EQ(all.below, one.below);
  EXPECT_EQ(all.below_mac, one.below_mac);
  EXPECT_EQ(all.log2_hist, one.log2_hist);
  EXPECT_EQ(all.saturated, one.saturated);
  EXPECT_GT(all.saturated, 0);
  for (auto [a, b] : {std::pair{all.nonzero16, one.nonzero16},
                      {all.nonzero16_mac, one.nonzero16_mac},
                      {all.popcount16, one.popcount16},
                      {all.popcount16_mac, one.popcount16_mac},
                      {all.booth16, one.booth16},
                      {all.booth16_mac, one.booth16_mac},
                      {all.nonzero8, one.nonzero8},
                      {all.nonzero8_mac, one.nonzero8_mac},
                      {all.popcount8, one.popcount8},
                      {all.popcount8_mac, one.popcount8_mac},
                      {all.booth8, one.booth8},
                      {all.booth8_mac, one.booth8_mac}}) {
    EXPECT_EQ(a, b);
  }
  EXPECT_EQ(all.msb_max, one.msb_max);
  EXPECT_EQ(all.lsb_min, one.lsb_min);
  EXPECT_EQ(all.negative, one.negative);
  EXPECT_FLOAT_EQ(all.min, one.min);
  EXPECT_FLOAT_EQ(all.max, one.max);
  EXPECT_NEAR(all.sum, one.sum, 1e-6 * std::fabs(one.sum) + 1e-6);
  EXPECT_EQ(w_all, w_one);
  EXPECT_EQ(nz_all, nz_one);
  // The 1e-6 values are below the format's step (2^-13): zero codes, but not zero values.
  EXPECT_LT(all.nonzero16, all.count - all.zeros);
}

TEST(ProfileValues, MergeAddsCountersAndKeepsExtremes) {
  const std::vector<float> a = {1.0f, 0.0f}, b = {-2.0f};
  ValueCounters ca, cb;
  accumulate_values(a.data(), a.size(), nullptr, 1, integer_context({0.5f}), ca);
  accumulate_values(b.data(), b.size(), nullptr, 1, integer_context({0.5f}), cb);
  ca.merge(cb);
  EXPECT_EQ(ca.count, 3);
  EXPECT_EQ(ca.zeros, 1);
  EXPECT_FLOAT_EQ(ca.min, -2.0f);
  EXPECT_FLOAT_EQ(ca.max, 1.0f);
  EXPECT_EQ(ca.msb_max, 1);  // 2 = 0b10
  EXPECT_TRUE(ca.negative);
}

// ---- per-multiplication coverage ---------------------------------------------------------------

TEST(ProfileCoverage, ThreeByThreeInputTwoByTwoKernelStrideOne) {
  // Outputs 0, 1 read inputs {0, 1} and {1, 2}: the middle one twice.
  EXPECT_EQ(coverage_1d(3, 2, 2, 1, 1, 0), (std::vector<int64_t>{1, 2, 1}));
}

TEST(ProfileCoverage, StrideTwoWithPaddingOne) {
  // out = (3 + 2 - 2) / 2 + 1 = 2; o=0 reads -1 (padding), 0; o=1 reads 1, 2.
  EXPECT_EQ(coverage_1d(3, 2, 2, 2, 1, 1), (std::vector<int64_t>{1, 1, 1}));
}

TEST(ProfileCoverage, StrideOneWithPaddingOne) {
  // out = 4: o=0 reads -1, 0; o=1: 0, 1; o=2: 1, 2; o=3: 2, 3 (padding).
  EXPECT_EQ(coverage_1d(3, 4, 2, 1, 1, 1), (std::vector<int64_t>{2, 2, 2}));
}

TEST(ProfileCoverage, DilationSkipsTheMiddle) {
  // k=2, dilation 2: the single output reads inputs 0 and 2.
  EXPECT_EQ(coverage_1d(3, 1, 2, 1, 2, 0), (std::vector<int64_t>{1, 0, 1}));
}

TEST(ProfileCoverage, WithoutPaddingCoverageTimesFiltersPerGroupIsTheMacCount) {
  // Conv 5x7 input, 3x2 kernel, stride 2x1, 6 channels, 8 filters, 2 groups.
  const int64_t Ny = 5, Nx = 7, Ky = 3, Kx = 2, Oy = (Ny - Ky) / 2 + 1, Ox = Nx - Kx + 1;
  const auto cy = coverage_1d(Ny, Oy, Ky, 2, 1, 0), cx = coverage_1d(Nx, Ox, Kx, 1, 1, 0);
  int64_t sy = 0, sx = 0;
  for (int64_t v : cy) sy += v;
  for (int64_t v : cx) sx += v;
  const int64_t channels = 6, filters = 8, groups = 2;
  // MACs = Ox * Oy * Nf * (Ni / g) * Kx * Ky
  EXPECT_EQ(sy * sx * channels * (filters / groups), Ox * Oy * filters * (channels / groups) * Kx * Ky);
}

// ---- dynamic group precision ----------------------------------------------------------------------

namespace {

LayerGeometry conv_geometry(int64_t ni, int64_t ny, int64_t nx, int64_t k, int64_t pad) {
  LayerGeometry g;
  g.kind = "conv";
  g.Ni = ni;
  g.Ny = ny;
  g.Nx = nx;
  g.Ky = g.Kx = k;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = pad;
  g.Oy = ny + 2 * pad - k + 1;
  g.Ox = nx + 2 * pad - k + 1;
  g.Nf = 1;
  return g;
}

}  // namespace

TEST(ProfileGroups, PartialChannelChunkAndAnAllZeroGroup) {
  // 1x1 conv over a 1x2 input with 20 channels: chunks of 16 are channels 0-15 and 16-19.
  // Widths [c][x]: chunk 0 at x=0 peaks at 5, at x=1 at 3; chunk 1 at x=0 is all zero (width 1),
  // at x=1 peaks at 7.
  const LayerGeometry g = conv_geometry(20, 1, 2, 1, 0);
  std::vector<uint8_t> width(40, 1), nonzero(40, 0);
  auto set = [&](int c, int x, uint8_t w) {
    width[c * 2 + x] = w;
    nonzero[c * 2 + x] = 1;
  };
  set(3, 0, 5);
  set(15, 0, 2);
  set(0, 1, 3);
  set(19, 1, 7);
  set(16, 1, 4);
  GroupCounters one;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 1}, one);
  // 2 windows x 1 tap x 2 chunks = 4 groups of widths 5, 1, 3, 7.
  EXPECT_EQ(one.groups, 4);
  EXPECT_EQ(one.width_sum, 16);
  EXPECT_DOUBLE_EQ(one.average(), 4.0);
  EXPECT_EQ(one.all_zero, 1);
  EXPECT_EQ(one.hist[1], 1);
  EXPECT_EQ(one.hist[3], 1);
  EXPECT_EQ(one.hist[5], 1);
  EXPECT_EQ(one.hist[7], 1);
  GroupCounters two;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 2}, two);
  // Both windows together: chunk 0 max(5, 3) = 5, chunk 1 max(1, 7) = 7.
  EXPECT_EQ(two.groups, 2);
  EXPECT_EQ(two.width_sum, 12);
  EXPECT_EQ(two.all_zero, 0);
}

TEST(ProfileGroups, PaddingReadsCountAsZeros) {
  // A 1x1 single-channel input under a 3x3 kernel with padding 1: one window, 9 taps, 8 of them
  // read padding (width 1, zero); the centre reads a value of width 6.
  const LayerGeometry g = conv_geometry(1, 1, 1, 3, 1);
  const std::vector<uint8_t> width = {6}, nonzero = {1};
  GroupCounters c;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 1}, c);
  EXPECT_EQ(c.groups, 9);
  EXPECT_EQ(c.all_zero, 8);
  EXPECT_EQ(c.width_sum, 8 * 1 + 6);
  EXPECT_EQ(c.hist[1], 8);
  EXPECT_EQ(c.hist[6], 1);
  GroupCounters walked;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 1}, walked, true);
  EXPECT_EQ(walked.width_sum, 8 * 1 + 6);
  EXPECT_EQ(walked.all_zero, 8);
}

TEST(ProfileGroups, OneWindowShortcutEqualsTheWindowWalk) {
  // Stride 2, padding 1, dilation 1, 3x3 kernel over a 5x4 input with 20 channels (a partial
  // chunk) and pseudo-random widths with zeros: both ways must give the same histogram.
  LayerGeometry g = conv_geometry(20, 5, 4, 3, 1);
  g.stride_y = g.stride_x = 2;
  g.Oy = (5 + 2 - 3) / 2 + 1;
  g.Ox = (4 + 2 - 3) / 2 + 1;
  std::vector<uint8_t> width(20 * 5 * 4), nonzero(width.size());
  for (size_t i = 0; i < width.size(); ++i) {
    nonzero[i] = (i * 7) % 3 != 0;
    width[i] = nonzero[i] ? static_cast<uint8_t>(1 + (i * 13) % 15) : 1;
  }
  GroupCounters fast, walked;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 1}, fast);
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 1}, walked, true);
  EXPECT_EQ(fast.groups, g.Ox * g.Oy * 9 * 2);
  EXPECT_EQ(fast.groups, walked.groups);
  EXPECT_EQ(fast.width_sum, walked.width_sum);
  EXPECT_EQ(fast.all_zero, walked.all_zero);
  EXPECT_EQ(fast.hist, walked.hist);
}

TEST(ProfileGroups, PartialWindowSet) {
  // 1x1 conv over a 1x3 input, one channel: windows 0, 1 | 2 with 2 windows per group.
  const LayerGeometry g = conv_geometry(1, 1, 3, 1, 0);
  const std::vector<uint8_t> width = {2, 9, 4}, nonzero = {1, 1, 1};
  GroupCounters c;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 2}, c);
  EXPECT_EQ(c.groups, 2);
  EXPECT_EQ(c.width_sum, 9 + 4);
}

TEST(ProfileGroups, ConvGroupsDoNotShareLanes) {
  // 4 channels in 2 conv groups of 2: chunks never span a group boundary, so 16-lane groups
  // hold 2 channels each: widths max(3, 1) = 3 and max(8, 2) = 8.
  LayerGeometry g = conv_geometry(4, 1, 1, 1, 0);
  g.groups = 2;
  const std::vector<uint8_t> width = {3, 1, 8, 2}, nonzero = {1, 1, 1, 1};
  GroupCounters c;
  accumulate_groups_conv(g, width.data(), nonzero.data(), GroupShape{16, 1}, c);
  EXPECT_EQ(c.groups, 2);
  EXPECT_EQ(c.width_sum, 11);
}

TEST(ProfileGroups, FullyConnectedRowsInChunksOfChannels) {
  // 2 rows of 20 values: 16x1 -> 4 groups; 16x2 -> 2 groups.
  std::vector<uint8_t> width(40, 1), nonzero(40, 0);
  width[5] = 4, nonzero[5] = 1;         // row 0, chunk 0
  width[20 + 17] = 9, nonzero[37] = 1;  // row 1, chunk 1
  GroupCounters one, two;
  accumulate_groups_rows(2, 20, width.data(), nonzero.data(), GroupShape{16, 1}, one);
  accumulate_groups_rows(2, 20, width.data(), nonzero.data(), GroupShape{16, 2}, two);
  EXPECT_EQ(one.groups, 4);
  EXPECT_EQ(one.width_sum, 4 + 1 + 1 + 9);
  EXPECT_EQ(one.all_zero, 2);
  EXPECT_EQ(two.groups, 2);
  EXPECT_EQ(two.width_sum, 4 + 9);
}

TEST(ProfileGroups, ValueWidthsAddOneForANegativeSign) {
  // Widths stored by accumulate_values: 5 = 0b101 -> 3; -5 -> 3 + 1 sign = 4; 0 -> 1.
  const std::vector<float> v = {5.0f, -5.0f, 0.0f};
  std::vector<uint8_t> width(3), nonzero(3);
  ValueCounters c;
  accumulate_values(v.data(), v.size(), nullptr, 1, integer_context(), c, width.data(), nonzero.data());
  EXPECT_EQ(width, (std::vector<uint8_t>{3, 4, 1}));
  EXPECT_EQ(nonzero, (std::vector<uint8_t>{1, 1, 0}));
}

}  // namespace eff::profile
