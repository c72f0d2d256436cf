// The GatedConv kernel's two conditional paths against a direct double-precision reference written
// here: the sparse one (few gates on: a dot product per gated-on output over transposed, padded
// inputs) and the dense one (many on: oneDNN's whole conv, then per output the full or the base
// result), on layers with stride, padding, dilation, groups, a fused Relu, per-channel thresholds
// and precision gating, on 1 and 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "engine/executor.h"
#include "gating/gated_conv.h"
#include "gating/gates_file.h"

namespace eff::gating {

namespace {

struct Case {
  int64_t n = 2, c = 40, m = 24, h = 9, w = 11, k = 3, stride = 1, pad = 1, dil = 1, group = 1, base = 10;
  bool relu = false, per_channel = false, precision = false;
  Grouping grouping = Grouping::kFirst;  // grouped: base = c / group / gate_groups
  int64_t gate_groups = 1;
};

struct Layer {
  Case c;
  std::vector<float> x, wt, bias, thr;
  PrecisionSplit split{8, 4, 4, false};
  int64_t oh = 0, ow = 0;

  explicit Layer(const Case& cs) : c(cs) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::normal_distribution<float> nd(0.f, 0.2f);
    x.resize(static_cast<size_t>(c.n * c.c * c.h * c.w));
    for (float& v : x) v = u(rng) < 0.3f ? 0.f : u(rng) * 4;  // post-ReLU-like, with zeros
    wt.resize(static_cast<size_t>(c.m * (c.c / c.group) * c.k * c.k));
    for (float& v : wt) v = nd(rng);
    for (int64_t i = 0; i < c.m; ++i) bias.push_back(nd(rng));
    oh = (c.h + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
    ow = (c.w + 2 * c.pad - c.dil * (c.k - 1) - 1) / c.stride + 1;
  }

  float input(int64_t img, int64_t ch, int64_t iy, int64_t ix, bool high_part, bool low_part) const {
    if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) return 0.f;
    const float v = x[static_cast<size_t>(((img * c.c + ch) * c.h + iy) * c.w + ix)];
    if (!c.precision) return v;
    float low = 0;
    const float high = split.split(v, low);
    return (high_part ? high : 0.f) + (low_part ? low : 0.f);
  }

  // The sum over input channels [c0, c1) of each group (precision: over the high, the low or both
  // parts of every channel), bias included when `with_bias`.
  double sum(int64_t img, int64_t f, int64_t oy, int64_t ox, int64_t c0, int64_t c1, bool high, bool low,
             bool with_bias) const {
    const int64_t cg = c.c / c.group, g = f / (c.m / c.group);
    double s = with_bias ? bias[static_cast<size_t>(f)] : 0.0;
    for (int64_t ci = c0; ci < c1; ++ci)
      for (int64_t ky = 0; ky < c.k; ++ky)
        for (int64_t kx = 0; kx < c.k; ++kx) {
          const float a = input(img, g * cg + ci, oy * c.stride + ky * c.dil - c.pad,
                                ox * c.stride + kx * c.dil - c.pad, high, low);
          s += double(wt[static_cast<size_t>(((f * cg + ci) * c.k + ky) * c.k + kx)]) * a;
        }
    return s;
  }

  double base(int64_t img, int64_t f, int64_t oy, int64_t ox) const {
    if (c.grouping != Grouping::kFirst) {
      // Channel by channel: those on filter f's base path (the shared definition, hand-checked in
      // test_grouped_gating.cpp).
      const int64_t cg = c.c / c.group, mg = c.m / c.group;
      double s = bias[static_cast<size_t>(f)];
      for (int64_t ci = 0; ci < cg; ++ci)
        if (on_base_path(c.grouping, c.gate_groups, c.base, cg, mg, ci, f % mg))
          s += sum(img, f, oy, ox, ci, ci + 1, true, true, false);
      return s;
    }
    return c.precision ? sum(img, f, oy, ox, 0, c.c / c.group, true, false, true)
                       : sum(img, f, oy, ox, 0, c.base, true, true, true);
  }
  double full(int64_t img, int64_t f, int64_t oy, int64_t ox) const {
    return sum(img, f, oy, ox, 0, c.c / c.group, true, true, true);
  }

  // Thresholds gating `on_fraction` of the outputs on: per filter that quantile of its own base
  // results (per_channel), else of all of them.
  void choose_thresholds(double on_fraction) {
    std::vector<std::vector<double>> by_filter(static_cast<size_t>(c.m));
    std::vector<double> all;
    for (int64_t img = 0; img < c.n; ++img)
      for (int64_t f = 0; f < c.m; ++f)
        for (int64_t p = 0; p < oh * ow; ++p) {
          const double b = base(img, f, p / ow, p % ow);
          by_filter[static_cast<size_t>(f)].push_back(b);
          all.push_back(b);
        }
    auto quantile = [&](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return static_cast<float>(v[static_cast<size_t>((1.0 - on_fraction) * double(v.size() - 1))]);
    };
    thr.clear();
    for (int64_t f = 0; f < c.m; ++f) thr.push_back(c.per_channel ? quantile(by_filter[size_t(f)]) : quantile(all));
  }

  Graph graph() const {
    Graph g;
    g.source = "paths";
    const ValueId xv = g.add_value("x");
    g.value(xv).has_type = true;
    const ValueId wv = g.add_value("w");
    g.value(wv).hold_constant(Tensor::from<float>({c.m, c.c / c.group, c.k, c.k}, wt));
    const ValueId bv = g.add_value("b");
    g.value(bv).hold_constant(Tensor::from<float>({c.m}, bias));
    const ValueId y = g.add_value("y"), on = g.add_value("on");
    Node n;
    n.op = kGatedConvOp;
    n.name = "conv";
    n.inputs = {xv, wv, bv};
    n.outputs = {y, on};
    auto str = [&](const char* k, const std::string& v) {
      n.attrs[k].kind = Attribute::Kind::kString;
      n.attrs[k].s = v;
    };
    auto ints = [&](const char* k, std::vector<int64_t> v) {
      n.attrs[k].kind = Attribute::Kind::kInts;
      n.attrs[k].ints = std::move(v);
    };
    str("mode", c.precision ? "precision" : "channel");
    if (c.relu) str("activation", "Relu");
    ints("kernel_shape", {c.k, c.k});
    ints("strides", {c.stride, c.stride});
    ints("pads", {c.pad, c.pad, c.pad, c.pad});
    ints("dilations", {c.dil, c.dil});
    n.attrs["group"].i = c.group;
    n.attrs["base_channels"].i = c.base;
    if (c.grouping != Grouping::kFirst) {
      str("grouping", grouping_name(c.grouping));
      n.attrs["gate_groups"].i = c.gate_groups;
    }
    n.attrs["bits"].i = split.bits;
    n.attrs["high_bits"].i = split.high_bits;
    n.attrs["frac_bits"].i = split.frac_bits;
    n.attrs["thresholds"].kind = Attribute::Kind::kFloats;
    n.attrs["thresholds"].floats = thr;
    g.nodes.push_back(n);
    g.inputs = {xv};
    g.outputs = {y, on};
    return g;
  }

  void check(int threads) const {
    ExecutorOptions o;
    o.threads = threads;
    Executor ex(graph(), o);
    const Tensor xt = Tensor::from<float>({c.n, c.c, c.h, c.w}, x);
    const std::vector<Tensor> out = ex.run({xt});
    ASSERT_EQ(out[0].shape(), (Shape{c.n, c.m, oh, ow}));
    int64_t want_on = 0, near = 0;
    for (int64_t img = 0; img < c.n; ++img) {
      for (int64_t f = 0; f < c.m; ++f)
        for (int64_t p = 0; p < oh * ow; ++p) {
          const double b = base(img, f, p / ow, p % ow), t = thr[static_cast<size_t>(f)];
          if (std::fabs(b - t) < 1e-4 * (1 + std::fabs(t))) {
            ++near;  // too close to call in float: the kernel may decide either way
            continue;
          }
          double v = b > t ? full(img, f, p / ow, p % ow) : b;
          want_on += b > t;
          if (c.relu) v = std::max(v, 0.0);
          const float got = out[0].data<float>()[(img * c.m + f) * oh * ow + p];
          ASSERT_NEAR(got, v, 1e-4 * (1 + std::fabs(v))) << "image " << img << " filter " << f << " pixel " << p;
        }
    }
    int64_t on = 0;
    for (int64_t img = 0; img < c.n; ++img) on += out[1].data<int64_t>()[img];
    EXPECT_GE(on, want_on);
    EXPECT_LE(on, want_on + near);
  }
};

void check_both_paths(const Case& cs) {
  for (double on : {0.08, 0.85}) {  // sparse, dense
    SCOPED_TRACE(on);
    Layer l(cs);
    l.choose_thresholds(on);
    for (int threads : {1, 2}) l.check(threads);
  }
}

}  // namespace

TEST(GatedConvPaths, PlainLayer) {
  check_both_paths(Case{});
}

TEST(GatedConvPaths, StrideDilationGroupsRelu) {
  Case cs;
  cs.stride = 2, cs.dil = 2, cs.pad = 2, cs.group = 2, cs.base = 5, cs.relu = true;
  check_both_paths(cs);
}

TEST(GatedConvPaths, PerChannelThresholdsNoPadding) {
  Case cs;
  cs.pad = 0, cs.k = 5, cs.c = 17, cs.base = 4, cs.per_channel = true;  // 13 conditional channels: one padded vector
  check_both_paths(cs);
}

TEST(GatedConvPaths, PrecisionGating) {
  Case cs;
  cs.precision = true, cs.c = 20, cs.per_channel = true;
  check_both_paths(cs);
}

TEST(GatedConvPaths, ShuffledGroupsWithConvGroupsStrideRelu) {
  Case cs;
  cs.stride = 2, cs.pad = 2, cs.dil = 2, cs.group = 2, cs.relu = true;
  cs.grouping = Grouping::kShuffle, cs.gate_groups = 4, cs.base = 5;  // 20 channels per group, 12 filters
  check_both_paths(cs);
}

TEST(GatedConvPaths, ContiguousGroupsPerChannelThresholds) {
  Case cs;
  cs.grouping = Grouping::kContiguous, cs.gate_groups = 8, cs.base = 5, cs.per_channel = true;  // 40 / 8, 24 / 8
  check_both_paths(cs);
}

}  // namespace eff::gating
