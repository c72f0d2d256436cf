// A MaxPool between convs, a ConvTranspose whose kernel is its stride and a skip Concat that read
// channel-blocked inputs (a U-Net's encoder and decoder, ResNet's stem pool; graph/layout_pass.cpp,
// ops/pool.cpp, ops/conv_transpose_direct.cpp, ops/blocked_ops.cpp): the layout pass
// keeps them blocked only where the kernels can copy whole blocks, and the graph computes what it
// computes without any pass, with the same bits at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "engine/ops/conv_transpose_direct.h"
#include "graph/passes.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::random_values;
using test::set_attr;

struct Skip {
  int64_t enc_channels;  // the encoder conv: pooled, and the skip input of the Concat
  int64_t up_channels;   // the decoder's ConvTranspose (plain output), the Concat's other input
  bool skip_first;       // the skip value comes first in the Concat
  bool padded_pool;      // 3x3 stride 2 pads 1 (ResNet's stem) instead of 2x2 stride 2
};

// x (2x4x10x14) -> enc conv 3x3 + Relu -> MaxPool -> mid conv 1x1 -> ConvTranspose 2x2 stride 2
// (up) -> Concat(enc, up) in either order -> head conv 1x1 (8 channels). No layer qualifies for
// Winograd, whose oneDNN kernels round differently at 2 threads, so the bits must not change.
ModelBuilder skip_model(const Skip& s) {
  const int64_t e = s.enc_channels, u = s.up_channels;
  ModelBuilder b(13);
  b.input("x", {2, 4, 10, 14}).output("y", {2, 8, 10, 14});
  b.initializer("We", {e, 4, 3, 3}, random_values(static_cast<size_t>(e * 36), 1, 0.5f));
  b.initializer("Be", {e}, random_values(static_cast<size_t>(e), 2));
  b.initializer("Wm", {32, e, 1, 1}, random_values(static_cast<size_t>(32 * e), 3, 0.3f));
  b.initializer("Wu", {32, u, 2, 2}, random_values(static_cast<size_t>(32 * u * 4), 4, 0.3f));
  b.initializer("Bu", {u}, random_values(static_cast<size_t>(u), 5));
  b.initializer("Wh", {8, e + u, 1, 1}, random_values(static_cast<size_t>(8 * (e + u)), 6, 0.3f));
  set_attr(b.node("Conv", {"x", "We", "Be"}, {"e0"}, "enc"), "pads", std::vector<int64_t>{1, 1, 1, 1});
  b.node("Relu", {"e0"}, {"enc_out"}, "enc_relu");
  auto& pool = b.node("MaxPool", {"enc_out"}, {"p"}, "pool");
  set_attr(pool, "kernel_shape", std::vector<int64_t>{s.padded_pool ? 3 : 2, s.padded_pool ? 3 : 2});
  set_attr(pool, "strides", std::vector<int64_t>{2, 2});
  if (s.padded_pool) set_attr(pool, "pads", std::vector<int64_t>{1, 1, 0, 0});  // 10x14 -> 5x7 either way
  b.node("Conv", {"p", "Wm"}, {"m"}, "mid");
  auto& up = b.node("ConvTranspose", {"m", "Wu", "Bu"}, {"up"}, "up");
  set_attr(up, "kernel_shape", std::vector<int64_t>{2, 2});
  set_attr(up, "strides", std::vector<int64_t>{2, 2});
  const std::vector<std::string> cat =
      s.skip_first ? std::vector<std::string>{"enc_out", "up"} : std::vector<std::string>{"up", "enc_out"};
  set_attr(b.node("Concat", cat, {"cat"}, "concat"), "axis", int64_t{1});
  b.node("Conv", {"cat", "Wh"}, {"y"}, "head");
  return b;
}

TEST(BlockedPoolConcat, SkipConcatReadsWholeBlocksAndMatchesThePlainGraph) {
  // Up's bias and weights are not zero and 8 of its 16 lanes are padding in cases 1 and 5.
  const Tensor x = Tensor::from<float>({2, 4, 10, 14}, random_values(2 * 4 * 140, 21, 2.f));
  LoadOptions raw;
  raw.run_passes = false;
  struct Case {
    Skip skip;
    bool enc_blocked;  // what the layout pass may do with the skip value (and the pool)
    bool up_blocked;   // ... and with the ConvTranspose (in and out)
  };
  const Case cases[] = {
      {{16, 8, true, false}, true, true},    // skip at channel 0; up at 16, a partial block, last
      {{32, 16, false, false}, true, true},  // up at channel 0; skip at 16, two whole blocks, last
      {{24, 16, false, true}, true, true},   // skip at channel 16 with a partial block, last; padded pool
      {{24, 8, true, false}, false, false},  // partial block first: the next input would land inside it
      {{16, 8, false, true}, false, false},  // up's partial block first; skip at channel 8
  };
  for (const Case& c : cases) {
    const Skip& s = c.skip;
    SCOPED_TRACE(testing::Message() << "enc " << s.enc_channels << " up " << s.up_channels << " skip first "
                                    << s.skip_first << " padded pool " << s.padded_pool);
    const Graph g = skip_model(s).load();
    std::map<std::string, const Node*> by_name;
    for (const Node& n : g.nodes) by_name[n.name] = &n;
    const Node& enc = *by_name.at("enc");
    const Node& pool = *by_name.at("pool");
    const Node& up = *by_name.at("up");
    const Node& concat = *by_name.at("concat");
    EXPECT_EQ(enc.has_attr(kBlockedOutputAttr), c.enc_blocked);
    EXPECT_EQ(pool.has_attr(kBlockedInputAttr), c.enc_blocked);
    EXPECT_EQ(pool.has_attr(kBlockedOutputAttr), c.enc_blocked);
    EXPECT_EQ(by_name.at("mid")->has_attr(kBlockedInputAttr), c.enc_blocked);
    EXPECT_EQ(by_name.at("mid")->has_attr(kBlockedOutputAttr), c.up_blocked);
    EXPECT_EQ(up.has_attr(kBlockedInputAttr), c.up_blocked);
    EXPECT_EQ(up.has_attr(kBlockedOutputAttr), c.up_blocked);
    EXPECT_TRUE(concat.has_attr(kBlockedOutputAttr));
    const std::vector<int64_t> want_inputs = s.skip_first ? std::vector<int64_t>{c.enc_blocked, c.up_blocked}
                                                          : std::vector<int64_t>{c.up_blocked, c.enc_blocked};
    if (c.enc_blocked || c.up_blocked) {
      EXPECT_EQ(concat.attr_ints(kBlockedInputsAttr), want_inputs);
    } else {
      EXPECT_FALSE(concat.has_attr(kBlockedInputsAttr));
    }
    ExecutorOptions one;
    one.threads = 1;
    Executor plain(skip_model(s).load(raw), one);
    const std::vector<float> want = plain.run({x}).at(0).to_f32_vector();
    std::vector<float> first;
    for (int threads : {1, 2}) {
      ExecutorOptions o;
      o.threads = threads;
      Executor ex(g, o);
      for (int run = 0; run < 2; ++run) {  // the second run reuses pooled buffers
        const std::vector<float> got = ex.run({x}).at(0).to_f32_vector();
        ASSERT_EQ(got.size(), want.size());
        // Same convs, other layouts: rounding only (a layout or padding mistake is O(1)).
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f * (1 + std::fabs(want[i]))) << i;
        if (first.empty()) first = got;
        EXPECT_EQ(got, first) << "threads " << threads << " run " << run;
      }
      // A blocked pool runs our loop over whole blocks (ops/blocked_max_pool.h), a plain one oneDNN's.
      for (size_t i = 0; i < ex.graph().nodes.size(); ++i) {
        if (ex.graph().nodes[i].name != "pool") continue;
        EXPECT_EQ(ex.kernel_impl(i) == "loop:blocked_max_pool", c.enc_blocked) << ex.kernel_impl(i);
      }
    }
  }
}

// The pooled value as the graph output: the pool writes plain, so it reads plain too.
TEST(BlockedPoolConcat, PoolWhoseOutputIsAGraphOutputStaysPlain) {
  ModelBuilder b = skip_model({16, 8, true, false});
  b.output("p", {2, 16, 5, 7});
  const Graph g = b.load();
  for (const Node& n : g.nodes) {
    if (n.name == "pool") {
      EXPECT_FALSE(n.has_attr(kBlockedInputAttr));
      EXPECT_FALSE(n.has_attr(kBlockedOutputAttr));
    }
  }
}

// The blocked patch kernel by hand: 1 input pixel, 2 input channels (x = 1, 2), 2x2 kernel, 3
// output channels; y[m, a, b] = bias[m] + x0 * w[0, m, a, b] + x1 * w[1, m, a, b], then Relu.
// Blocked or not, the same bits, and the 13 padded lanes stay zero.
TEST(BlockedPoolConcat, BlockedPatchDeconvByHand) {
  ops::PatchGeometry geo{1, 2, 1, 1, 3, 2, 2};
  const std::vector<float> w = {1,    2,    3,    4,    0, 0,  0, 0,  -1, -1, -1, -1,   // c = 0: m = 0, 1, 2
                                0.5f, 0.5f, 0.5f, 0.5f, 1, -1, 1, -1, 0,  0,  0,  -3};  // c = 1
  const std::vector<float> bias = {0, 0.25f, 1};
  // m = 0: 1 * {1, 2, 3, 4} + 2 * 0.5 = {2, 3, 4, 5}; m = 1: 0.25 + 2 * {1, -1, 1, -1} = {2.25, 0, 2.25, 0}
  // (Relu of -1.75); m = 2: 1 - 1 + 2 * {0, 0, 0, -3} = {0, 0, 0, 0} (Relu of -6 last).
  const float want[3][4] = {{2, 3, 4, 5}, {2.25f, 0, 2.25f, 0}, {0, 0, 0, 0}};
  ops::FusedActivation relu;
  relu.kind = ops::FusedActivation::Kind::kRelu;
  std::vector<float> xb(16, 0.f);  // blocked input: one pixel, lanes 0 and 1
  xb[0] = 1;
  xb[1] = 2;
  std::vector<float> yb(4 * 16, -7.f);  // blocked output: 2x2 pixels x 16 lanes
  ops::conv_transpose_patches_blocked(xb.data(), w.data(), bias.data(), yb.data(), geo, relu);
  const std::vector<float> xp = {1, 2};
  std::vector<float> yp(3 * 4, -7.f);
  ops::conv_transpose_patches(xp.data(), w.data(), bias.data(), yp.data(), geo, relu);
  for (int m = 0; m < 3; ++m) {
    for (int p = 0; p < 4; ++p) {
      EXPECT_EQ(yb[p * 16 + m], want[m][p]) << m << " " << p;
      EXPECT_EQ(yp[m * 4 + p], want[m][p]) << m << " " << p;
    }
  }
  for (int p = 0; p < 4; ++p) {
    for (int l = 3; l < 16; ++l) EXPECT_EQ(yb[p * 16 + l], 0.f) << p << " " << l;
  }
}

}  // namespace
}  // namespace eff
