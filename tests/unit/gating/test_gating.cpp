// Gated conv layers (src/gating): a hand-built layer with known partial sums gives known gate
// decisions and outputs; threshold -inf reproduces the ungated engine on the shipped models; a
// base path of every channel skips nothing; results do not depend on the thread count; the
// precision split and the gates file behave as documented.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/error.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "gating/gated_conv.h"
#include "gating/gates.h"

namespace eff::gating {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor random_input(const Shape& shape, uint32_t seed) {
  Tensor t(DType::kFloat32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// One GatedConv over a 1 x 4 x 1 x 3 input, two 1x1 filters, base path = channels 0 and 1:
//   filter 0 = [1, 1, 1, 1], filter 1 = [1, -1, 2, 2], bias [0, 0.5].
//   pixel 0: x = [1, 1, 1, 1]   base (0: 2, 1: 0.5)  full (0: 4, 1: 4.5)
//   pixel 1: x = [2, 0, 5, 5]   base (0: 2, 1: 2.5)  full (0: 12, 1: 22.5)
//   pixel 2: x = [-1, 0, 3, 3]  base (0: -1, 1: -0.5) full (0: 5, 1: 11.5)
struct TinyLayer {
  Graph g;
  TinyLayer(float threshold, const std::string& activation, int64_t base_channels = 2) {
    g.source = "tiny";
    const ValueId x = g.add_value("x");
    g.value(x).has_type = true;
    const ValueId w = g.add_value("w");
    g.value(w).hold_constant(Tensor::from<float>({2, 4, 1, 1}, {1, 1, 1, 1, 1, -1, 2, 2}));
    const ValueId b = g.add_value("b");
    g.value(b).hold_constant(Tensor::from<float>({2}, {0.f, 0.5f}));
    const ValueId y = g.add_value("y");
    const ValueId c = g.add_value("c");
    Node n;
    n.op = kGatedConvOp;
    n.name = "conv";
    n.inputs = {x, w, b};
    n.outputs = {y, c};
    n.attrs["mode"].kind = Attribute::Kind::kString;
    n.attrs["mode"].s = "channel";
    n.attrs["threshold"].kind = Attribute::Kind::kFloat;
    n.attrs["threshold"].f = threshold;
    n.attrs["base_channels"].i = base_channels;
    n.attrs["kernel_shape"].kind = Attribute::Kind::kInts;
    n.attrs["kernel_shape"].ints = {1, 1};
    if (!activation.empty()) {
      n.attrs["activation"].kind = Attribute::Kind::kString;
      n.attrs["activation"].s = activation;
    }
    g.nodes.push_back(n);
    g.inputs = {x};
    g.outputs = {y, c};
  }
};

std::vector<float> run_tiny(TinyLayer& t, int64_t& on) {
  ExecutorOptions o;
  o.threads = 1;
  Executor ex(t.g, o);
  // Channel-major: x[c][pixel].
  const Tensor x = Tensor::from<float>({1, 4, 1, 3}, {1, 2, -1, 1, 0, 0, 1, 5, 3, 1, 5, 3});
  const std::vector<Tensor> out = ex.run({x});
  on = out.at(1).data<int64_t>()[0];
  return std::vector<float>(out[0].data<float>(), out[0].data<float>() + out[0].numel());
}

}  // namespace

TEST(GatedConv, ConstructedLayerGivesKnownDecisions) {
  {
    // Gates on where the base result > 1.5: (f0, p0), (f0, p1), (f1, p1); off elsewhere keep the base.
    TinyLayer t(1.5f, "");
    int64_t on = 0;
    const std::vector<float> y = run_tiny(t, on);
    EXPECT_EQ(on, 3);
    const std::vector<float> want = {4, 12, -1, 0.5f, 22.5f, -0.5f};  // [filter][pixel]
    ASSERT_EQ(y.size(), want.size());
    for (size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
  }
  {
    // With the fused Relu the negative base results become 0; threshold 0.4 opens (f1, p0) too.
    TinyLayer t(0.4f, "Relu");
    int64_t on = 0;
    const std::vector<float> y = run_tiny(t, on);
    EXPECT_EQ(on, 4);
    const std::vector<float> want = {4, 12, 0, 4.5f, 22.5f, 0};
    for (size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
  }
  {
    // -inf: every gate on, the full sums; +inf: every gate off, the base sums.
    TinyLayer all(-kInf, ""), none(kInf, "");
    int64_t on_all = 0, on_none = 0;
    const std::vector<float> full = run_tiny(all, on_all), base = run_tiny(none, on_none);
    EXPECT_EQ(on_all, 6);
    EXPECT_EQ(on_none, 0);
    const std::vector<float> want_full = {4, 12, 5, 4.5f, 22.5f, 11.5f}, want_base = {2, 2, -1, 0.5f, 2.5f, -0.5f};
    for (size_t i = 0; i < 6; ++i) {
      EXPECT_FLOAT_EQ(full[i], want_full[i]);
      EXPECT_FLOAT_EQ(base[i], want_base[i]);
    }
  }
  {
    // All four channels on the base path: nothing is conditional, nothing counted, full sums.
    TinyLayer t(kInf, "", 4);
    int64_t on = 0;
    const std::vector<float> y = run_tiny(t, on);
    EXPECT_EQ(on, 0);
    EXPECT_FLOAT_EQ(y[1], 12);
    EXPECT_FLOAT_EQ(y[5], 11.5f);
  }
}

namespace {

GatePlan plan_for(const Graph& g, double fraction, float threshold) {
  GatePlan plan;
  plan.base_fraction = fraction;
  for (const std::string& name : gate_coverage(g).gated) {
    const Node& n = *g.find_node(name);
    LayerGate l;
    l.layer = name;
    l.threshold = threshold;
    l.base_channels = base_channels_for(fraction, g.constant(n.input(1)).dim(1));
    plan.layers.push_back(l);
  }
  return plan;
}

std::vector<Tensor> run_model(const Model& m, const GatePlan* plan, const Tensor& x, int threads, bool counts = false) {
  LoadOptions lo = m.load_options;
  if (plan) lo.layer_rewrite = [&](Graph& g) { apply_gates(g, *plan, counts); };
  ExecutorOptions o;
  o.threads = threads;
  Executor ex(load_onnx(m.path, lo), o);
  return ex.run({x});
}

}  // namespace

TEST(GatedConv, MinusInfinityReproducesTheUngatedModels) {
  for (const char* name : {"lenet5", "vgg", "resnet"}) {
    SCOPED_TRACE(name);
    const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/" + name + ".onnx");
    Shape shape = m.input_shape();
    shape[0] = 2;
    const Tensor x = random_input(shape, 3);
    const Tensor want = run_model(m, nullptr, x, 1)[0];
    const GatePlan plan = plan_for(m.graph, 0.25, -kInf);
    ASSERT_FALSE(plan.layers.empty());
    const std::vector<Tensor> got = run_model(m, &plan, x, 1, true);
    ASSERT_EQ(got[0].shape(), want.shape());
    for (int64_t i = 0; i < want.numel(); ++i)
      EXPECT_NEAR(got[0].data<float>()[i], want.data<float>()[i], 1e-4 * (1 + std::fabs(want.data<float>()[i])));
    // Every gate of a layer with a conditional path is on: one per output element; a layer whose
    // base path holds every channel (one input channel) has none.
    for (size_t l = 0; l < plan.layers.size(); ++l) {
      const Tensor& on = got.at(1 + l);
      ASSERT_EQ(on.numel(), 2);
      const Node& n = *m.graph.find_node(plan.layers[l].layer);
      const bool conditional = plan.layers[l].base_channels < m.graph.constant(n.input(1)).dim(1);
      const Value& y = m.graph.value(n.outputs[0]);
      const int64_t outputs = y.has_shape ? y.shape[1] * y.shape[2] * y.shape[3] : -1;
      EXPECT_EQ(on.data<int64_t>()[0], conditional ? outputs : 0) << plan.layers[l].layer;
    }
  }
}

TEST(GatedConv, BaseFractionOneSkipsNothing) {
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/vgg.onnx");
  Shape shape = m.input_shape();
  shape[0] = 2;
  const Tensor x = random_input(shape, 5);
  const Tensor want = run_model(m, nullptr, x, 1)[0];
  const GatePlan plan = plan_for(m.graph, 1.0, kInf);  // every gate off, yet nothing is conditional
  const std::vector<Tensor> got = run_model(m, &plan, x, 1, true);
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got[0].data<float>()[i], want.data<float>()[i], 1e-5 * (1 + std::fabs(want.data<float>()[i])));
  for (size_t l = 0; l < plan.layers.size(); ++l) EXPECT_EQ(got.at(1 + l).data<int64_t>()[0], 0);
}

TEST(GatedConv, SameResultsOnAnyThreadCount) {
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/vgg.onnx");
  Shape shape = m.input_shape();
  shape[0] = 3;
  const Tensor x = random_input(shape, 9);
  const GatePlan plan = plan_for(m.graph, 0.25, 0.0f);
  const std::vector<Tensor> one = run_model(m, &plan, x, 1, true), two = run_model(m, &plan, x, 2, true);
  for (size_t o = 0; o < one.size(); ++o) {
    ASSERT_EQ(one[o].numel(), two[o].numel());
    EXPECT_EQ(0, std::memcmp(one[o].raw(), two[o].raw(), one[o].numel() * dtype_size(one[o].dtype()))) << o;
  }
}

TEST(GatedConv, PrecisionSplitKeepsTheTopBits) {
  PrecisionSplit u{4, 2, 0, false};
  float low = 0;
  EXPECT_FLOAT_EQ(u.split(13.f, low), 12.f);  // 1101 -> 11|01
  EXPECT_FLOAT_EQ(low, 1.f);
  EXPECT_FLOAT_EQ(u.split(20.f, low), 12.f);  // saturates at 1111
  EXPECT_FLOAT_EQ(low, 3.f);
  EXPECT_FLOAT_EQ(u.split(-2.f, low), 0.f);  // unsigned: negatives clamp to 0
  EXPECT_FLOAT_EQ(low, 0.f);
  PrecisionSplit s{4, 2, 1, true};             // codes in [-8, 7], step 1/2
  EXPECT_FLOAT_EQ(s.split(-1.5f, low), -2.f);  // code -3: high floor(-3/4)*4 = -4, low 1
  EXPECT_FLOAT_EQ(low, 0.5f);
  EXPECT_FLOAT_EQ(s.split(1.25f, low), 0.f);  // code 3 (ties away from zero): high 0, low 3
  EXPECT_FLOAT_EQ(low, 1.5f);
}

namespace {
LayerGate channel_gate(const std::string& layer, float threshold, int64_t base_channels) {
  LayerGate l;
  l.layer = layer, l.threshold = threshold, l.base_channels = base_channels;
  return l;
}
}  // namespace

TEST(Gates, FileRoundTripAndBadFiles) {
  GatePlan p;
  p.base_fraction = 0.25;
  p.layers = {channel_gate("conv1", -kInf, 4), channel_gate("conv2", 0.5f, 8)};
  const GatePlan q = parse_gates(gates_json(p), "mem");
  ASSERT_EQ(q.layers.size(), 2u);
  EXPECT_EQ(q.kind, GateKind::kChannel);
  EXPECT_TRUE(std::isinf(q.layers[0].threshold) && q.layers[0].threshold < 0);
  EXPECT_FLOAT_EQ(q.layers[1].threshold, 0.5f);
  EXPECT_EQ(q.layers[1].base_channels, 8);
  EXPECT_EQ(
      gates_json(p),
      nlohmann::json::parse(
          R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.25,"layers":[{"layer":"conv1","base_channels":4,"threshold":"-inf"},{"layer":"conv2","base_channels":8,"threshold":0.5}]})"));
  using nlohmann::json;
  const json good = gates_json(p);
  json j = good;
  j["layers"][0]["colour"] = 1;
  EXPECT_THROW(parse_gates(j, "mem"), ConfigError);
  j = good;
  j["kind"] = "spatial";
  EXPECT_THROW(parse_gates(j, "mem"), ConfigError);
  j = good;
  j["layers"][1]["base_channels"] = 0;
  EXPECT_THROW(parse_gates(j, "mem"), ConfigError);
  j = good;
  j["layers"][1]["layer"] = "conv1";
  EXPECT_THROW(parse_gates(j, "mem"), ConfigError);
  EXPECT_THROW(parse_fraction("1/0", "--base"), UsageError);
  EXPECT_THROW(parse_fraction("2", "--base"), UsageError);
  EXPECT_DOUBLE_EQ(parse_fraction("1/8", "--base"), 0.125);
  EXPECT_DOUBLE_EQ(parse_fraction("50%", "--base"), 0.5);
  EXPECT_EQ(base_channels_for(0.25, 64), 16);
  EXPECT_EQ(base_channels_for(1.0 / 16, 8), 1);
  EXPECT_EQ(base_channels_for(0.5, 1), 1);
  // A layer the model lacks is a ConfigError naming it.
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/vgg.onnx");
  Graph g = m.graph;
  GatePlan missing;
  missing.layers = {channel_gate("no_such_layer", 0.f, 1)};
  EXPECT_THROW(apply_gates(g, missing), ConfigError);
  // Per-channel thresholds: written as "thresholds", read back; their count must match the layer.
  GatePlan per;
  per.base_fraction = 0.5;
  per.layers = {channel_gate("/features/features.3/Conv", 0.f, 4)};
  per.layers[0].thresholds = {-kInf, 0.25f, kInf};
  const nlohmann::json pj = gates_json(per);
  EXPECT_FALSE(pj["layers"][0].contains("threshold"));
  EXPECT_EQ(pj["layers"][0]["thresholds"], nlohmann::json::parse(R"(["-inf", 0.25, "inf"])"));
  const GatePlan back = parse_gates(pj, "mem");
  ASSERT_EQ(back.layers[0].thresholds.size(), 3u);
  EXPECT_FLOAT_EQ(back.layers[0].threshold_of(1), 0.25f);
  EXPECT_TRUE(std::isinf(back.layers[0].threshold_of(2)));
  EXPECT_FALSE(back.layers[0].always_on());
  EXPECT_THROW(check_gates(g, back, "mem"), ConfigError);  // vgg's features.3 has more than 3 filters
  nlohmann::json both = pj;
  both["layers"][0]["threshold"] = 1;
  EXPECT_THROW(parse_gates(both, "mem"), ConfigError);
}

}  // namespace eff::gating
