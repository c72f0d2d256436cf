// Outlier channel splitting (src/quant/ocs.h) and the split / quantized graphs
// (src/quant/quantize_model.h) on hand tensors and on the shipped models.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "data/npy.h"
#include "engine/executor.h"
#include "engine/quantized_layers.h"
#include "onnx/loader.h"
#include "quant/ocs.h"
#include "quant/onnx_export.h"
#include "quant/quantize_model.h"
#include "quant/session.h"

namespace eff::quant {
namespace {

// y[o] = sum_c W[o, c] x[c] for W [O, C].
std::vector<double> fc(const Tensor& w, const Tensor& x) {
  const int64_t o = w.dim(0), c = w.dim(1);
  std::vector<double> y(static_cast<size_t>(o), 0.0);
  for (int64_t i = 0; i < o; ++i) {
    for (int64_t k = 0; k < c; ++k) y[i] += static_cast<double>(w.data<float>()[i * c + k]) * x.data<float>()[k];
  }
  return y;
}

TEST(QuantOcs, WeightSplitHalvesTheOutlierAndKeepsTheFunction) {
  // One outlier (4.0) at input channel 1.
  const Tensor w = Tensor::from<float>({2, 3}, {0.1f, 4.0f, -0.2f, 0.3f, 0.1f, 0.2f});
  const ChannelSplit s = plan_split(w, 1, 1, {}, 0);
  EXPECT_EQ(s.source, (std::vector<int64_t>{0, 1, 2, 1}));
  EXPECT_EQ(s.weight_factor, (std::vector<float>{1, 0.5f, 1, 0.5f}));
  EXPECT_EQ(s.act_factor, (std::vector<float>{1, 1, 1, 1}));
  const Tensor we = expand_weights(w, 1, s);
  EXPECT_EQ(we.shape(), (Shape{2, 4}));
  EXPECT_EQ(we.to_f32_vector(), (std::vector<float>{0.1f, 2.0f, -0.2f, 2.0f, 0.3f, 0.05f, 0.2f, 0.05f}));
  const Tensor x = Tensor::from<float>({3}, {1.5f, -2.0f, 0.25f});
  const Tensor xe = expand_activations(x.reshaped({1, 3}), 1, s).reshaped({4});
  EXPECT_EQ(xe.to_f32_vector(), (std::vector<float>{1.5f, -2.0f, 0.25f, -2.0f}));
  const auto y = fc(w, x), ye = fc(we, xe);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(ye[i], y[i], 1e-6);
}

TEST(QuantOcs, RepeatedSplitsFollowTheCurrentLargestValue) {
  // 4.0 at channel 0, 3.0 at channel 1: split 0 (-> 2.0 twice), then 1 (3.0 is now the largest,
  // -> 1.5 twice), then 0 again (2.0, the lowest index among the two 2.0s: its copy keeps 2.0).
  const Tensor w = Tensor::from<float>({1, 3}, {4.0f, 3.0f, 1.0f});
  const ChannelSplit s = plan_split(w, 1, 3, {}, 0);
  EXPECT_EQ(s.source, (std::vector<int64_t>{0, 1, 2, 0, 1, 0}));
  EXPECT_EQ(s.weight_factor, (std::vector<float>{0.25f, 0.5f, 1, 0.5f, 0.5f, 0.25f}));
  EXPECT_EQ(split_count(0.01, 64), 1);
  EXPECT_EQ(split_count(0.02, 100), 2);
  EXPECT_EQ(split_count(0, 100), 0);
}

TEST(QuantOcs, ActivationSplitHalvesTheActivationAndCopiesTheWeights) {
  const Tensor w = Tensor::from<float>({1, 3}, {0.5f, 0.25f, 1.0f});
  const ChannelSplit s = plan_split(w, 1, 0, {1.0f, 8.0f, 2.0f}, 1);
  EXPECT_EQ(s.source, (std::vector<int64_t>{0, 1, 2, 1}));
  EXPECT_EQ(s.weight_factor, (std::vector<float>{1, 1, 1, 1}));
  EXPECT_EQ(s.act_factor, (std::vector<float>{1, 0.5f, 1, 0.5f}));
  const Tensor x = Tensor::from<float>({1, 3}, {1.0f, 8.0f, -2.0f});
  const auto y = fc(w, x.reshaped({3})), ye = fc(expand_weights(w, 1, s), expand_activations(x, 1, s).reshaped({4}));
  EXPECT_NEAR(ye[0], y[0], 1e-6);
}

// models/NAME, or tests/fixtures/quant_export/convt_net (ConvTranspose and grouped layers,
// tools/make_convt_model.py).
std::string model_base(const std::string& name) {
  const std::string dir = name == "convt_net" ? "/tests/fixtures/quant_export/" : "/models/";
  return std::string(EFF_SOURCE_DIR) + dir + name;
}

std::string shipped(const std::string& name) {
  return model_base(name) + ".onnx";
}

Tensor ref_input(const std::string& name) {
  return read_npy(model_base(name) + ".ref/input.npy");
}

float max_abs_diff(const Tensor& a, const Tensor& b, float* scale) {
  float d = 0, m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
    m = std::max(m, std::fabs(a.data<float>()[i]));
  }
  *scale = m;
  return d;
}

class QuantShipped : public ::testing::TestWithParam<std::string> {};

// The split fp32 model computes the same function: weight and activation splits of 5% of every
// layer's channels, run by the engine, against the unsplit model on the reference images.
TEST_P(QuantShipped, SplitModelComputesTheSameFunction) {
  const Graph g = load_float_graph(shipped(GetParam()));
  const Tensor x = ref_input(GetParam());
  QuantSession session(g, {{x}}, 1);
  QuantOptions o;
  o.act_bits = 8;
  o.ocs_ratio = 0.05;
  const auto splits = session.splits(o);
  int split_layers = 0;
  for (const auto& [name, s] : splits) split_layers += !s.identity();
  EXPECT_EQ(split_layers, static_cast<int>(session.sites().size()));  // grouped layers too (convt_net)
  const Graph sg = split_graph(g, session.sites(), splits);
  ExecutorOptions eo;
  eo.threads = 1;
  Executor a(g, eo), b(sg, eo);
  const Tensor ya = a.run({x}).at(0), yb = b.run({x}).at(0);
  float scale = 0;
  const float d = max_abs_diff(ya, yb, &scale);
  EXPECT_LE(d, 1e-5f * std::max(1.0f, scale)) << GetParam();
  // And the same through the ONNX writer and loader.
  const std::string bytes = serialize_onnx(sg);
  Executor c(load_onnx_bytes(bytes.data(), bytes.size(), "split"), eo);
  const Tensor yc = c.run({x}).at(0);
  EXPECT_LE(max_abs_diff(ya, yc, &scale), 1e-5f * std::max(1.0f, scale)) << GetParam();
}

// The exported QDQ model goes through effectual's quantized-layer path: every layer is marked,
// its weight codes stay within the asked bits.
TEST_P(QuantShipped, ExportedModelIsSeenAsIntegerCodes) {
  const Graph g = load_float_graph(shipped(GetParam()));
  const Tensor x = ref_input(GetParam());
  QuantSession session(g, {{x}}, 1);
  QuantOptions o;
  o.weight_bits = 4;
  o.act_bits = 6;
  o.per_channel = true;
  o.weight_clip = o.act_clip = ClipMethod::kMse;
  o.ocs_ratio = 0.02;
  const QuantizedModel qm = session.quantize(o);
  const std::string bytes = serialize_onnx(qm.graph);
  const Graph lg = load_onnx_bytes(bytes.data(), bytes.size(), "quantized");
  const auto layers = find_layers(lg);
  ASSERT_EQ(layers.size(), session.sites().size());
  for (const LayerInfo& l : layers) {
    const LayerQuantization q = layer_quantization(lg, l);
    ASSERT_TRUE(q.present) << l.name;
    for (int16_t c : weight_codes(q, lg.constant(l.weights))) {
      ASSERT_LE(std::abs(c), 7) << l.name;
    }
  }
}

// A grouped Conv (2 groups of 2 input channels, 1 output each): each group splits its own
// largest-weight channel, the expanded channels stay group-contiguous and the output is unchanged.
TEST(QuantOcs, GroupedConvSplitsInsideEachGroup) {
  // W [2 outputs, 2 channels per group, 1]: group 0 reads x0, x1; group 1 reads x2, x3.
  const Tensor w = Tensor::from<float>({2, 2, 1}, {0.5f, -3.0f, 4.0f, 1.0f});
  const ChannelSplit s = plan_grouped_split(w, 1, 2, 1, {}, 0);
  EXPECT_EQ(s.channels, 4);
  EXPECT_EQ(s.source, (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(s.weight_factor, (std::vector<float>{1, 0.5f, 0.5f, 0.5f, 1, 0.5f}));
  const Tensor we = expand_weights(w, 1, s);
  ASSERT_EQ(we.shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(we.to_f32_vector(), (std::vector<float>{0.5f, -1.5f, -1.5f, 2.0f, 1.0f, 2.0f}));
  // Outputs: group 0 = 0.5 x0 - 3 x1, group 1 = 4 x2 + x3, before and after.
  const std::vector<float> x = {1, 2, 3, 4};
  const Tensor xe = expand_activations(Tensor::from<float>({1, 4}, x), 1, s);
  const std::vector<float> e = xe.to_f32_vector(), v = we.to_f32_vector();
  EXPECT_FLOAT_EQ(v[0] * e[0] + v[1] * e[1] + v[2] * e[2], 0.5f * 1 - 3.0f * 2);
  EXPECT_FLOAT_EQ(v[3] * e[3] + v[4] * e[4] + v[5] * e[5], 4.0f * 3 + 1.0f * 4);
}

INSTANTIATE_TEST_SUITE_P(Models, QuantShipped, ::testing::Values("lenet5", "vgg", "resnet", "convt_net"));

TEST(QuantErrors, RefusesAQuantizedModelAndBadOptions) {
  const std::string qdq = std::string(EFF_SOURCE_DIR) + "/tests/fixtures/models/quant/qdq_cnn.onnx";
  try {
    load_float_graph(qdq);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("already quantized"), std::string::npos) << e.what();
  }
  QuantOptions o;
  o.weight_bits = 16;
  EXPECT_THROW(validate(o), UsageError);
  o.weight_bits = 8;
  o.ocs_ratio = 1.5;
  EXPECT_THROW(validate(o), UsageError);
}

}  // namespace
}  // namespace eff::quant
