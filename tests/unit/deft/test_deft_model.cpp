// DeftNN layers in the engine (src/deft/deft_model.h): every conv/FC layer of the shipped models
// rewritten as a DeftLayer gives the fp32 engine's outputs (fp32 format: only the summation order
// differs; lenet5's MaxPools fused into its convs), graphs specialised for other input shapes keep the rewrite, and bad
// choices are one clear UsageError.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "deft/deft_layer.h"
#include "deft/deft_model.h"
#include "engine/executor.h"
#include "engine/model.h"

namespace eff::deft {

namespace {
Tensor random_input(const Shape& shape, uint32_t seed) {
  Tensor t(DType::kFloat32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}
}  // namespace

TEST(DeftModel, Fp32LayersMatchTheEngineOnShippedModels) {
  for (const char* name : {"lenet5", "vgg", "resnet"}) {
    SCOPED_TRACE(name);
    Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/" + name + ".onnx");
    Shape shape = m.input_shape();
    shape[0] = 3;
    const Tensor x = random_input(shape, 7);
    ExecutorOptions one;
    one.threads = 1;
    Executor base(m.graph, one);
    const Tensor want = base.run({x})[0];

    const DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice("fp32", "--deft"), nullptr, 0, 1);
    ASSERT_FALSE(plan.layers.empty());
    LoadOptions lo = m.load_options;
    lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan); };
    Graph g = load_onnx(m.path, lo);
    int deft_nodes = 0, pools = 0, fused = 0, flattens = 0, pairs = 0;
    for (const Node& n : g.nodes) {
      // A pair (two layers reading one input, resnet's conv1 and shortcut) is two layers.
      deft_nodes += n.op == kDeftLayerOp ? (n.has_attr("pair.name") ? 2 : 1) : 0;
      pairs += n.has_attr("pair.name");
      pools += n.op == "MaxPool";
      flattens += n.op == "Flatten";
      fused += !n.attr_ints("pool").empty();
    }
    EXPECT_EQ(deft_nodes, static_cast<int>(plan.layers.size()));
    EXPECT_EQ(pairs, std::string(name) == "resnet" ? 2 : 0);
    // lenet5's 2 x 2 MaxPools follow its few-channel convs and run in their epilogue; its Flatten
    // between conv2 and fc1 (both DeftLayers) goes, fc1 reading conv2's N x 16 x 5 x 5 output.
    if (std::string(name) == "lenet5") {
      EXPECT_EQ(pools, 0);
      EXPECT_EQ(fused, 2);
      EXPECT_EQ(flattens, 0);
    }
    Executor ex(g, one);
    const Tensor got = ex.run({x})[0];
    ASSERT_EQ(got.shape(), want.shape());
    for (int64_t i = 0; i < got.numel(); ++i)
      EXPECT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-4 * (1 + std::fabs(want.data<float>()[i])));
  }
}

TEST(DeftModel, BadChoicesAreUsageErrors) {
  EXPECT_THROW(parse_deft_choice("fp16", "--deft"), UsageError);
  EXPECT_THROW(parse_deft_choice("fp8,alpha=x", "--deft"), UsageError);
  EXPECT_THROW(parse_deft_choice("fp8,alpha=3", "--deft"), UsageError);
  EXPECT_THROW(parse_deft_choice("fp8,compensation=magic", "--deft"), UsageError);
  EXPECT_THROW(parse_deft_choice("fp8,speed", "--deft"), UsageError);
  EXPECT_THROW(parse_deft_choice("fp8,layers=lstm", "--deft"), UsageError);
  const DeftChoice c = parse_deft_choice("deft16q,alpha=0.9,compensation=scale", "--deft");
  EXPECT_EQ(c.format, Format::kDeft16Q);
  EXPECT_DOUBLE_EQ(c.alpha, 0.9);
  EXPECT_EQ(c.compensation, Compensation::kScale);
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/vgg.onnx");
  EXPECT_THROW(plan_deft(m.graph, c, nullptr, 16, 1), UsageError);  // SVE without calibration data
  const DeftModelPlan fc_only = plan_deft(m.graph, parse_deft_choice("fp8,layers=fc", "--deft"), nullptr, 0, 1);
  ASSERT_EQ(fc_only.layers.size(), 2u);  // vgg's two Gemm layers, the six convs left to the engine
  EXPECT_FALSE(fc_only.layers[0].conv);
}

}  // namespace eff::deft
