// The int8 format's VNNI conv over channel groups (deft/int8_direct_conv.h): bit for bit the scalar
// reference (int8_conv_reference with its shortcut, then a 2 x 2 MaxPool rows first) on 1 and 2
// threads (whole images per thread, and rows after a shared quantization), blocked and plain
// activations, strides 1 and 2, 1 x 1 to 5 x 5 kernels, asymmetric padding, zero points, channel
// counts that are not whole groups of four, partial filter blocks and odd pooled edges; and resnet
// under `--deft int8` running every conv after its stem on it.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "data/dataset.h"
#include "deft/deft_layer.h"
#include "deft/deft_model.h"
#include "deft/int8_direct_conv.h"
#include "deft/int8_layer.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "int8_test_support.h"

namespace eff::deft {

using namespace int8_test;

TEST(DeftInt8Direct, EqualsTheReferenceBitForBit) {
  ConvShape probe;
  probe.c = 16, probe.kh = probe.kw = 3;
  if (!int8_direct_conv_fits(probe)) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  struct Case {
    int64_t n, c, m, h, w, kh, kw, stride, top, left, bottom, right;
    float lo;  // inputs in [lo, 2): lo < 0 gives a zero point
    bool pool, residual;
  };
  const Case cases[] = {
      {1, 32, 32, 28, 28, 3, 3, 1, 1, 1, 1, 1, 0.f, false, false},   // resnet's stage 0 at batch 1
      {3, 32, 64, 28, 28, 3, 3, 2, 1, 1, 1, 1, -1.f, false, false},  // stride 2, a zero point, 3 images
      {4, 32, 64, 28, 28, 1, 1, 2, 0, 0, 0, 0, 0.f, false, false},   // a 1 x 1 stride-2 shortcut, 4 images
      {1, 64, 64, 14, 14, 3, 3, 1, 1, 1, 1, 1, 0.f, false, true},    // with the block's shortcut
      {2, 18, 20, 9, 13, 3, 3, 1, 1, 2, 0, 1, -0.5f, false, true},   // 18 channels: a partial group and block
      {1, 9, 40, 11, 11, 5, 5, 1, 2, 2, 2, 2, -2.f, true, false},    // 5 x 5, pooled, odd edges dropped
      {2, 64, 16, 15, 30, 3, 3, 1, 1, 1, 1, 1, 0.f, true, false},    // pooled, 30 columns: pieces of 12 and 3
      {3, 128, 136, 7, 7, 3, 3, 1, 1, 1, 1, 1, 0.f, false, true},    // stage 2's 7 x 7, 9 filter blocks
      {1, 12, 16, 6, 25, 2, 3, 2, 0, 1, 1, 0, -1.f, false, false},   // 2 x 3 kernel, stride 2, 25 columns
      {1, 20, 24, 13, 13, 1, 1, 2, 0, 0, 0, 0, -1.f, false, true},   // 1 x 1 stride 2 on odd edges, a shortcut
      {2, 16, 16, 9, 9, 1, 1, 3, 0, 0, 0, 0, 0.f, true, false},      // 1 x 1 stride 3, pooled
  };
  const int before = omp_get_max_threads();
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " c " << c.c << " m " << c.m << " k " << c.kh << "x" << c.kw
                                      << " stride " << c.stride << " pool " << c.pool << " residual " << c.residual);
    ConvShape s;
    s.c = c.c, s.h = c.h, s.w = c.w, s.kh = c.kh, s.kw = c.kw, s.sh = s.sw = c.stride;
    s.pad_top = c.top, s.pad_left = c.left;
    s.oh = (c.h + c.top + c.bottom - c.kh) / c.stride + 1;
    s.ow = (c.w + c.left + c.right - c.kw) / c.stride + 1;
    ASSERT_TRUE(int8_direct_conv_fits(s));
    const int64_t depth = c.c * c.kh * c.kw, in_pixels = c.h * c.w, conv_pixels = s.oh * s.ow;
    const auto w = uniform(static_cast<size_t>(c.m * depth), -0.5f, 0.5f, 21);
    const auto bias = uniform(static_cast<size_t>(c.m), -0.3f, 0.3f, 22);
    const auto x = uniform(static_cast<size_t>(c.n * c.c * in_pixels), c.lo, 2.f, 23);
    const std::vector<float> xb = blocked_of(x, c.n, c.c, in_pixels);
    std::vector<float> r, rb;
    if (c.residual) {
      r = uniform(static_cast<size_t>(c.n * c.m * conv_pixels), -1.f, 1.f, 24);
      rb = blocked_of(r, c.n, c.m, conv_pixels);
    }
    for (bool relu : {false, true}) {
      const Int8Layer l = make_int8_layer(w.data(), c.m, depth, bias.data(), choose_int8_input(c.lo, 2.f), relu);
      EXPECT_EQ(l.input.zero > 0, c.lo < 0);
      std::vector<float> ref(static_cast<size_t>(c.n * c.m * conv_pixels));
      int8_conv_reference(l, x.data(), c.n, s, ref.data(), c.residual ? r.data() : nullptr);
      if (c.pool) ref = pool_of(ref, c.n * c.m, s.oh, s.ow);
      const int64_t out_pixels = c.pool ? (s.oh / 2) * (s.ow / 2) : conv_pixels;
      const Int8DirectConvWeights packed = int8_direct_pack(l, c.c, c.kh, c.kw);
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        std::vector<uint8_t> scratch;
        for (ActLayout in : {ActLayout::kPlain, ActLayout::kBlocked}) {
          const float* xi = in == ActLayout::kBlocked ? xb.data() : x.data();
          expect_both_layouts(
              [&](float* y, ActLayout out) {
                const float* shortcut = out == ActLayout::kBlocked ? rb.data() : r.data();
                int8_direct_conv(l, packed, xi, in, c.n, s, c.bottom, c.right, y, out, threads,
                                 c.residual ? shortcut : nullptr, c.pool, scratch);
              },
              ref, c.n, c.m, out_pixels, "threads " + std::to_string(threads) + " relu " + std::to_string(relu));
        }
      }
    }
  }
  omp_set_num_threads(before);
}

// A stage's first conv and its shortcut in one call: each output is the reference's, bit for bit,
// whichever way the threads split (images, or the two convs' tasks by their cost).
TEST(DeftInt8Direct, TwoConvsOfOneInputEqualTheReferenceBitForBit) {
  ConvShape a;
  a.c = 32, a.h = a.w = 14, a.kh = a.kw = 3, a.sh = a.sw = 2, a.pad_top = a.pad_left = 1, a.oh = a.ow = 7;
  if (!int8_direct_conv_fits(a)) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  ConvShape b = a;
  b.kh = b.kw = 1, b.pad_top = b.pad_left = 0;  // (14 - 1) / 2 + 1 = 7
  const int64_t ma = 48, mb = 40, in_pixels = a.h * a.w, out_pixels = 49;
  const auto wa = uniform(static_cast<size_t>(ma * 32 * 9), -0.5f, 0.5f, 41);
  const auto wb = uniform(static_cast<size_t>(mb * 32), -0.5f, 0.5f, 42);
  const int before = omp_get_max_threads();
  for (int64_t n : {1, 2, 3}) {
    for (float lo : {0.f, -1.f}) {
      const auto x = uniform(static_cast<size_t>(n * 32 * in_pixels), lo, 2.f, 43);
      const Int8Input quant = choose_int8_input(lo, 2.f);
      const Int8Layer la = make_int8_layer(wa.data(), ma, 32 * 9, nullptr, quant, true);
      const Int8Layer lb = make_int8_layer(wb.data(), mb, 32, nullptr, quant, false);
      std::vector<float> ref_a(static_cast<size_t>(n * ma * out_pixels)),
          ref_b(static_cast<size_t>(n * mb * out_pixels));
      int8_conv_reference(la, x.data(), n, a, ref_a.data());
      int8_conv_reference(lb, x.data(), n, b, ref_b.data());
      const Int8DirectConvWeights pa = int8_direct_pack(la, 32, 3, 3), pb = int8_direct_pack(lb, 32, 1, 1);
      const std::vector<float> xb = blocked_of(x, n, 32, in_pixels);
      for (int threads : {1, 2}) {
        SCOPED_TRACE(::testing::Message() << "n " << n << " zero " << quant.zero << " threads " << threads);
        omp_set_num_threads(threads);
        std::vector<float> ya(static_cast<size_t>(n * 48 * out_pixels), -7.f), yb(ref_b.size(), -7.f);
        const Int8DirectConvCall calls[2] = {{&la, &pa, a, 1, 1, ya.data(), ActLayout::kBlocked, nullptr, false},
                                             {&lb, &pb, b, 0, 0, yb.data(), ActLayout::kPlain, nullptr, false}};
        std::vector<uint8_t> scratch;
        int8_direct_convs(calls, 2, xb.data(), ActLayout::kBlocked, n, threads, scratch);
        EXPECT_TRUE(same_bits(plain_of(ya, n, ma, out_pixels), ref_a));
        EXPECT_TRUE(same_bits(yb, ref_b));
      }
      // Different quantizations cannot share one pass.
      const Int8Layer other = make_int8_layer(wb.data(), mb, 32, nullptr, choose_int8_input(lo, 3.f), false);
      std::vector<float> ya(static_cast<size_t>(n * 48 * out_pixels)), yb(ref_b.size());
      const Int8DirectConvCall mixed[2] = {{&la, &pa, a, 1, 1, ya.data(), ActLayout::kBlocked, nullptr, false},
                                           {&other, &pb, b, 0, 0, yb.data(), ActLayout::kPlain, nullptr, false}};
      std::vector<uint8_t> scratch;
      EXPECT_THROW(int8_direct_convs(mixed, 2, x.data(), ActLayout::kPlain, n, 1, scratch), ShapeError);
    }
  }
  omp_set_num_threads(before);
}

TEST(DeftInt8Direct, RefusesDilationAndAShapeItWasNotPackedFor) {
  ConvShape s;
  s.c = 16, s.kh = s.kw = 3, s.h = s.w = 8, s.oh = s.ow = 6;
  if (!int8_direct_conv_fits(s)) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  s.dh = 2;
  EXPECT_FALSE(int8_direct_conv_fits(s));
  s.dh = 1;
  const auto w = uniform(16 * 16 * 9, -0.5f, 0.5f, 31);
  const Int8Layer l = make_int8_layer(w.data(), 16, 16 * 9, nullptr, choose_int8_input(0.f, 1.f), false);
  const Int8DirectConvWeights packed = int8_direct_pack(l, 16, 3, 3);
  std::vector<float> x(16 * 64), y(16 * 36);
  std::vector<uint8_t> scratch;
  ConvShape wrong = s;
  wrong.kh = wrong.kw = 1;
  EXPECT_THROW(int8_direct_conv(l, packed, x.data(), ActLayout::kPlain, 1, wrong, 0, 0, y.data(), ActLayout::kPlain, 1,
                                nullptr, false, scratch),
               ShapeError);
  EXPECT_THROW(int8_direct_pack(l, 8, 3, 3), ShapeError);
}

// resnet under `--deft int8`: every conv after its 1-channel stem on this kernel, the blocked layout
// between them; each stage's first conv and its shortcut as one pair node (one quantization),
// which changes no bit against the graph without pairs, on 1 and 2 threads, at batch 1 and 3.
TEST(DeftInt8Direct, ResnetRunsEveryConvAfterItsStemOnItAndPairsChangeNoBit) {
  if (!int8_direct_conv_preferred()) GTEST_SKIP() << "no AVX512-VNNI on this CPU, or AMX-INT8 (oneDNN's then)";
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  const auto calibration = open_dataset(std::string(EFF_SOURCE_DIR) + "/models/resnet.ref/input.npy",
                                        preprocess_from_json(m.meta.preprocessing));
  const DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice("int8", "--deft"), calibration.get(), 1, 1);
  auto graph_of = [&](bool pairs) {
    LoadOptions lo = m.load_options;
    lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan, true, pairs); };
    return load_onnx(m.path, lo);
  };
  const Graph paired = graph_of(true), unpaired = graph_of(false);
  for (const bool pairs : {false, true}) {
    SCOPED_TRACE(pairs ? "pairs" : "no pairs");
    ExecutorOptions eo;
    eo.threads = 2;
    Executor e(pairs ? paired : unpaired, eo);
    int direct = 0, residual = 0, pair_nodes = 0;
    for (size_t i = 0; i < e.graph().nodes.size(); ++i) {
      const Node& n = e.graph().nodes[i];
      if (n.op != kDeftLayerOp || n.attr_string("kind", "") != "conv") continue;
      const std::string impl = e.kernel_impl(i);
      if (impl.find(":direct-vnni:") != std::string::npos) continue;  // the stem: the few-channel conv
      for (size_t at = impl.find(":direct-vnni-channels"); at != std::string::npos;
           at = impl.find(":direct-vnni-channels", at + 1))
        ++direct;
      EXPECT_NE(impl.find(":blocked-in:blocked-out"), std::string::npos) << impl;
      residual += impl.find(":residual") != std::string::npos;
      pair_nodes += n.has_attr("pair.name");
    }
    EXPECT_EQ(direct, 8);
    EXPECT_EQ(residual, 3);
    EXPECT_EQ(pair_nodes, pairs ? 2 : 0);
  }
  for (int64_t batch : {1, 3}) {
    Shape shape = m.input_shape();
    shape[0] = batch;
    Tensor x(DType::kFloat32, shape);
    const auto values = uniform(static_cast<size_t>(x.numel()), -1.f, 2.f, 51);
    std::copy(values.begin(), values.end(), x.data<float>());
    ExecutorOptions one;
    one.threads = 1;
    Executor base(unpaired, one);
    const Tensor want = base.run({x})[0];
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "batch " << batch << " threads " << threads);
      ExecutorOptions eo;
      eo.threads = threads;
      Executor e(paired, eo);
      const Tensor got = e.run({x})[0];
      ASSERT_EQ(got.shape(), want.shape());
      EXPECT_EQ(std::memcmp(got.data<float>(), want.data<float>(), static_cast<size_t>(got.numel()) * sizeof(float)),
                0);
    }
  }
}

}  // namespace eff::deft
