// The int8 format's direct conv for few input channels (deft/int8_small_conv.h): bit for bit the
// scalar reference (int8_conv_reference, then a 2 x 2 MaxPool rows first), with and without the
// VNNI kernel, on 1 and 2 threads, blocked and plain activations, asymmetric padding, zero points,
// partial filter blocks and odd pooled edges; and lenet5 under `--deft int8` taking both its pools
// into these convs.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <random>

#include "core/error.h"
#include "data/dataset.h"
#include "deft/deft_layer.h"
#include "deft/deft_model.h"
#include "deft/int8_layer.h"
#include "deft/int8_small_conv.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "graph/passes.h"
#include "int8_test_support.h"

namespace eff::deft {

using namespace int8_test;

TEST(DeftInt8Small, EqualsTheReferenceBitForBit) {
  struct Case {
    int64_t n, c, m, h, w, kh, kw, top, left, bottom, right;
    float lo;  // inputs in [lo, 2): lo < 0 gives a zero point
    bool pool;
  };
  const Case cases[] = {
      {2, 1, 6, 28, 28, 5, 5, 0, 0, 0, 0, 0.f, true},     // lenet5's conv1
      {3, 6, 16, 14, 14, 5, 5, 0, 0, 0, 0, -1.f, true},   // its conv2, with a zero point
      {1, 3, 20, 9, 7, 3, 3, 1, 2, 0, 1, -0.5f, false},   // two filter blocks, the second partial
      {2, 8, 16, 11, 13, 3, 3, 1, 1, 1, 1, 0.f, false},   // 13 columns: a block of 12 and one more
      {1, 2, 5, 7, 9, 7, 7, 3, 3, 3, 3, -2.f, true},      // 7 taps a row (two quads), odd pooled edges
      {2, 4, 33, 6, 30, 1, 1, 0, 0, 0, 0, 0.f, false},    // 1 x 1, three filter blocks, 30 columns
      {1, 1, 32, 28, 28, 3, 3, 1, 1, 1, 1, -1.f, false},  // a shipped model's first conv
  };
  const bool vnni_here = int8_small_conv_has_vnni();
  const int before = omp_get_max_threads();
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " c " << c.c << " m " << c.m << " k " << c.kh << "x" << c.kw
                                      << " pool " << c.pool);
    ConvShape s;
    s.c = c.c, s.h = c.h, s.w = c.w, s.kh = c.kh, s.kw = c.kw, s.pad_top = c.top, s.pad_left = c.left;
    s.oh = c.h + c.top + c.bottom - c.kh + 1;
    s.ow = c.w + c.left + c.right - c.kw + 1;
    ASSERT_TRUE(int8_small_conv_fits(s));
    const int64_t depth = c.c * c.kh * c.kw, in_pixels = c.h * c.w;
    const auto w = uniform(static_cast<size_t>(c.m * depth), -0.5f, 0.5f, 11);
    const auto bias = uniform(static_cast<size_t>(c.m), -0.3f, 0.3f, 12);
    const auto x = uniform(static_cast<size_t>(c.n * c.c * in_pixels), c.lo, 2.f, 13);
    const std::vector<float> xb = blocked_of(x, c.n, c.c, in_pixels);
    for (bool relu : {false, true}) {
      const Int8Layer l = make_int8_layer(w.data(), c.m, depth, bias.data(), choose_int8_input(c.lo, 2.f), relu);
      EXPECT_EQ(l.input.zero > 0, c.lo < 0);
      std::vector<float> ref(static_cast<size_t>(c.n * c.m * s.oh * s.ow));
      int8_conv_reference(l, x.data(), c.n, s, ref.data());
      if (c.pool) ref = pool_of(ref, c.n * c.m, s.oh, s.ow);
      const int64_t out_pixels = c.pool ? (s.oh / 2) * (s.ow / 2) : s.oh * s.ow;
      const Int8SmallConvWeights packed = int8_small_pack(l, c.c, c.kh, c.kw);
      for (bool vnni : {false, true}) {
        if (vnni && !vnni_here) continue;
        for (int threads : {1, 2}) {
          omp_set_num_threads(threads);
          std::vector<uint8_t> scratch;
          for (ActLayout in : {ActLayout::kPlain, ActLayout::kBlocked}) {
            const float* xi = in == ActLayout::kBlocked ? xb.data() : x.data();
            expect_both_layouts(
                [&](float* y, ActLayout out) {
                  int8_small_conv(l, packed, xi, in, c.n, s, c.bottom, c.right, y, out, threads, c.pool, scratch, vnni);
                },
                ref, c.n, c.m, out_pixels, "vnni " + std::to_string(vnni) + " threads " + std::to_string(threads));
          }
        }
      }
    }
  }
  omp_set_num_threads(before);
}

TEST(DeftInt8Small, FitsStrideOneDilationOneAndFewChannels) {
  ConvShape s;
  s.c = 8, s.kh = s.kw = 3;
  EXPECT_TRUE(int8_small_conv_fits(s));
  s.c = 9;
  EXPECT_FALSE(int8_small_conv_fits(s));
  s.c = 3, s.sh = 2;
  EXPECT_FALSE(int8_small_conv_fits(s));
  s.sh = 1, s.dw = 2;
  EXPECT_FALSE(int8_small_conv_fits(s));
}

TEST(DeftInt8Small, Lenet5TakesBothPoolsIntoItsConvs) {
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  // Calibration ranges from the model's own reference input (no data set needed).
  const auto calibration = open_dataset(std::string(EFF_SOURCE_DIR) + "/models/lenet5.ref/input.npy",
                                        preprocess_from_json(m.meta.preprocessing));
  const DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice("int8", "--deft"), calibration.get(), 1, 1);
  LoadOptions lo = m.load_options;
  lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan); };
  const Graph g = load_onnx(m.path, lo);
  int pools = 0, fused = 0;
  for (const Node& n : g.nodes) {
    pools += n.op == "MaxPool";
    fused += n.op == kDeftLayerOp && n.attr_ints("pool") == std::vector<int64_t>{2, 2};
  }
  EXPECT_EQ(pools, 0);
  EXPECT_EQ(fused, 2);
  ExecutorOptions eo;
  eo.threads = 1;
  Executor e(g, eo);
  int small = 0;
  for (size_t i = 0; i < e.graph().nodes.size(); ++i) {
    const Node& n = e.graph().nodes[i];
    if (n.op != kDeftLayerOp || n.attr_string("kind", "") != "conv") continue;
    const std::string impl = e.kernel_impl(i);
    EXPECT_NE(impl.find(":direct-"), std::string::npos) << impl;
    EXPECT_NE(impl.find(":maxpool"), std::string::npos) << impl;
    ++small;
  }
  EXPECT_EQ(small, 2);
}

}  // namespace eff::deft
