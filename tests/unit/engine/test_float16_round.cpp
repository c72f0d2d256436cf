// The fused float16 round trip (graph/float16_round_pass.cpp, Cast with via_float16 in
// ops/value_ops.cpp) must give exactly what the two Casts give: round to nearest even float16,
// overflow to infinity, subnormals, NaN, and the scalar tail past the last 8 values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "graph/passes.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::ops_of;
using test::set_attr;

ModelBuilder round_trip(int64_t n) {
  ModelBuilder b(13);
  b.input("x", {1, n}).output("y", {1, n});
  set_attr(b.node("Cast", {"x"}, {"h"}, "to_half"), "to", int64_t{10});
  set_attr(b.node("Cast", {"h"}, {"w"}, "to_float"), "to", int64_t{1});
  b.node("Relu", {"w"}, {"y"}, "relu");
  return b;
}

TEST(Float16RoundTrip, FusedCastEqualsTheTwoCastsBitForBit) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {
      1.f / 3,        2049.f, 2051.f,     65504.f,       65519.f, 65520.f, 1e6f,           inf,
      6e-8f,          3e-8f,  2.98e-8f,   1e-5f,         0.1f,    0.f,     1.00048828125f, 1.0009765625f,
      1.00146484375f, 7.77f,  12345.678f, 5.9604645e-8f, 0.5f};
  for (int k = 0; k < 12; ++k) v.push_back(0.37f * static_cast<float>(k * k) + 1e-3f);
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  const int64_t n = static_cast<int64_t>(v.size());  // 34: four vectors of 8 and a tail of 2
  const Tensor x = Tensor::from<float>({1, n}, v);
  const Graph fused = round_trip(n).load();
  EXPECT_EQ(ops_of(fused), (std::vector<std::string>{"Cast", "Relu"}));
  ASSERT_TRUE(fused.nodes[0].has_attr(kViaFloat16Attr));
  LoadOptions raw;
  raw.run_passes = false;
  for (int threads : {1, 2}) {
    ExecutorOptions o;
    o.threads = threads;
    const std::vector<float> want = Executor(round_trip(n).load(raw), o).run({x}).at(0).to_f32_vector();
    const std::vector<float> got = Executor(fused, o).run({x}).at(0).to_f32_vector();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(std::memcmp(&got[i], &want[i], sizeof(float)), 0) << i << ": " << got[i] << " vs " << want[i];
    }
    // Hand-checked: 1/3 -> 0.333251953125 (nearest float16), 2051 -> 2052 (ties to even),
    // 65520 -> inf (beyond the largest float16), 3e-8 -> 5.96e-8 (smallest subnormal).
    EXPECT_EQ(got[0], 0.333251953125f);
    EXPECT_EQ(got[1], 2048.f);
    EXPECT_EQ(got[2], 2052.f);
    EXPECT_EQ(got[5], inf);
    EXPECT_EQ(got[9], 5.9604645e-8f);
  }
}

// A Cast to float16 read by anything else than the widening Cast stays as it is.
TEST(Float16RoundTrip, CastWithOtherReadersIsNotFused) {
  ModelBuilder b = round_trip(9);
  b.output("h", {1, 9}, 10);
  const Graph g = b.load();
  for (const Node& n : g.nodes) {
    EXPECT_FALSE(n.has_attr(kViaFloat16Attr)) << n.name;
  }
}

// A round trip right after a bilinear Resize (the fp16 U-Net's upsampling) becomes the Resize's own
// rounding: the same bits as Resize then the two Casts, for the one-pass bilinear path (2-D) and
// the axis-by-axis one (3 resized axes), at 1 and 2 threads; 1/3 rounds to 0.333251953125.
TEST(Float16RoundTrip, RoundingFusedIntoABilinearResize) {
  for (bool three_axes : {false, true}) {
    SCOPED_TRACE(three_axes);
    const Shape in_shape = {1, 2, 5, 7};
    const std::vector<float> scales = {1, three_axes ? 2.f : 1.f, 2, 3};
    const Shape out_shape = {1, three_axes ? 4 : 2, 10, 21};
    auto model = [&] {
      ModelBuilder b(13);
      b.input("x", in_shape).output("y", out_shape);
      b.initializer("scales", {4}, scales);
      set_attr(b.node("Resize", {"x", "", "scales"}, {"r"}, "upsample"), "mode", std::string("linear"));
      set_attr(b.node("Cast", {"r"}, {"h"}, "to_half"), "to", int64_t{10});
      set_attr(b.node("Cast", {"h"}, {"y"}, "to_float"), "to", int64_t{1});
      return b;
    };
    std::vector<float> v(70);
    for (size_t i = 0; i < v.size(); ++i) v[i] = 1.f / 3 + 0.0137f * static_cast<float>(i * i % 17);
    const Tensor x = Tensor::from<float>(in_shape, v);
    const Graph fused = model().load();
    EXPECT_EQ(ops_of(fused), (std::vector<std::string>{"Resize"}));
    ASSERT_TRUE(fused.nodes[0].has_attr(kViaFloat16Attr));
    LoadOptions raw;
    raw.run_passes = false;
    for (int threads : {1, 2}) {
      ExecutorOptions o;
      o.threads = threads;
      const std::vector<float> want = Executor(model().load(raw), o).run({x}).at(0).to_f32_vector();
      const std::vector<float> got = Executor(fused, o).run({x}).at(0).to_f32_vector();
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(std::memcmp(&got[i], &want[i], sizeof(float)), 0) << i << ": " << got[i] << " vs " << want[i];
      }
      EXPECT_EQ(got[0], 0.333251953125f);  // the corner output is the corner input, rounded
    }
  }
}

}  // namespace
}  // namespace eff
