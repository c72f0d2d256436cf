// Value hooks: fixed-point quantization, pruning, uniform 8-bit, and the files that configure them.
// Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/transform_files.h"
#include "engine/value_transform.h"

namespace eff {

TEST(FixedPoint, RangeOfFormats) {
  // 16 bits, 8 fraction bits: step 2^-8, range [-128, 128 - 2^-8].
  FixedPointFormat f{8, 8};
  EXPECT_DOUBLE_EQ(f.step(), 1.0 / 256);
  EXPECT_DOUBLE_EQ(f.max_value(), 128.0 - 1.0 / 256);
  EXPECT_DOUBLE_EQ(f.min_value(), -128.0);
  // 4 bits incl. sign, no fraction: integers -8..7.
  FixedPointFormat g{4, 0};
  EXPECT_DOUBLE_EQ(g.max_value(), 7);
  EXPECT_DOUBLE_EQ(g.min_value(), -8);
}

TEST(FixedPoint, RoundsToNearestTiesAwayFromZeroAndSaturates) {
  FixedPointFormat f{3, 2};                           // 5 bits: step 0.25, range [-4, 3.75]
  EXPECT_FLOAT_EQ(quantize_fixed(1.1f, f), 1.0f);     // 4.4 steps -> 4
  EXPECT_FLOAT_EQ(quantize_fixed(1.125f, f), 1.25f);  // 4.5 steps -> 5 (away from zero)
  EXPECT_FLOAT_EQ(quantize_fixed(-1.125f, f), -1.25f);
  EXPECT_FLOAT_EQ(quantize_fixed(100.0f, f), 3.75f);  // saturates at 15 steps
  EXPECT_FLOAT_EQ(quantize_fixed(-100.0f, f), -4.0f);
  EXPECT_EQ(to_fixed_int(3.75f, f), 15);
  EXPECT_EQ(to_fixed_int(-4.0f, f), -16);
  EXPECT_EQ(to_fixed_int(0.1f, f), 0);  // 0.4 steps
}

TEST(FixedPoint, InPlaceTransformMatchesScalar) {
  FixedPointFormat f{2, 6};
  std::vector<float> v = {0.0f, 0.01f, -0.5f, 1.99f, 2.5f, -3.0f, 0.0078125f};
  OperandSpec s;
  s.kind = OperandTransform::kFixedPoint;
  s.fixed = f;
  std::vector<float> w = v;
  apply_operand_transform(w.data(), static_cast<int64_t>(w.size()), s);
  // Range of (2, 6): [-2, 2 - 1/64]. 0.0078125 = 0.5 steps -> 1 step = 0.015625.
  std::vector<float> expect = {0.0f, 0.015625f, -0.5f, 1.984375f, 1.984375f, -2.0f, 0.015625f};
  for (size_t i = 0; i < v.size(); ++i) EXPECT_FLOAT_EQ(w[i], expect[i]) << i;
}

// The bulk transform is vectorised; it must agree bit for bit with the definition (round half away
// from zero in double, then saturate) on ties, near-ties, NaN, infinities, denormals and
// out-of-range values, for every format width and for lengths that are not a vector multiple.
TEST(FixedPoint, BulkTransformAgreesWithDefinitionOnEdgeCases) {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          1e30f,
                          -1e30f,
                          std::numeric_limits<float>::denorm_min(),
                          65535.5f,
                          -65536.5f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-300.0f, 300.0f);
  for (int i = 0; i < 2000; ++i) v.push_back(wide(rng));
  for (int k = -40; k <= 40; ++k) {  // exact ties and their float neighbours, in units of 2^-8 steps
    const float tie = (static_cast<float>(k) + 0.5f) / 256.0f;
    v.push_back(tie);
    v.push_back(std::nextafter(tie, 0.0f));
    v.push_back(std::nextafter(tie, 1e9f * (tie < 0 ? -1.0f : 1.0f)));
  }
  v.push_back(0.49999997f);
  v.push_back(-0.49999997f);
  for (int int_bits = 1; int_bits <= 16; int_bits += 3) {
    for (int frac_bits = 0; int_bits + frac_bits <= 16; frac_bits += 4) {
      OperandSpec s;
      s.kind = OperandTransform::kFixedPoint;
      s.fixed = {int_bits, frac_bits};
      std::vector<float> w = v;
      apply_operand_transform(w.data(), static_cast<int64_t>(w.size()), s);
      // The executor's fused path: pruning at 0.75 first, then the same quantization, out of place.
      const float threshold = 0.75f;
      std::vector<float> fused(v.size());
      prune_and_quantize_fixed(v.data(), fused.data(), static_cast<int64_t>(v.size()), threshold, s.fixed);
      const double lo = -std::ldexp(1.0, int_bits + frac_bits - 1), hi = -lo - 1;
      for (size_t i = 0; i < v.size(); ++i) {
        const double x = std::isnan(v[i]) ? 0.0 : static_cast<double>(v[i]);
        const double code = std::clamp(std::round(x * std::ldexp(1.0, frac_bits)), lo, hi);
        const float expect = static_cast<float>(code * std::ldexp(1.0, -frac_bits));
        ASSERT_EQ(w[i], expect) << "x=" << v[i] << " format (" << int_bits << "," << frac_bits << ")";
        const double pruned = std::fabs(x) < threshold ? 0.0 : x;
        const double pcode = std::clamp(std::round(pruned * std::ldexp(1.0, frac_bits)), lo, hi);
        ASSERT_EQ(fused[i], static_cast<float>(pcode * std::ldexp(1.0, -frac_bits))) << "pruned x=" << v[i];
      }
    }
  }
}

// The AVX-512 path (16 values a step) and the scalar tail against the scalar rule (quantize_fixed:
// round half away from zero in double, saturate, NaN -> 0), bit for bit (+0, never -0), signed and
// unsigned, with pruning at the threshold's edge. Each edge value is placed at every offset 0-16,
// so it passes through every vector lane and the tail; the last array is large enough to run on
// several chunks (and threads).
TEST(FixedPoint, FastPathBitForBitWithTheScalarRule) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float step = 1.0f / 256;  // frac_bits 8
  std::vector<float> edges = {0.0f,
                              -0.0f,
                              nan,
                              -nan,
                              inf,
                              -inf,
                              1e30f,
                              -1e30f,
                              std::numeric_limits<float>::denorm_min(),
                              -std::numeric_limits<float>::denorm_min(),
                              0.5f * step,
                              -0.5f * step,
                              1.5f * step,
                              -1.5f * step,
                              2.5f * step,
                              -2.5f * step,
                              std::nextafter(0.5f * step, 0.0f),
                              -std::nextafter(0.5f * step, 0.0f),
                              127.99609375f,
                              127.998046875f,
                              128.0f,
                              -128.0f,
                              -128.001953125f,
                              -129.0f,
                              255.99f,
                              0.25f,
                              -0.25f,
                              std::nextafter(0.25f, 0.0f),
                              -std::nextafter(0.25f, 0.0f),
                              0.3f,
                              -7.77f};
  for (const bool is_signed : {true, false}) {
    FixedPointFormat f;
    f.int_bits = is_signed ? 8 : 7;
    f.frac_bits = 8;
    f.is_signed = is_signed;
    for (const float threshold : {0.0f, 0.25f}) {
      SCOPED_TRACE(testing::Message() << (is_signed ? "signed" : "unsigned") << " threshold " << threshold);
      auto expect = [&](float x) { return quantize_fixed(std::fabs(x) < threshold ? 0.0f : x, f); };
      for (int offset = 0; offset <= 16; ++offset) {
        std::vector<float> v(static_cast<size_t>(offset), 3.0f);
        v.insert(v.end(), edges.begin(), edges.end());
        std::vector<float> got(v.size());
        prune_and_quantize_fixed(v.data(), got.data(), static_cast<int64_t>(v.size()), threshold, f);
        for (size_t i = 0; i < v.size(); ++i) {
          const float want = expect(v[i]);
          ASSERT_EQ(std::memcmp(&got[i], &want, sizeof(float)), 0)
              << "x=" << v[i] << " at " << i << ": " << got[i] << " vs " << want;
        }
        if (threshold == 0.0f) {  // the in-place transform (weights, activations without pruning)
          OperandSpec spec;
          spec.kind = OperandTransform::kFixedPoint;
          spec.fixed = f;
          apply_operand_transform(v.data(), static_cast<int64_t>(v.size()), spec);
          ASSERT_EQ(std::memcmp(v.data(), got.data(), v.size() * sizeof(float)), 0) << "offset " << offset;
        }
      }
    }
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> wide(-200.0f, 200.0f);
    std::vector<float> big(300001);
    for (float& x : big) x = wide(rng);
    for (size_t i = 0; i < big.size(); i += 997) big[i] = edges[i % edges.size()];
    std::vector<float> got(big.size());
    prune_and_quantize_fixed(big.data(), got.data(), static_cast<int64_t>(big.size()), 0.0f, f);
    for (size_t i = 0; i < big.size(); ++i) {
      const float want = quantize_fixed(big[i], f);
      ASSERT_EQ(std::memcmp(&got[i], &want, sizeof(float)), 0) << "x=" << big[i] << " at " << i;
    }
  }
}

TEST(FixedPoint, RejectsFormatsThatDoNotFit16Bits) {
  EXPECT_THROW(validate_fixed_point({10, 7}, "x"), ConfigError);
  EXPECT_THROW(validate_fixed_point({0, 8}, "x"), ConfigError);
  EXPECT_THROW(validate_fixed_point({4, -1}, "x"), ConfigError);
  EXPECT_NO_THROW(validate_fixed_point({1, 15}, "x"));
}

TEST(Prune, ZeroesOnlyStrictlyBelowThreshold) {
  std::vector<float> v = {0.05f, -0.05f, 0.1f, -0.2f, 0.0999f};
  apply_prune(v.data(), 5, 0.1f);
  EXPECT_EQ(v, (std::vector<float>{0, 0, 0.1f, -0.2f, 0}));
}

TEST(Uniform8, UnsignedForNonNegativeSymmetricOtherwise) {
  // Non-negative: scale = 2.55 / 255 = 0.01; 1.004 -> 100.4 -> 100 -> 1.0.
  std::vector<float> a = {0.0f, 1.004f, 2.55f};
  OperandSpec s;
  s.kind = OperandTransform::kUniform8;
  apply_operand_transform(a.data(), 3, s);
  EXPECT_FLOAT_EQ(a[0], 0.0f);
  EXPECT_NEAR(a[1], 1.0f, 1e-6);
  EXPECT_NEAR(a[2], 2.55f, 1e-6);
  // Signed: absmax 1.27 -> scale 0.01; -0.333 -> -33.3 -> -33 -> -0.33.
  std::vector<float> b = {-0.333f, 1.27f};
  apply_operand_transform(b.data(), 2, s);
  EXPECT_NEAR(b[0], -0.33f, 1e-6);
  EXPECT_NEAR(b[1], 1.27f, 1e-6);
}

TEST(Uniform8, PerSampleRangesAreIndependent) {
  // Two samples of two values; the second sample's large value must not coarsen the first.
  std::vector<float> a = {0.1f, 0.2f, 10.0f, 20.0f};
  OperandSpec s;
  s.kind = OperandTransform::kUniform8;
  apply_operand_transform(a.data(), 4, s, 2);
  EXPECT_NEAR(a[0], 0.1f, 0.2f / 255);
  EXPECT_NEAR(a[1], 0.2f, 1e-6);
}

namespace {
std::vector<LayerInfo> two_layers() {
  LayerInfo a, b;
  a.index = 0;
  a.name = "conv1";
  b.index = 1;
  b.name = "fc1";
  return {a, b};
}
}  // namespace

TEST(TransformFiles, ParsesProfileByNameIndexAndList) {
  std::map<std::string, LayerTransform> out;
  parse_precision_profile(R"({"format":"effectual-precision-profile","version":1,
      "layers":{"conv1":{"activations":{"int_bits":4,"frac_bits":8}},
                "#1":{"weights":"uniform8","activations":{"msb":3,"lsb":-5}}}})",
                          "p.json", two_layers(), out);
  EXPECT_EQ(out["conv1"].activations.kind, OperandTransform::kFixedPoint);
  EXPECT_EQ(out["conv1"].activations.fixed, (FixedPointFormat{4, 8}));
  EXPECT_EQ(out["fc1"].weights.kind, OperandTransform::kUniform8);
  // msb 3 (incl. sign) and lsb -5: 4 integer bits, 5 fraction bits.
  EXPECT_EQ(out["fc1"].activations.fixed, (FixedPointFormat{4, 5}));

  std::map<std::string, LayerTransform> list;
  parse_precision_profile(R"({"layers":[{"activations":{"int_bits":2,"frac_bits":3}},{}]})", "l.json", two_layers(),
                          list);
  EXPECT_EQ(list["conv1"].activations.fixed, (FixedPointFormat{2, 3}));
}

TEST(TransformFiles, ErrorsNameFileAndField) {
  std::map<std::string, LayerTransform> out;
  try {
    parse_precision_profile(R"({"layers":{"conv9":{}}})", "p.json", two_layers(), out);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("p.json: layers.conv9: no conv/FC layer named 'conv9'"), std::string::npos)
        << e.what();
  }
  try {
    parse_precision_profile(R"({"layers":{"conv1":{"activations":{"int_bits":4,"frac_bits":8,"x":1}}}})", "p.json",
                            two_layers(), out);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("layers.conv1.activations.x: unknown key"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_precision_profile("{not json", "p.json", two_layers(), out), ConfigError);
  EXPECT_THROW(parse_precision_profile(R"({"layers":{"conv1":{"activations":{"int_bits":12,"frac_bits":8}}}})",
                                       "p.json", two_layers(), out),
               ConfigError);
  EXPECT_THROW(parse_thresholds(R"({"layers":{"conv1":-1}})", "t.json", two_layers(), out), ConfigError);
  EXPECT_THROW(parse_thresholds(R"({"layers":[0.1]})", "t.json", two_layers(), out), ConfigError);
  EXPECT_THROW(parse_thresholds(R"({"format":"other"})", "t.json", two_layers(), out), ConfigError);
}

TEST(TransformFiles, ThresholdsDefaultThenPerLayer) {
  std::map<std::string, LayerTransform> out;
  parse_thresholds(R"({"format":"effectual-thresholds","default":0.05,"layers":{"fc1":0.2}})", "t.json", two_layers(),
                   out);
  EXPECT_FLOAT_EQ(out["conv1"].prune_threshold, 0.05f);
  EXPECT_FLOAT_EQ(out["fc1"].prune_threshold, 0.2f);
}

}  // namespace eff
