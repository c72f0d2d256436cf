// The int8 format (deft/formats.h, deft/int8_layer.h): the quantization rules on hand-computed
// cases, the conv and FC kernels (oneDNN's u8s8 int32 sums + our epilogue) against the scalar
// reference bit for bit on blocked and plain activations, 1 and 2 threads, and a shipped model run
// with `--deft int8`: accuracy near fp32 and int8 convs passing the blocked layout between them.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include "core/error.h"
#include "data/dataset.h"
#include "deft/deft_layer.h"
#include "deft/deft_model.h"
#include "deft/int8_layer.h"
#include "engine/dnnl_env.h"
#include "engine/evaluate.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "graph/passes.h"
#include "int8_test_support.h"

namespace eff::deft {

using namespace int8_test;

namespace {

ConvShape shape_of(int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad) {
  ConvShape s;
  s.c = c, s.h = h, s.w = w, s.kh = k, s.kw = k, s.sh = stride, s.sw = stride, s.pad_top = pad, s.pad_left = pad;
  s.oh = (h + 2 * pad - k) / stride + 1;
  s.ow = (w + 2 * pad - k) / stride + 1;
  return s;
}

}  // namespace

TEST(DeftInt8, ActivationScaleAndZeroPoint) {
  // Never negative (after a ReLU): zero point 0, the range's top is code 255.
  Int8Input q = choose_int8_input(0.f, 2.55f);
  EXPECT_EQ(q.zero, 0);
  EXPECT_EQ(q.scale, 2.55f / 255.f);
  q = choose_int8_input(2.f, 5.f);  // the range is widened to hold 0
  EXPECT_EQ(q.zero, 0);
  EXPECT_EQ(q.scale, 5.f / 255.f);
  // Negative inputs: scale 4 / 255, zero point 1 / (4 / 255) = 63.75 -> 64.
  q = choose_int8_input(-1.f, 3.f);
  EXPECT_EQ(q.scale, 4.f / 255.f);
  EXPECT_EQ(q.zero, 64);
  q = choose_int8_input(-2.f, 0.f);  // never positive: zero point 255
  EXPECT_EQ(q.zero, 255);
  // Only zeros seen: a usable scale, not 0 or NaN.
  q = choose_int8_input(0.f, 0.f);
  EXPECT_EQ(q.scale, 1.f);
  EXPECT_EQ(q.zero, 0);
  EXPECT_TRUE(valid_int8_input(q));
  EXPECT_FALSE(valid_int8_input({0.f, 0}));
  EXPECT_FALSE(valid_int8_input({1.f, 256}));
  EXPECT_FALSE(valid_int8_input({std::numeric_limits<float>::infinity(), 0}));
}

TEST(DeftInt8, ActivationCodesRoundHalfToEvenAndSaturate) {
  // Scale 1, zero point 0: the code is the value rounded, ties to even, held in 0..255.
  EXPECT_EQ(quantize_int8_input(2.5f, 1.f, 0), 2);
  EXPECT_EQ(quantize_int8_input(3.5f, 1.f, 0), 4);
  EXPECT_EQ(quantize_int8_input(3.49f, 1.f, 0), 3);
  EXPECT_EQ(quantize_int8_input(-1.f, 1.f, 0), 0);
  EXPECT_EQ(quantize_int8_input(254.5f, 1.f, 0), 254);
  EXPECT_EQ(quantize_int8_input(255.5f, 1.f, 0), 255);
  EXPECT_EQ(quantize_int8_input(1e30f, 1.f, 0), 255);
  EXPECT_EQ(quantize_int8_input(std::nanf(""), 1.f, 0), 0);
  // Zero point 10: value x -> round(x) + 10, held in 0..255 (x in -10..245).
  EXPECT_EQ(quantize_int8_input(-3.f, 1.f, 10), 7);
  EXPECT_EQ(quantize_int8_input(0.5f, 1.f, 10), 10);
  EXPECT_EQ(quantize_int8_input(2.5f, 1.f, 11), 13);  // rounded before the zero point is added (13.5 -> 14)
  EXPECT_EQ(quantize_int8_input(-9.5f, 1.f, 10), 0);  // -9.5 -> -10 (even)
  EXPECT_EQ(quantize_int8_input(-11.f, 1.f, 10), 0);
  EXPECT_EQ(quantize_int8_input(245.5f, 1.f, 10), 255);
  EXPECT_EQ(quantize_int8_input(std::nanf(""), 1.f, 10), 0);  // NaN: the lowest code, as the vector max gives
  // The scale: x * (1 / scale); scale 0.5 doubles.
  EXPECT_EQ(quantize_int8_input(1.25f, Int8Input{0.5f, 0}.inverse(), 0), 2);  // 2.5 -> 2
  EXPECT_EQ(quantize_int8_input(1.75f, Int8Input{0.5f, 0}.inverse(), 0), 4);  // 3.5 -> 4
}

// Plain (NCHW) channels to pixel-by-pixel codes, as the int8 convs quantize a plain input: each
// code is quantize_int8_input's, for 1 to 16 channels and pixel counts around the 16-pixel tiles,
// with ties, saturation and NaN among the values; bytes between the pixels are left alone.
TEST(DeftInt8, PlanesToPixelsQuantizeEachValueByTheRule) {
  const int64_t plane = 41;
  std::vector<float> x = int8_test::uniform(16 * plane, -12.f, 270.f, 61);
  x[3] = 2.5f, x[plane + 5] = 3.5f, x[2 * plane + 17] = 1e30f, x[3 * plane + 33] = std::nanf(""), x[15 * plane] = -9.5f;
  for (int32_t zero : {0, 10})
    for (int64_t lanes : {1, 3, 15, 16})
      for (int64_t pixels : {1, 15, 16, 17, 41}) {
        const int64_t stride = 20;
        std::vector<uint8_t> got(static_cast<size_t>(pixels * stride), 0xAB);
        quantize_int8_planes(x.data(), plane, lanes, pixels, got.data(), stride, 1.f, zero);
        for (int64_t p = 0; p < pixels; ++p)
          for (int64_t k = 0; k < stride; ++k) {
            const uint8_t want = k < lanes ? quantize_int8_input(x[k * plane + p], 1.f, zero) : 0xAB;
            ASSERT_EQ(got[p * stride + k], want)
                << "zero " << zero << " lanes " << lanes << " pixels " << pixels << " p " << p << " k " << k;
          }
      }
}

TEST(DeftInt8, WeightCodesPerChannel) {
  // max |w| = 127: scale 1, codes the weights rounded half to even.
  const std::vector<float> row{127.f, -63.5f, 62.5f, 0.5f, -0.5f, 1.5f, -126.5f};
  EXPECT_EQ(int8_weight_scale(row.data(), 7), 1.f);
  const std::vector<int> want{127, -64, 62, 0, 0, 2, -126};
  for (size_t i = 0; i < row.size(); ++i) EXPECT_EQ(quantize_int8_weight(row[i], 1.f), want[i]) << row[i];
  EXPECT_EQ(quantize_int8_weight(300.f, 1.f), 127);  // saturation at +-127 (never -128)
  EXPECT_EQ(quantize_int8_weight(-300.f, 1.f), -127);
  EXPECT_EQ(quantize_int8_weight(std::nanf(""), 1.f), 0);
  // max |w| = 63.5: scale 0.5 (exact); -0.25 / 0.5 = -0.5 -> 0, 1.5 -> 2, 2.5 -> 2.
  const std::vector<float> halves{63.5f, -0.25f, 0.75f, 1.25f};
  const float s = int8_weight_scale(halves.data(), 4);
  EXPECT_EQ(s, 0.5f);
  EXPECT_EQ(quantize_int8_weight(-0.25f, s), 0);
  EXPECT_EQ(quantize_int8_weight(0.75f, s), 2);
  EXPECT_EQ(quantize_int8_weight(1.25f, s), 2);
  // A channel of zeros: scale 1 (not 0 or NaN), codes 0, output the bias.
  const std::vector<float> w{0.f, 0.f, 0.f, 63.5f, -127.f, 15.875f};
  const std::vector<float> bias{0.75f, -1.f};
  const Int8Layer l = make_int8_layer(w.data(), 2, 3, bias.data(), Int8Input{0.5f, 0}, false);
  EXPECT_EQ(l.weight_scale[0], 1.f);
  EXPECT_EQ(l.weight_scale[1], 1.f);
  EXPECT_EQ(l.codes[0], 0);
  EXPECT_EQ(l.codes[3], 64);
  EXPECT_EQ(l.codes[4], -127);
  EXPECT_EQ(l.codes[5], 16);
  EXPECT_EQ(l.combined[0], 0.5f);
  EXPECT_EQ(l.combined.size(), 16u);  // padded to a block, zeros past the channels
  EXPECT_EQ(l.combined[2], 0.f);
  // Inputs 1, 2, 3 at scale 0.5: codes 2, 4, 6. Channel 1: 128 - 508 + 96 = -284; -284 * 0.5 - 1.
  const std::vector<float> x{1.f, 2.f, 3.f};
  std::vector<float> y(2);
  int8_fc_reference(l, x.data(), 1, y.data());
  EXPECT_EQ(y[0], 0.75f);
  EXPECT_EQ(y[1], -143.f);
}

TEST(DeftInt8, EpilogueIsOneFmaThenTheRelu) {
  EXPECT_EQ(int8_output(100, 0.25f, 1.f, false), 26.f);
  EXPECT_EQ(int8_output(-100, 0.25f, 1.f, false), -24.f);
  EXPECT_EQ(int8_output(-100, 0.25f, 1.f, true), 0.f);
  // 3 * 0.1f is not a float: fused (one rounding) and unfused (two) differ here.
  const float fused = std::fma(3.f, 0.1f, -0.3f);
  volatile float product = 3.f * 0.1f;
  ASSERT_NE(fused, product - 0.3f);
  EXPECT_EQ(int8_output(3, 0.1f, -0.3f, false), fused);
}

TEST(DeftInt8, PaddingHoldsTheZeroPoint) {
  // One channel 2 x 2, all-ones 3 x 3 filter (codes 127, scale 1/127), pad 1: every output sees all
  // four inputs and five padding taps. Inputs 1..4 with scale 1, zero point 10: codes 11..14, sum
  // of (code - 10) = 10 -> 127 * 10 = 1270 -> 1270 * (1/127) = 10. Padding read as code 0 would
  // add 5 * -10 per output.
  const ConvShape s = shape_of(1, 2, 2, 3, 1, 1);
  const std::vector<float> w(9, 1.f), x{1.f, 2.f, 3.f, 4.f};
  const Int8Layer l = make_int8_layer(w.data(), 1, 9, nullptr, Int8Input{1.f, 10}, false);
  std::vector<float> ref(4);
  int8_conv_reference(l, x.data(), 1, s, ref.data());
  for (float v : ref) EXPECT_NEAR(v, 10.f, 1e-5f);
  DnnlEnv env;
  Int8ConvKernel k;
  std::vector<float> got(16 * 4);
  const std::vector<float> xb = blocked_of(x, 1, 1, 4);
  k.run(env, l, xb.data(), ActLayout::kBlocked, 1, s, got.data(), ActLayout::kBlocked, 1);
  EXPECT_TRUE(same_bits(plain_of(got, 1, 1, 4), ref)) << k.impl();
}

TEST(DeftInt8, ConvEqualsTheReferenceBitForBit) {
  struct Case {
    int64_t n, c, m, hw, k, stride, pad;
    float lo;  // inputs in [lo, 2): lo < 0 gives a zero point
  };
  const Case cases[] = {{3, 20, 24, 9, 3, 2, 1, -1.f},
                        {2, 32, 40, 8, 3, 1, 1, 0.f},
                        {1, 16, 17, 7, 1, 2, 0, 0.f},
                        {2, 5, 16, 6, 3, 1, 1, -0.5f},
                        // ~166 KB per image: the batch of 5 runs as chunks of 3 and 2 (two plans).
                        {5, 32, 32, 20, 3, 1, 1, 0.f},
                        // Two threads: 4 images per worker, each in chunks of 3 and 1.
                        {8, 32, 32, 20, 3, 1, 1, -1.f},
                        // One block of output channels at batch 1: split by rows.
                        {1, 8, 16, 6, 3, 1, 1, 0.f},
                        // A 7 x 7 map at batch 1: rows would read 5 of 7 input rows each, so by channels.
                        {1, 40, 48, 7, 3, 1, 1, -1.f},
                        // One output row and one block of channels: two threads share oneDNN's team.
                        {1, 8, 16, 1, 1, 1, 0, 0.f}};
  // How two threads split each case: by images, by output rows, by output channels (the 24 and 48
  // channels in blocks of 16, the last one partial), or one team.
  const char* const split_at_two[] = {"by-channels", "by-images", "by-rows",     "by-images", "by-rows",
                                      "by-images",   "by-rows",   "by-channels", ""};
  DnnlEnv env;
  const int before = omp_get_max_threads();
  for (size_t ci = 0; ci < std::size(cases); ++ci) {
    const Case& c = cases[ci];
    SCOPED_TRACE(::testing::Message() << "n " << c.n << " c " << c.c << " m " << c.m << " stride " << c.stride);
    const ConvShape s = shape_of(c.c, c.hw, c.hw, c.k, c.stride, c.pad);
    const int64_t depth = c.c * c.k * c.k, in_pixels = c.hw * c.hw, out_pixels = s.oh * s.ow;
    const auto w = uniform(static_cast<size_t>(c.m * depth), -0.5f, 0.5f, 1);
    const auto bias = uniform(static_cast<size_t>(c.m), -0.2f, 0.2f, 2);
    const auto x = uniform(static_cast<size_t>(c.n * c.c * in_pixels), c.lo, 2.f, 3);
    for (bool relu : {false, true}) {
      const Int8Layer l = make_int8_layer(w.data(), c.m, depth, bias.data(), choose_int8_input(c.lo, 2.f), relu);
      EXPECT_EQ(l.input.zero > 0, c.lo < 0);
      std::vector<float> ref(static_cast<size_t>(c.n * c.m * out_pixels));
      int8_conv_reference(l, x.data(), c.n, s, ref.data());
      const std::vector<float> xb = blocked_of(x, c.n, c.c, in_pixels);
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        Int8ConvKernel k;
        std::vector<float> yb(static_cast<size_t>(c.n * ((c.m + 15) / 16) * 16 * out_pixels), -7.f);
        k.run(env, l, xb.data(), ActLayout::kBlocked, c.n, s, yb.data(), ActLayout::kBlocked, threads);
        EXPECT_EQ(k.impl().find("reference"), std::string::npos) << k.impl();  // oneDNN's kernel ran
        const std::string split = threads == 1 ? "" : split_at_two[ci];
        EXPECT_EQ(k.impl().find("workers-") != std::string::npos, !split.empty()) << k.impl();
        if (!split.empty()) {
          EXPECT_NE(k.impl().find(split), std::string::npos) << k.impl();
        }
        EXPECT_TRUE(same_bits(plain_of(yb, c.n, c.m, out_pixels), ref)) << k.impl();
        // The padded output channels hold 0, as the blocked layout needs.
        for (int64_t i = 0; i < c.n; ++i)
          for (int64_t ch = c.m; ch < (c.m + 15) / 16 * 16; ++ch)
            EXPECT_EQ(yb[((i * ((c.m + 15) / 16) + ch / 16) * out_pixels) * 16 + ch % 16], 0.f);
        // Plain NCHW in and out, the same kernel (and a second call reusing its plan).
        std::vector<float> yp(ref.size());
        k.run(env, l, x.data(), ActLayout::kPlain, c.n, s, yp.data(), ActLayout::kPlain, threads);
        EXPECT_TRUE(same_bits(yp, ref));
        // A fused residual block's shortcut, laid out as the output: blocked and plain.
        const auto r = uniform(ref.size(), -1.f, 1.f, 8);
        std::vector<float> ref_r(ref.size());
        int8_conv_reference(l, x.data(), c.n, s, ref_r.data(), r.data());
        const std::vector<float> rb = blocked_of(r, c.n, c.m, out_pixels);
        k.run(env, l, xb.data(), ActLayout::kBlocked, c.n, s, yb.data(), ActLayout::kBlocked, threads, rb.data());
        EXPECT_TRUE(same_bits(plain_of(yb, c.n, c.m, out_pixels), ref_r));
        k.run(env, l, x.data(), ActLayout::kPlain, c.n, s, yp.data(), ActLayout::kPlain, threads, r.data());
        EXPECT_TRUE(same_bits(yp, ref_r));
        // A fused 2 x 2 MaxPool (odd edges dropped): blocked and plain, each split of its own (rows
        // split at even conv rows).
        if (s.oh >= 2 && s.ow >= 2) {
          const std::vector<float> ref_p = pool_of(ref, c.n * c.m, s.oh, s.ow);
          const int64_t pooled = (s.oh / 2) * (s.ow / 2);
          Int8ConvKernel kp;
          std::vector<float> ybp(static_cast<size_t>(c.n * ((c.m + 15) / 16) * 16 * pooled), -7.f);
          kp.run(env, l, xb.data(), ActLayout::kBlocked, c.n, s, ybp.data(), ActLayout::kBlocked, threads, nullptr,
                 true);
          EXPECT_TRUE(same_bits(plain_of(ybp, c.n, c.m, pooled), ref_p)) << kp.impl();
          std::vector<float> ypp(ref_p.size(), -7.f);
          kp.run(env, l, x.data(), ActLayout::kPlain, c.n, s, ypp.data(), ActLayout::kPlain, threads, nullptr, true);
          EXPECT_TRUE(same_bits(ypp, ref_p)) << kp.impl();
        }
      }
    }
  }
  omp_set_num_threads(before);
}

TEST(DeftInt8, FcEqualsTheReferenceBitForBit) {
  DnnlEnv env;
  const int before = omp_get_max_threads();
  const int64_t k = 100, m = 37;  // K and M with tails past 16
  const auto w = uniform(static_cast<size_t>(m * k), -1.f, 1.f, 4);
  const auto bias = uniform(static_cast<size_t>(m), -0.2f, 0.2f, 5);
  for (float lo : {0.f, -3.f}) {
    for (int64_t n : {1, 5}) {
      const auto x = uniform(static_cast<size_t>(n * k), lo, 3.f, 6);
      const Int8Layer l = make_int8_layer(w.data(), m, k, bias.data(), choose_int8_input(lo, 3.f), true);
      std::vector<float> ref(static_cast<size_t>(n * m));
      int8_fc_reference(l, x.data(), n, ref.data());
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        Int8FcKernel fc;
        std::vector<float> y(ref.size(), -7.f);
        fc.run(env, l, x.data(), n, y.data(), threads);
        EXPECT_TRUE(same_bits(y, ref)) << "zero " << l.input.zero << " n " << n << " threads " << threads;
      }
    }
  }
  omp_set_num_threads(before);
}

TEST(DeftInt8, ChoicesAndPlansRefuseEliminationAndMissingCalibration) {
  EXPECT_THROW(parse_deft_choice("int8,alpha=0.9", "--deft"), UsageError);
  EXPECT_NO_THROW(parse_deft_choice("int8,layers=conv", "--deft"));
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  EXPECT_THROW(plan_deft(m.graph, parse_deft_choice("int8", "--deft"), nullptr, 0, 1), UsageError);
  EXPECT_THROW(plan_layer(m.graph, "/fc2/Gemm", Format::kInt8, sve_identity(120), Compensation::kNone), UsageError);
}

TEST(DeftInt8, ResidualAddFusedIsTheUnfusedAddAndReluBitForBit) {
  // resnet with every layer in int8 (any valid input quantization will do): each stage's Add (and
  // its Relu) goes into the conv2's epilogue, which reads the shortcut in its blocked output layout.
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  DeftModelPlan plan;
  const Int8Input q{0.05f, 12};
  for (const LayerInfo& l : find_layers(m.graph)) {
    const Node& n = m.graph.nodes[l.node];
    if (!deft_eligible(m.graph, n, nullptr)) continue;
    plan.layers.push_back(plan_layer(m.graph, n.name, Format::kInt8, plan_sve(m.graph, n.name, 2.0, nullptr, 1),
                                     Compensation::kNone, &q));
  }
  ASSERT_GE(plan.layers.size(), 8u);
  auto load = [&](bool fuse) {
    LoadOptions lo = m.load_options;
    lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan, fuse); };
    return load_onnx(m.path, lo);
  };
  const Graph fused = load(true), unfused = load(false);
  int adds = 0, residual_convs = 0;
  for (const Node& n : fused.nodes) {
    adds += n.op == "Add";
    if (n.op != kDeftLayerOp || n.inputs.size() != 4) continue;
    ++residual_convs;
    EXPECT_EQ(n.attr_string("activation", ""), "Relu");
    EXPECT_EQ(n.attr_int(kBlockedOutputAttr, 0), 1) << n.name;
  }
  EXPECT_EQ(adds, 0);
  EXPECT_EQ(residual_convs, 3);
  int unfused_adds = 0;
  for (const Node& n : unfused.nodes) unfused_adds += n.op == "Add";
  EXPECT_EQ(unfused_adds, 3);
  Shape shape = m.input_shape();
  shape[0] = 3;
  Tensor x(DType::kFloat32, shape);
  const auto v = uniform(static_cast<size_t>(x.numel()), -1.f, 1.f, 9);
  std::copy(v.begin(), v.end(), x.data<float>());
  ExecutorOptions eo;
  eo.threads = 1;
  const Tensor want = Executor(unfused, eo).run({x})[0];
  for (int threads : {1, 2}) {
    eo.threads = threads;
    const Tensor got = Executor(fused, eo).run({x})[0];
    ASSERT_EQ(got.numel(), want.numel());
    EXPECT_EQ(0, std::memcmp(got.data<float>(), want.data<float>(), want.nbytes())) << threads << " threads";
  }
  // The batch split (each of 2 threads runs its share of the 3 images through every node): the
  // same bits, as the int8 sums are exact at any batch.
  plan.batch_split = true;
  const Graph split = load(true);
  eo.threads = 2;
  Executor split_run(split, eo);
  const Tensor got = split_run.run({x})[0];
  EXPECT_EQ(split_run.last_run_parts(), 2);
  EXPECT_EQ(0, std::memcmp(got.data<float>(), want.data<float>(), want.nbytes()));
}

TEST(DeftInt8, ShippedModelKeepsAccuracyAndTheBlockedLayout) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") &&
      !std::getenv("EFFECTUAL_FASHION_MNIST_DIR")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/vgg.onnx");
  const auto pre = preprocess_from_json(m.meta.preprocessing);
  const auto calibration = open_dataset("fashion-mnist:train", pre);  // disjoint from the test images
  const auto test = open_dataset("fashion-mnist:test", pre);
  const DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice("int8", "--deft"), calibration.get(), 256, 2);
  ASSERT_FALSE(plan.layers.empty());
  LoadOptions lo = m.load_options;
  lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan); };
  const Graph g = load_onnx(m.path, lo);
  // Every int8 conv reads and writes the blocked layout but the first (the image, plain) and the
  // last (read by a Flatten, plain); no engine Conv is left, no layout copy between them.
  int convs = 0, blocked_in = 0, blocked_out = 0;
  for (const Node& n : g.nodes) {
    EXPECT_NE(n.op, "Conv");
    if (n.op != kDeftLayerOp || n.attr_string("kind", "") != "conv") continue;
    EXPECT_EQ(n.attr_string("format", ""), "int8");
    ++convs;
    blocked_in += n.attr_int(kBlockedInputAttr, 0) != 0;
    blocked_out += n.attr_int(kBlockedOutputAttr, 0) != 0;
  }
  ASSERT_GE(convs, 3);
  EXPECT_EQ(blocked_in, convs - 1);
  EXPECT_EQ(blocked_out, convs - 1);
  // Top-1 on 1000 test images within 1 point of fp32 (the goal is 0.5 on 10000).
  ExecutorOptions eo;
  eo.threads = 2;
  EvalOptions ev;
  ev.batch = 100;
  ev.limit = 1000;
  ev.progress = false;
  Executor fp32(m.graph, eo), int8(g, eo);
  const EvalResult a = evaluate(fp32, *test, ev), b = evaluate(int8, *test, ev);
  EXPECT_EQ(b.count, 1000);
  EXPECT_NEAR(b.top1(), a.top1(), 0.01) << "fp32 " << a.top1() << " int8 " << b.top1();
}

}  // namespace eff::deft
