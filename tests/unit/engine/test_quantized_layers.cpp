// Quantized models' conv/FC layers as the designs see them: integer codes minus zero points.
// Dynamically quantized layers (DynamicQuantizeLinear -> ConvInteger / MatMulInteger) get their
// run-time zero point; the exact integer sums recomputed from the observed codes equal what the
// engine's integer kernels computed (and those match ONNX Runtime: QuantFixtures.*); and on the
// real 8-bit models of tests/fixtures/real the profiler sees 8-bit integer weights and integer
// activations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "data/npy.h"
#include "engine/executor.h"
#include "engine/geometry.h"
#include "engine/quantized_layers.h"
#include "onnx/loader.h"
#include "profile/profiler.h"
#include "sim/code_sums.h"

namespace eff {
namespace {

std::string source(const std::string& rel) {
  return std::string(EFF_SOURCE_DIR) + "/" + rel;
}

struct Observed {
  LayerInfo info;
  LayerQuantization q;
  LayerGeometry geo;
  std::vector<int16_t> acts, wgts;
  Tensor output;
};

struct CaptureLayers final : LayerObserver {
  const Graph* graph = nullptr;
  std::map<std::string, Observed> seen;
  void on_layer(const LayerInfo& layer, const Tensor& a, const Tensor& w, const Tensor& o) override {
    Observed& s = seen[layer.name];
    s.info = layer;
    s.q = layer_quantization(*graph, layer);
    s.geo = layer_geometry(*graph, layer, a.shape(), w.shape(), o.shape());
    if (s.q.present) {
      s.acts = activation_codes(s.q, a);
      s.wgts = weight_codes(s.q, w);
    }
    s.output = o.clone();
  }
};

// DynamicQuantizeLinear's zero point, computed here from its definition (ONNX operator spec).
int32_t dynamic_zero_point(const std::vector<float>& x) {
  const float lo = std::min(0.0f, *std::min_element(x.begin(), x.end()));
  const float hi = std::max(0.0f, *std::max_element(x.begin(), x.end()));
  const float scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
  return static_cast<int32_t>(std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f)));
}

TEST(QuantDynamic, IntegerOpLayersSeeTheRunTimeZeroPointAndTheirSumsAreTheKernelOutputs) {
  const std::string dir = source("tests/fixtures/models/quant/");
  const Graph g = load_onnx(dir + "integer_ops.onnx");
  CaptureLayers capture;
  ExecutorOptions options;
  options.threads = 1;
  options.observer = &capture;
  Executor ex(g, options);
  capture.graph = &ex.graph();
  const Tensor input = read_npy(dir + "integer_ops.input.npy");
  ex.run({input});
  ASSERT_EQ(capture.seen.size(), 2u);
  const Observed& conv = capture.seen.at("conv_int");
  ASSERT_TRUE(conv.q.present);
  EXPECT_TRUE(conv.q.dynamic);
  EXPECT_TRUE(conv.info.has_runtime_act);
  // The conv's input is the model input: its zero point is DynamicQuantizeLinear's of it.
  EXPECT_EQ(conv.q.act_zero, dynamic_zero_point(input.to_f32_vector()));
  EXPECT_NE(conv.q.act_zero, 0);  // the input has negative values: the subtraction matters
  // A run-time uint8 zero point can be anything in 0..255: code - zero point needs 9 bits.
  EXPECT_EQ(conv.q.act_bits, 9);
  // ConvInteger / MatMulInteger output the int32 sums of (code - zero point) products: the
  // sums recomputed from the observed codes must be exactly those.
  for (const auto& [name, s] : capture.seen) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(s.q.present);
    const bool in_by_out = s.info.op == "MatMulInteger";
    const std::vector<int64_t> sums = sim::code_sums(s.geo, s.acts.data(), s.wgts, in_by_out);
    EXPECT_EQ(sums, s.output.to_i64_vector());
  }
}

// The 8-bit real models (tools/make_real_models.py: a static QDQ and a dynamic quantization of
// the same MobileNetV2, a dynamically quantized transformer): every Conv / constant-weight MatMul
// the quantizer rewrote is a quantized layer whose profiled weights are 8-bit integers and whose
// activations are integers of at most 9 bits.
TEST(QuantRealModels, ProfileSeesIntegerCodes) {
  struct Case {
    const char* model;
    std::vector<std::string> quantized_ops;  // the nodes the quantizer rewrote, in the file
  };
  for (const Case& c : {Case{"mobilenetv2_qdq_small", {"Conv", "Gemm"}},
                        Case{"mobilenetv2_dynq_small", {"ConvInteger"}}, Case{"transformer_dynq", {"MatMulInteger"}}}) {
    SCOPED_TRACE(c.model);
    const std::string base = source(std::string("tests/fixtures/real/") + c.model);
    LoadOptions raw;
    raw.run_passes = false;
    const Graph file = load_onnx(base + ".onnx", raw);
    const int64_t rewritten = std::count_if(file.nodes.begin(), file.nodes.end(), [&](const Node& n) {
      return std::count(c.quantized_ops.begin(), c.quantized_ops.end(), n.op) > 0;
    });
    ASSERT_GT(rewritten, 0);
    const Graph g = load_onnx(base + ".onnx");
    ExecutorOptions options;
    options.threads = 1;
    Executor ex(g, options);
    profile::ProfileOptions po;
    po.threads = 1;
    profile::Profiler p(ex.graph(), po);
    ex.set_observer(&p);
    const std::string input = std::string(c.model).find("transformer") != std::string::npos ? "tokens" : "input";
    const Tensor x = read_npy(base + ".ref/inputs/" + input + ".npy");
    p.set_calibrating(true);
    ex.run({x});
    p.set_calibrating(false);
    ex.run({x});
    int64_t quantized = 0;
    for (const profile::LayerProfile* l : p.layers()) {
      if (l->act_fixed_source != "quantized-model") continue;
      SCOPED_TRACE(l->info.name);
      ++quantized;
      EXPECT_EQ(l->wgt_fixed_source, "quantized-model");
      EXPECT_EQ(l->wgt_fixed.int_bits, 8);  // symmetric int8: code - 0 in [-127, 127]
      EXPECT_EQ(l->wgt_fixed.frac_bits, 0);
      EXPECT_GE(l->act_fixed.int_bits, 8);  // uint8 minus a zero point: [-z, 255 - z]
      EXPECT_LE(l->act_fixed.int_bits, 9);
      EXPECT_GE(l->wgt.min, -127.0f);
      EXPECT_LE(l->wgt.max, 127.0f);
      EXPECT_EQ(l->wgt.min, std::nearbyint(l->wgt.min));
      EXPECT_EQ(l->wgt.max, std::nearbyint(l->wgt.max));
      EXPECT_GE(l->act.min, -255.0f);
      EXPECT_LE(l->act.max, 255.0f);
      EXPECT_EQ(l->act.min, std::nearbyint(l->act.min));
      EXPECT_EQ(l->act.max, std::nearbyint(l->act.max));
      // Integer values: the mean times the count is an integer sum.
      EXPECT_EQ(l->act.sum, std::nearbyint(l->act.sum));
      EXPECT_GT(l->act.max - l->act.min, 16.0f);  // codes, not the float values (|x| of a few units)
    }
    EXPECT_EQ(quantized, rewritten);
  }
}

}  // namespace
}  // namespace eff
