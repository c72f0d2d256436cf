// A Resize between blocked convs reads and writes nChw16c (ops/resize.cpp run_blocked; the fp16
// U-Net's bilinear upsampling, a feature pyramid's nearest one): the same bits as the plain kernel
// for every pass order it has (H then W, W then H, one axis only), nearest in several coordinate
// modes, sizes instead of scales, the fused fp16 rounding, whole and partial channel blocks, at 1
// and 2 threads.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "../onnx/model_builder.h"
#include "engine/executor.h"
#include "graph/passes.h"

namespace eff {
namespace {

using test::ModelBuilder;
using test::random_values;
using test::set_attr;

struct ResizeCase {
  std::string name;
  std::string mode;
  std::string coordinates;
  std::string nearest_mode;
  std::vector<float> scales;  // empty: sizes
  std::vector<int64_t> sizes;
  bool round_half;  // a Cast to float16 and back after the Resize (folded into it)
};

// x -> identity 1x1 conv (writes blocked) -> Resize -> identity 1x1 conv (reads blocked, writes the
// plain graph output). An identity conv adds exact zeros only, so the graph's output is the
// Resize's output bit for bit, whatever layout the convs use.
ModelBuilder resize_model(const ResizeCase& c, int64_t channels, const Shape& in, const Shape& out) {
  ModelBuilder b(13);
  b.input("x", {in[0], channels, in[2], in[3]}).output("y", {out[0], channels, out[2], out[3]});
  std::vector<float> eye(static_cast<size_t>(channels * channels), 0.f);
  for (int64_t k = 0; k < channels; ++k) eye[static_cast<size_t>(k * channels + k)] = 1.f;
  b.initializer("I0", {channels, channels, 1, 1}, eye);
  b.initializer("I1", {channels, channels, 1, 1}, eye);
  b.initializer("roi", {0}, {});
  b.node("Conv", {"x", "I0"}, {"a"}, "before");
  std::vector<std::string> inputs = {"a", "roi"};
  if (c.scales.empty()) {
    b.initializer("scales", {0}, {});
    b.initializer_i64("sizes", {4}, c.sizes);
    inputs.insert(inputs.end(), {"scales", "sizes"});
  } else {
    b.initializer("scales", {4}, c.scales);
    inputs.push_back("scales");
  }
  auto& r = b.node("Resize", inputs, {c.round_half ? "r" : "b"}, "resize");
  set_attr(r, "mode", c.mode);
  set_attr(r, "coordinate_transformation_mode", c.coordinates);
  if (!c.nearest_mode.empty()) set_attr(r, "nearest_mode", c.nearest_mode);
  if (c.round_half) {
    set_attr(b.node("Cast", {"r"}, {"h"}, "to_half"), "to", int64_t{10});
    set_attr(b.node("Cast", {"h"}, {"b"}, "to_float"), "to", int64_t{1});
  }
  b.node("Conv", {"b", "I1"}, {"y"}, "after");
  return b;
}

TEST(BlockedResize, SameBitsAsThePlainKernel) {
  const Shape in = {2, 0, 10, 14};
  const std::vector<ResizeCase> cases = {
      {"bilinear x2 half_pixel (U-Net)", "linear", "half_pixel", "", {1, 1, 2, 2}, {}, false},
      {"bilinear x2 with fp16 rounding", "linear", "half_pixel", "", {1, 1, 2, 2}, {}, true},
      {"H shrinks first", "linear", "align_corners", "", {1, 1, 0.5f, 3}, {}, false},
      {"W shrinks first", "linear", "pytorch_half_pixel", "", {1, 1, 3, 0.5f}, {}, false},
      {"H only", "linear", "asymmetric", "", {1, 1, 1.5f, 1}, {}, false},
      {"W only, sizes", "linear", "half_pixel", "", {}, {2, 0, 10, 25}, false},
      {"nearest x2 asymmetric floor", "nearest", "asymmetric", "floor", {1, 1, 2, 2}, {}, false},
      {"nearest half_pixel", "nearest", "half_pixel", "round_prefer_floor", {1, 1, 1.5f, 2.5f}, {}, false},
      {"nearest down, sizes", "nearest", "align_corners", "round_prefer_ceil", {}, {2, 0, 7, 6}, true},
  };
  LoadOptions raw;
  raw.run_passes = false;
  for (const int64_t channels : {16, 24}) {
    for (ResizeCase c : cases) {
      SCOPED_TRACE(testing::Message() << c.name << ", " << channels << " channels");
      Shape out = in;
      if (c.scales.empty()) {
        c.sizes[1] = channels;
        out = c.sizes;
      } else {
        for (int d = 2; d < 4; ++d) out[d] = static_cast<int64_t>(static_cast<float>(in[d]) * c.scales[d]);
      }
      out[1] = channels;
      const Tensor x = Tensor::from<float>({in[0], channels, in[2], in[3]},
                                           random_values(static_cast<size_t>(in[0] * channels * 140), 41, 3.f));
      const Graph g = resize_model(c, channels, in, out).load();
      std::map<std::string, const Node*> by_name;
      for (const Node& n : g.nodes) by_name[n.name] = &n;
      const Node& resize = *by_name.at("resize");
      ASSERT_EQ(resize.op, "Resize");
      EXPECT_TRUE(resize.has_attr(kBlockedInputAttr));
      EXPECT_TRUE(resize.has_attr(kBlockedOutputAttr));
      EXPECT_EQ(resize.has_attr(kViaFloat16Attr), c.round_half);
      EXPECT_TRUE(by_name.at("after")->has_attr(kBlockedInputAttr));
      for (int threads : {1, 2}) {
        ExecutorOptions o;
        o.threads = threads;
        const Tensor want_t = Executor(resize_model(c, channels, in, out).load(raw), o).run({x}).at(0);
        ASSERT_EQ(want_t.shape(), out);
        const std::vector<float> want = want_t.to_f32_vector();
        Executor ex(g, o);
        for (int run = 0; run < 2; ++run) {  // the second run reuses pooled buffers
          const std::vector<float> got = ex.run({x}).at(0).to_f32_vector();
          ASSERT_EQ(got.size(), want.size());
          EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
              << "threads " << threads << " run " << run;
        }
      }
    }
  }
}

// Only H and W may be resized on the blocked layout: a Resize that scales the channels, one in
// tf_crop_and_resize mode and a cubic one stay plain.
TEST(BlockedResize, OtherResizesStayPlain) {
  const Shape in = {1, 0, 6, 8};
  const std::vector<ResizeCase> cases = {
      {"cubic", "cubic", "half_pixel", "", {1, 1, 2, 2}, {}, false},
      {"tf_crop_and_resize", "linear", "tf_crop_and_resize", "", {1, 1, 2, 2}, {}, false},
  };
  for (const ResizeCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Graph g = resize_model(c, 16, in, {1, 16, 12, 16}).load();
    for (const Node& n : g.nodes) {
      if (n.name == "resize") {
        EXPECT_FALSE(n.has_attr(kBlockedInputAttr));
      }
    }
  }
}

}  // namespace
}  // namespace eff
