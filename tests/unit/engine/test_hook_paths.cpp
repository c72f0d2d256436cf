// The executor's fixed-point activation hook (engine/executor.cpp): in place on activations no
// later node reads, into a copy otherwise. Either way the hooked layer computes on the quantized
// values, and a value that is also a graph output stays as it was.
#include <gtest/gtest.h>

#include <cmath>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "engine/value_transform.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::random_values;

// x -> Relu (r) -> 1x1 conv "c" (8 -> 8) -> y; r is a graph output too when `r_out`.
ModelBuilder relu_conv(bool r_out) {
  ModelBuilder b(13);
  b.input("x", {2, 8, 3, 5}).output("y", {2, 8, 3, 5});
  if (r_out) b.output("r", {2, 8, 3, 5});
  b.initializer("W", {8, 8, 1, 1}, random_values(64, 51, 0.5f));
  b.node("Relu", {"x"}, {"r"}, "relu");
  b.node("Conv", {"r", "W"}, {"y"}, "c");
  return b;
}

TEST(HookPaths, InPlaceAndCopyQuantizeTheLayerInputOnly) {
  const std::vector<float> xs = random_values(2 * 8 * 15, 52, 4.f);
  const Tensor x = Tensor::from<float>({2, 8, 3, 5}, xs);
  FixedPointFormat f{4, 3};
  f.is_signed = false;
  const float threshold = 0.3f;
  // By hand: Relu, prune, quantize; the hooked conv must read exactly these values.
  std::vector<float> quantized(xs.size()), relu(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    relu[i] = std::max(xs[i], 0.0f);
    quantized[i] = quantize_fixed(relu[i] < threshold ? 0.0f : relu[i], f);
  }
  for (int threads : {1, 2}) {
    ExecutorOptions plain;
    plain.threads = threads;
    // Relu leaves the non-negative quantized values as they are, so this is conv(quantized).
    const std::vector<float> want = Executor(relu_conv(false).load(), plain)
                                        .run({Tensor::from<float>({2, 8, 3, 5}, quantized)})
                                        .at(0)
                                        .to_f32_vector();
    ExecutorOptions hooked = plain;
    LayerTransform t;
    t.activations.kind = OperandTransform::kFixedPoint;
    t.activations.fixed = f;
    t.prune_threshold = threshold;
    hooked.transforms["c"] = t;
    for (bool r_out : {false, true}) {  // r read by the conv only (in place), or also a graph output (copy)
      SCOPED_TRACE(testing::Message() << "threads " << threads << " r is an output " << r_out);
      Executor ex(relu_conv(r_out).load(), hooked);
      for (int run = 0; run < 2; ++run) {
        const std::vector<Tensor> out = ex.run({x});
        EXPECT_EQ(out.at(0).to_f32_vector(), want);
        if (r_out) {
          EXPECT_EQ(out.at(1).to_f32_vector(), relu);  // the graph output is not quantized
        }
      }
      EXPECT_EQ(x.to_f32_vector(), xs);  // nor is the caller's input
    }
  }
}

}  // namespace
}  // namespace eff
