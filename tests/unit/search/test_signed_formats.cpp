// Signed and unsigned fixed-point formats: the hook's arithmetic, the profile files, and the
// precision the simulator charges (Stripes: P cycles per step for a P-bit activation).
#include <gtest/gtest.h>

#include "../sim/sim_test_util.h"
#include "engine/transform_files.h"
#include "engine/value_transform.h"
#include "search/formats.h"

namespace eff {
namespace {

TEST(ValueUnsigned, RangeAndRoundingByHand) {
  // Unsigned 2.2: step 2^-2 = 0.25, codes [0, 2^4 - 1 = 15], values [0, 3.75].
  const FixedPointFormat u{2, 2, false};
  EXPECT_EQ(u.total_bits(), 4);
  EXPECT_EQ(u.max_code(), 15);
  EXPECT_EQ(u.min_code(), 0);
  EXPECT_DOUBLE_EQ(u.max_value(), 3.75);
  EXPECT_DOUBLE_EQ(u.min_value(), 0.0);
  EXPECT_FLOAT_EQ(quantize_fixed(-1.0f, u), 0.0f);    // below the range: saturates at 0
  EXPECT_FLOAT_EQ(quantize_fixed(5.0f, u), 3.75f);    // above: 2^2 - 2^-2
  EXPECT_FLOAT_EQ(quantize_fixed(1.125f, u), 1.25f);  // 1.125 * 4 = 4.5 -> 5 (ties away) -> 1.25
  EXPECT_EQ(to_fixed_int(3.6f, u), 14);               // 3.6 * 4 = 14.4 -> 14
  // The same 4 bits signed (2.2 with the sign in the integer bits): codes [-8, 7], [-2, 1.75].
  const FixedPointFormat s{2, 2, true};
  EXPECT_EQ(s.max_code(), 7);
  EXPECT_EQ(s.min_code(), -8);
  EXPECT_FLOAT_EQ(quantize_fixed(5.0f, s), 1.75f);
  EXPECT_FLOAT_EQ(quantize_fixed(-5.0f, s), -2.0f);
}

TEST(ValueUnsigned, BulkPathEqualsScalarPath) {
  // The vectorised hook must clamp unsigned formats the same way: u4.3 codes [0, 127].
  OperandSpec spec;
  spec.kind = OperandTransform::kFixedPoint;
  spec.fixed = {4, 3, false};
  std::vector<float> v = {-3.0f, 0.0f, 0.0624f, 0.0625f, 7.3f, 15.875f, 15.95f, 100.0f};
  std::vector<float> out(v.size());
  prune_and_quantize_fixed(v.data(), out.data(), static_cast<int64_t>(v.size()), 0.0f, spec.fixed);
  // 0.0624 * 8 = 0.4992 -> 0; 0.0625 * 8 = 0.5 -> 1 -> 0.125; 7.3 * 8 = 58.4 -> 58 -> 7.25;
  // 15.95 * 8 = 127.6 -> 128 -> saturates at 127 -> 15.875.
  const std::vector<float> want = {0.0f, 0.0f, 0.0f, 0.125f, 7.25f, 15.875f, 15.875f, 15.875f};
  EXPECT_EQ(out, want);
  apply_operand_transform(v.data(), static_cast<int64_t>(v.size()), spec);
  EXPECT_EQ(v, want);
}

TEST(ValueUnsigned, ValidationFitsSixteenBitStorage) {
  EXPECT_NO_THROW(validate_fixed_point({0, 1, false}, "x"));            // values in [0, 0.5)
  EXPECT_THROW(validate_fixed_point({0, 0, false}, "x"), ConfigError);  // no bit at all
  EXPECT_NO_THROW(validate_fixed_point({7, 8, false}, "x"));            // 15 bits
  EXPECT_THROW(validate_fixed_point({8, 8, false}, "x"), ConfigError);  // 16 unsigned bits: code 65535 > int16
  EXPECT_THROW(validate_fixed_point({-1, 4, false}, "x"), ConfigError);
  EXPECT_NO_THROW(validate_fixed_point({8, 8, true}, "x"));
}

TEST(ValueUnsigned, ProfilesStateTheSignOrLeaveItToTheData) {
  std::vector<LayerInfo> layers(1);
  layers[0].name = "conv1";
  std::map<std::string, LayerTransform> t;
  parse_precision_profile(
      R"({"layers": {"conv1": {"activations": {"int_bits": 4, "frac_bits": 3, "signed": false},
                               "weights": {"int_bits": 1, "frac_bits": 7}}}})",
      "p.json", layers, t);
  EXPECT_EQ(t["conv1"].activations.fixed, (FixedPointFormat{4, 3, false}));
  EXPECT_TRUE(t["conv1"].activations.sign_stated);
  EXPECT_EQ(t["conv1"].weights.fixed, (FixedPointFormat{1, 7, true}));  // an older profile: signed
  EXPECT_FALSE(t["conv1"].weights.sign_stated);
  EXPECT_THROW(parse_precision_profile(R"({"layers": {"conv1": {"activations": {"int_bits": 4, "frac_bits": 3,
                                          "signed": "no"}}}})",
                                       "p.json", layers, t),
               ConfigError);
}

}  // namespace

namespace sim {
namespace {

using namespace testing;

TEST(StripesUnsigned, ChargesMagnitudeBitsOnly) {
  // 32 windows, 16 channels, 16 filters (as FiveBitActivationsTakeFiveCyclesPerStep): 2 window
  // sets x 1 step x P cycles. Activations 0.5 (post-ReLU, no negative value).
  const auto g = conv_geo(16, 4, 8, 16, 1);
  const std::vector<float> acts(16 * 32, 0.5f), wgts(16 * 16, 1.0f);
  SimLayerOptions o;
  LayerTransform t;
  o.transform = &t;
  t.activations.kind = OperandTransform::kFixedPoint;
  // Unsigned u4.3: P = 7 -> 2 * 7 = 14 cycles (DaDianNao: 32, ideal 16/7 = 2.29x).
  t.activations.fixed = {4, 3, false};
  SimLayer l = make_sim_layer(g, acts.data(), wgts.data(), o);
  EXPECT_EQ(l.act_bits, 7);
  EXPECT_EQ(l.acts[0], 4);  // 0.5 * 2^3
  EXPECT_EQ(cycles(*make("stripes"), l), 14u);
  // Stated signed s5.3 (a sign bit the data never uses): P = 8 -> 16 cycles.
  t.activations.fixed = {5, 3, true};
  EXPECT_EQ(make_sim_layer(g, acts.data(), wgts.data(), o).act_bits, 8);
  // The same format from an older profile (no "signed"): no negative value, so the sign bit is
  // dropped: u4.3, P = 7 -> 14 cycles.
  t.activations.sign_stated = false;
  l = make_sim_layer(g, acts.data(), wgts.data(), o);
  EXPECT_EQ(l.act_bits, 7);
  EXPECT_FALSE(l.act_format.is_signed);
  EXPECT_EQ(cycles(*make("stripes"), l), 14u);
  // With a negative value the sign stays: P = 8.
  std::vector<float> signed_acts = acts;
  signed_acts[3] = -0.5f;
  EXPECT_EQ(make_sim_layer(g, signed_acts.data(), wgts.data(), o).act_bits, 8);
}

}  // namespace
}  // namespace sim
}  // namespace eff
