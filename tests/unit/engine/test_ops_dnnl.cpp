// The compute-heavy kernels (conv, gemm, pool, norm, activation), run through the executor on
// one-node graphs. Each op is checked against a naive loop written here from the ONNX
// definition, on small shapes chosen to hit the edge cases, plus a few results worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/kernel.h"
#include "op_test_util.h"

namespace eff {
namespace {

// ---- graph construction and running ------------------------------------------------------------

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
Attribute ints_attr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute float_attr(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
Attribute string_attr(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

Tensor F(Shape s, std::vector<float> v) {
  return Tensor::from<float>(std::move(s), v);
}

// Deterministic values in [-1, 1) with a few exact zeros, from a fixed linear congruential
// sequence (so failures reproduce).
Tensor random_tensor(Shape s, uint32_t seed) {
  Tensor t(DType::kFloat32, std::move(s));
  uint32_t state = seed * 2654435761u + 12345u;
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    d[i] = static_cast<float>(static_cast<int32_t>(state >> 8) % 2048 - 1024) / 1024.0f;
  }
  return t;
}

struct OpSpec {
  OpSpec(std::string op_type, std::vector<std::optional<Tensor>> node_inputs)
      : op(std::move(op_type)), inputs(std::move(node_inputs)) {}

  std::string op;
  std::vector<std::optional<Tensor>> inputs;  // nullopt: omitted optional input
  std::map<std::string, Attribute> attrs;
  std::vector<int> constant_inputs;  // given as initializers instead of graph inputs
  int64_t opset = 13;
  int num_outputs = 1;
  int threads = 1;
};

Tensor run1(const OpSpec& spec, std::string* impl = nullptr) {
  std::vector<Tensor> runtime;
  Graph g = op_test::one_node_graph(spec, runtime);
  ExecutorOptions options;
  options.threads = spec.threads;
  Executor ex(std::move(g), options);
  Tensor out = ex.run(runtime).at(0);
  if (impl) *impl = ex.kernel_impl(0);
  return out;
}

template <class E>
std::string error_of(const OpSpec& spec) {
  try {
    run1(spec);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

std::vector<float> floats(const Tensor& t) {
  return t.to_f32_vector();
}

void expect_close(const Tensor& got, const Tensor& want, float rel = 1e-4f) {
  ASSERT_EQ(got.shape(), want.shape());
  const std::vector<float> g = floats(got), w = floats(want);
  for (size_t i = 0; i < w.size(); ++i) {
    ASSERT_NEAR(g[i], w[i], rel * std::max(1.0f, std::fabs(w[i]))) << "element " << i;
  }
}

// ---- naive references --------------------------------------------------------------------------

// Spatial geometry padded to 3 dimensions (D, H, W) with size-1 leading axes.
struct Dims3 {
  int64_t v[3] = {1, 1, 1};
};
Dims3 spatial3(const Shape& s, int64_t fill = 1) {
  Dims3 d;
  d.v[0] = d.v[1] = d.v[2] = fill;
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) d.v[3 - n + i] = s[i];
  return d;
}

struct Window {
  std::vector<int64_t> strides, pads, dilations;  // pads: begins then ends
};

std::vector<int64_t> or_ones(const std::vector<int64_t>& v, size_t n) {
  return v.empty() ? std::vector<int64_t>(n, 1) : v;
}

// ONNX Conv: y[n, m, o] = b[m] + sum_{c in group, k} x[n, c, o * s - pb + k * d] * w[m, c, k].
Tensor conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group, const Window& win,
                bool relu = false) {
  const size_t sp = x.shape().size() - 2;
  const auto strides = or_ones(win.strides, sp), dil = or_ones(win.dilations, sp);
  std::vector<int64_t> pads = win.pads.empty() ? std::vector<int64_t>(2 * sp, 0) : win.pads;
  const int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0), cg = c / group, mg = m / group;
  Shape in_sp(x.shape().begin() + 2, x.shape().end()), k_sp(w.shape().begin() + 2, w.shape().end());
  Shape out_sp(sp);
  for (size_t i = 0; i < sp; ++i) {
    out_sp[i] = (in_sp[i] + pads[i] + pads[i + sp] - ((k_sp[i] - 1) * dil[i] + 1)) / strides[i] + 1;
  }
  Shape ys{n, m};
  ys.insert(ys.end(), out_sp.begin(), out_sp.end());
  Tensor y(DType::kFloat32, ys);
  const Dims3 I = spatial3(in_sp), K = spatial3(k_sp), O = spatial3(out_sp);
  const Dims3 S = spatial3(Shape(strides.begin(), strides.end())), D = spatial3(Shape(dil.begin(), dil.end()));
  const Dims3 P = spatial3(Shape(pads.begin(), pads.begin() + sp), 0);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  float* yd = y.data<float>();
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oc = 0; oc < m; ++oc) {
      const int64_t g = oc / mg;
      for (int64_t od = 0; od < O.v[0]; ++od)
        for (int64_t oh = 0; oh < O.v[1]; ++oh)
          for (int64_t ow = 0; ow < O.v[2]; ++ow) {
            double acc = b ? b->data<float>()[oc] : 0.0;
            for (int64_t ic = 0; ic < cg; ++ic)
              for (int64_t kd = 0; kd < K.v[0]; ++kd)
                for (int64_t kh = 0; kh < K.v[1]; ++kh)
                  for (int64_t kw = 0; kw < K.v[2]; ++kw) {
                    const int64_t id = od * S.v[0] - P.v[0] + kd * D.v[0];
                    const int64_t ih = oh * S.v[1] - P.v[1] + kh * D.v[1];
                    const int64_t iw = ow * S.v[2] - P.v[2] + kw * D.v[2];
                    if (id < 0 || id >= I.v[0] || ih < 0 || ih >= I.v[1] || iw < 0 || iw >= I.v[2]) continue;
                    const float xv = xd[(((b0 * c + g * cg + ic) * I.v[0] + id) * I.v[1] + ih) * I.v[2] + iw];
                    const float wv = wd[(((oc * cg + ic) * K.v[0] + kd) * K.v[1] + kh) * K.v[2] + kw];
                    acc += static_cast<double>(xv) * wv;
                  }
            float r = static_cast<float>(acc);
            if (relu) r = std::max(r, 0.f);
            yd[(((b0 * m + oc) * O.v[0] + od) * O.v[1] + oh) * O.v[2] + ow] = r;
          }
    }
  return y;
}

// ONNX ConvTranspose as a scatter: x[n, c, i] adds x * w[c, m, k] to y[n, m, i * s + k * d - pb].
// `out_sp` is the output size; positions past the full result get the bias only.
Tensor conv_transpose_ref(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group,
                          const std::vector<int64_t>& strides_in, const std::vector<int64_t>& pads_begin,
                          const std::vector<int64_t>& dil_in, const Shape& out_sp) {
  const size_t sp = x.shape().size() - 2;
  const auto strides = or_ones(strides_in, sp), dil = or_ones(dil_in, sp);
  const int64_t n = x.dim(0), c = x.dim(1), cg = c / group, mg = w.dim(1), m = mg * group;
  Shape in_sp(x.shape().begin() + 2, x.shape().end()), k_sp(w.shape().begin() + 2, w.shape().end());
  Shape ys{n, m};
  ys.insert(ys.end(), out_sp.begin(), out_sp.end());
  Tensor y(DType::kFloat32, ys);
  std::vector<double> acc(static_cast<size_t>(y.numel()), 0.0);
  const Dims3 I = spatial3(in_sp), K = spatial3(k_sp), O = spatial3(out_sp);
  const Dims3 S = spatial3(Shape(strides.begin(), strides.end())), D = spatial3(Shape(dil.begin(), dil.end()));
  const Dims3 P = spatial3(Shape(pads_begin.begin(), pads_begin.end()), 0);
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t ic = 0; ic < c; ++ic) {
      const int64_t g = ic / cg;
      for (int64_t id = 0; id < I.v[0]; ++id)
        for (int64_t ih = 0; ih < I.v[1]; ++ih)
          for (int64_t iw = 0; iw < I.v[2]; ++iw) {
            const float xv = xd[(((b0 * c + ic) * I.v[0] + id) * I.v[1] + ih) * I.v[2] + iw];
            for (int64_t om = 0; om < mg; ++om)
              for (int64_t kd = 0; kd < K.v[0]; ++kd)
                for (int64_t kh = 0; kh < K.v[1]; ++kh)
                  for (int64_t kw = 0; kw < K.v[2]; ++kw) {
                    const int64_t od = id * S.v[0] + kd * D.v[0] - P.v[0];
                    const int64_t oh = ih * S.v[1] + kh * D.v[1] - P.v[1];
                    const int64_t ow = iw * S.v[2] + kw * D.v[2] - P.v[2];
                    if (od < 0 || od >= O.v[0] || oh < 0 || oh >= O.v[1] || ow < 0 || ow >= O.v[2]) continue;
                    const float wv = wd[(((ic * mg + om) * K.v[0] + kd) * K.v[1] + kh) * K.v[2] + kw];
                    acc[(((b0 * m + g * mg + om) * O.v[0] + od) * O.v[1] + oh) * O.v[2] + ow] +=
                        static_cast<double>(xv) * wv;
                  }
          }
    }
  float* yd = y.data<float>();
  const int64_t plane = O.v[0] * O.v[1] * O.v[2];
  for (int64_t i = 0; i < y.numel(); ++i) {
    yd[i] = static_cast<float>(acc[i] + (b ? b->data<float>()[(i / plane) % m] : 0.0));
  }
  return y;
}

// Max / average pooling. `out_sp` given by the caller (it encodes ceil_mode); the average
// divides by the taps inside [-pb, in + pe) when count_include_pad, else by the taps inside the
// input.
Tensor pool_ref(const Tensor& x, bool max, bool include_pad, const Shape& kernel, const Window& win,
                const Shape& out_sp) {
  const size_t sp = kernel.size();
  const auto strides = or_ones(win.strides, sp), dil = or_ones(win.dilations, sp);
  std::vector<int64_t> pads = win.pads.empty() ? std::vector<int64_t>(2 * sp, 0) : win.pads;
  Shape ys{x.dim(0), x.dim(1)};
  ys.insert(ys.end(), out_sp.begin(), out_sp.end());
  Tensor y(DType::kFloat32, ys);
  Shape in_sp(x.shape().begin() + 2, x.shape().end());
  const Dims3 I = spatial3(in_sp), K = spatial3(kernel), O = spatial3(out_sp);
  const Dims3 S = spatial3(Shape(strides.begin(), strides.end())), D = spatial3(Shape(dil.begin(), dil.end()));
  const Dims3 PB = spatial3(Shape(pads.begin(), pads.begin() + sp), 0);
  const Dims3 PE = spatial3(Shape(pads.begin() + sp, pads.end()), 0);
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  const int64_t planes = x.dim(0) * x.dim(1);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t od = 0; od < O.v[0]; ++od)
      for (int64_t oh = 0; oh < O.v[1]; ++oh)
        for (int64_t ow = 0; ow < O.v[2]; ++ow) {
          double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
          int64_t count = 0;
          for (int64_t kd = 0; kd < K.v[0]; ++kd)
            for (int64_t kh = 0; kh < K.v[1]; ++kh)
              for (int64_t kw = 0; kw < K.v[2]; ++kw) {
                const int64_t id = od * S.v[0] - PB.v[0] + kd * D.v[0];
                const int64_t ih = oh * S.v[1] - PB.v[1] + kh * D.v[1];
                const int64_t iw = ow * S.v[2] - PB.v[2] + kw * D.v[2];
                const bool inside = id >= 0 && id < I.v[0] && ih >= 0 && ih < I.v[1] && iw >= 0 && iw < I.v[2];
                const bool in_padded = id >= -PB.v[0] && id < I.v[0] + PE.v[0] && ih >= -PB.v[1] &&
                                       ih < I.v[1] + PE.v[1] && iw >= -PB.v[2] && iw < I.v[2] + PE.v[2];
                if (include_pad ? in_padded : inside) ++count;
                if (!inside) continue;
                const float v = xd[((p * I.v[0] + id) * I.v[1] + ih) * I.v[2] + iw];
                acc = max ? std::max(acc, static_cast<double>(v)) : acc + v;
              }
          yd[((p * O.v[0] + od) * O.v[1] + oh) * O.v[2] + ow] =
              static_cast<float>(max ? acc : acc / static_cast<double>(count));
        }
  return y;
}

// Y = alpha * op(A) * op(B) + beta * C (C broadcast from [cm, cn]).
Tensor gemm_ref(const Tensor& a, const Tensor& b, const Tensor* c, bool ta, bool tb, float alpha, float beta) {
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1), n = tb ? b.dim(0) : b.dim(1);
  Tensor y(DType::kFloat32, {m, n});
  int64_t cm = 1, cn = 1;
  if (c && c->rank() >= 1) cn = c->dim(-1);
  if (c && c->rank() == 2) cm = c->dim(0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = ta ? a.data<float>()[p * m + i] : a.data<float>()[i * k + p];
        const float bv = tb ? b.data<float>()[j * k + p] : b.data<float>()[p * n + j];
        acc += static_cast<double>(av) * bv;
      }
      double r = alpha * acc;
      if (c) r += beta * c->data<float>()[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      y.data<float>()[i * n + j] = static_cast<float>(r);
    }
  return y;
}

// ---- Conv --------------------------------------------------------------------------------------

TEST(DnnlConv, HandComputed3x3With2x2Kernel) {
  // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,4]], b = 1:
  // y00 = 1*1 + 2*2 + 4*3 + 5*4 + 1 = 38, y01 = 2 + 6 + 15 + 24 + 1 = 48,
  // y10 = 4 + 10 + 21 + 32 + 1 = 68, y11 = 5 + 12 + 24 + 36 + 1 = 78.
  OpSpec spec{"Conv", {F({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), F({1, 1, 2, 2}, {1, 2, 3, 4}), F({1}, {1})}};
  spec.constant_inputs = {1, 2};
  std::string impl;
  Tensor y = run1(spec, &impl);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{38, 48, 68, 78}));
  EXPECT_EQ(impl.rfind("dnnl:", 0), 0u) << impl;
}

TEST(DnnlConv, HandComputedPaddedStrided) {
  // 3x3 ones, 3x3 ones kernel, pads 1, stride 2: outputs at the corners see 2x2 = 4 inputs.
  OpSpec spec{"Conv", {F({1, 1, 3, 3}, std::vector<float>(9, 1)), F({1, 1, 3, 3}, std::vector<float>(9, 1))}};
  spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 2})}};
  spec.constant_inputs = {1};
  Tensor y = run1(spec);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{4, 4, 4, 4}));
}

struct ConvCase {
  const char* name;
  Shape x, w;
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;
  bool bias;
};

TEST(DnnlConv, MatchesReferenceOnEdgeCases) {
  const std::vector<ConvCase> cases = {
      {"plain 3x3", {2, 3, 7, 6}, {4, 3, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true},
      {"groups", {1, 4, 6, 6}, {6, 2, 3, 3}, 2, {}, {}, {}, true},
      {"depthwise", {2, 16, 9, 9}, {16, 1, 3, 3}, 16, {2, 2}, {1, 1, 1, 1}, {}, true},
      {"depthwise multiplier 2", {1, 3, 5, 5}, {6, 1, 3, 3}, 3, {}, {}, {}, false},
      {"strides 2 and 3", {1, 2, 9, 10}, {3, 2, 3, 2}, 1, {2, 3}, {}, {}, true},
      {"asymmetric pads", {1, 2, 5, 5}, {2, 2, 3, 3}, 1, {}, {0, 2, 1, 0}, {}, true},
      {"dilation 2", {1, 2, 9, 9}, {3, 2, 3, 3}, 1, {}, {2, 2, 2, 2}, {2, 2}, true},
      {"dilation + stride + asym pads", {1, 3, 11, 8}, {2, 3, 2, 3}, 1, {3, 2}, {1, 0, 0, 2}, {2, 3}, false},
      {"floor mode drops the tail", {1, 1, 6, 6}, {1, 1, 2, 2}, 1, {3, 3}, {0, 0, 1, 1}, {}, false},
      {"1x1 stride 2", {2, 32, 8, 8}, {64, 32, 1, 1}, 1, {2, 2}, {}, {}, true},
      {"blocked channels", {2, 32, 10, 10}, {48, 32, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true},
      {"odd channels", {1, 19, 6, 6}, {21, 19, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true},
      {"grouped blocked", {1, 32, 6, 6}, {32, 16, 3, 3}, 2, {}, {1, 1, 1, 1}, {}, true},
      {"1-D", {2, 3, 11}, {4, 3, 3}, 1, {2}, {1, 2}, {}, true},
      {"1-D dilated", {1, 2, 12}, {2, 2, 3}, 1, {}, {}, {3}, false},
      {"3-D", {1, 2, 5, 6, 4}, {3, 2, 2, 3, 2}, 1, {1, 2, 1}, {1, 0, 1, 0, 1, 1}, {}, true},
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++), b = random_tensor({c.w[0]}, seed++);
    OpSpec spec{"Conv", {x, w}};
    if (c.bias) spec.inputs.push_back(b);
    spec.constant_inputs = {1, 2};
    if (c.group != 1) spec.attrs["group"] = int_attr(c.group);
    if (!c.strides.empty()) spec.attrs["strides"] = ints_attr(c.strides);
    if (!c.pads.empty()) spec.attrs["pads"] = ints_attr(c.pads);
    if (!c.dilations.empty()) spec.attrs["dilations"] = ints_attr(c.dilations);
    expect_close(run1(spec), conv_ref(x, w, c.bias ? &b : nullptr, c.group, {c.strides, c.pads, c.dilations}));
  }
}

TEST(DnnlConv, AutoPadSameUpperLowerAndValid) {
  // Input 7 wide, kernel 4, stride 2: out = ceil(7/2) = 4, total pad = 3*2 + 4 - 7 = 3:
  // SAME_UPPER puts 1 at the start and 2 at the end, SAME_LOWER 2 and 1; VALID: (7-4)/2+1 = 2.
  Tensor x = random_tensor({1, 2, 7, 7}, 3), w = random_tensor({3, 2, 4, 4}, 4);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> modes = {
      {"SAME_UPPER", {1, 1, 2, 2}}, {"SAME_LOWER", {2, 2, 1, 1}}, {"VALID", {0, 0, 0, 0}}};
  for (const auto& [mode, pads] : modes) {
    SCOPED_TRACE(mode);
    OpSpec spec{"Conv", {x, w}};
    spec.attrs = {{"auto_pad", string_attr(mode)}, {"strides", ints_attr({2, 2})}};
    spec.constant_inputs = {1};
    Tensor want = conv_ref(x, w, nullptr, 1, {{2, 2}, pads, {}});
    expect_close(run1(spec), want);
    EXPECT_EQ(want.shape(), mode == "VALID" ? (Shape{1, 3, 2, 2}) : (Shape{1, 3, 4, 4}));
  }
}

TEST(DnnlConv, KernelShapeInferredOrGiven) {
  Tensor x = random_tensor({1, 2, 5, 5}, 5), w = random_tensor({2, 2, 3, 2}, 6);
  OpSpec spec{"Conv", {x, w}};
  spec.constant_inputs = {1};
  Tensor want = conv_ref(x, w, nullptr, 1, {});
  expect_close(run1(spec), want);
  spec.attrs["kernel_shape"] = ints_attr({3, 2});
  expect_close(run1(spec), want);
  spec.attrs["kernel_shape"] = ints_attr({3, 3});
  EXPECT_NE(error_of<ModelError>(spec).find("kernel_shape"), std::string::npos);
}

TEST(DnnlConv, FusedReluAndComputedWeights) {
  Tensor x = random_tensor({2, 20, 6, 6}, 7), w = random_tensor({24, 20, 3, 3}, 8), b = random_tensor({24}, 9);
  Window win{{}, {1, 1, 1, 1}, {}};
  for (bool constant : {true, false}) {
    SCOPED_TRACE(constant ? "constant weights" : "weights as graph input");
    OpSpec spec{"Conv", {x, w, b}};
    spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}, {"activation", string_attr("Relu")}};
    if (constant) spec.constant_inputs = {1, 2};
    Tensor y = run1(spec);
    expect_close(y, conv_ref(x, w, &b, 1, win, true));
    const std::vector<float> v = floats(y);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float f) { return f >= 0.f; }));
  }
}

TEST(DnnlConv, CachedPlansFollowShapesAndWeights) {
  // One executor, inputs of two batch sizes alternating, weights given at run time and changed
  // between runs: every result must match the reference for that run's operands.
  Graph g;
  g.source = "test.onnx";
  g.opset = 13;
  Node n;
  n.op = "Conv";
  n.name = "conv";
  n.origin = {"conv"};
  n.attrs["pads"] = ints_attr({1, 1, 1, 1});
  const ValueId xv = g.add_value("x"), wv = g.add_value("w"), yv = g.add_value("y");
  n.inputs = {xv, wv};
  n.outputs = {yv};
  g.inputs = {xv, wv};
  g.outputs = {yv};
  g.nodes.push_back(n);
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(std::move(g), options);
  uint32_t seed = 20;
  for (int64_t batch : {1, 3, 1, 3}) {
    Tensor x = random_tensor({batch, 16, 5, 5}, seed++), w = random_tensor({16, 16, 3, 3}, seed++);
    expect_close(ex.run({x, w}).at(0), conv_ref(x, w, nullptr, 1, {{}, {1, 1, 1, 1}, {}}));
  }
}

TEST(DnnlConv, SameResultWithTwoThreads) {
  Tensor x = random_tensor({4, 32, 12, 12}, 30), w = random_tensor({32, 32, 3, 3}, 31), b = random_tensor({32}, 32);
  OpSpec spec{"Conv", {x, w, b}};
  spec.attrs = {{"pads", ints_attr({1, 1, 1, 1})}};
  spec.constant_inputs = {1, 2};
  Tensor one = run1(spec);
  spec.threads = 2;
  Tensor two = run1(spec);
  expect_close(two, one, 1e-5f);
  expect_close(one, conv_ref(x, w, &b, 1, {{}, {1, 1, 1, 1}, {}}));
}

TEST(DnnlConv, ErrorsNameTheNode) {
  Tensor x = random_tensor({1, 4, 5, 5}, 40);
  OpSpec bad_group{"Conv", {x, random_tensor({6, 2, 3, 3}, 41)}};
  bad_group.attrs["group"] = int_attr(4);
  bad_group.constant_inputs = {1};
  EXPECT_NE(error_of<ModelError>(bad_group).find("test.onnx: node 'n0' (Conv): group=4"), std::string::npos);

  OpSpec mismatch{"Conv", {x, random_tensor({2, 3, 3, 3}, 42)}};
  mismatch.constant_inputs = {1};
  const std::string msg = error_of<ShapeError>(mismatch);
  EXPECT_NE(msg.find("node 'n0' (Conv)"), std::string::npos) << msg;

  OpSpec bad_pad{"Conv", {x, random_tensor({2, 4, 3, 3}, 43)}};
  bad_pad.attrs["auto_pad"] = string_attr("SAME_MIDDLE");
  EXPECT_NE(error_of<UnsupportedError>(bad_pad).find("auto_pad 'SAME_MIDDLE'"), std::string::npos);

  OpSpec bad_act{"Conv", {x, random_tensor({2, 4, 3, 3}, 44)}};
  bad_act.attrs["activation"] = string_attr("Sigmoid");
  EXPECT_NE(error_of<UnsupportedError>(bad_act).find("Sigmoid"), std::string::npos);

  OpSpec too_big{"Conv", {x, random_tensor({2, 4, 7, 7}, 45)}};
  too_big.constant_inputs = {1};
  EXPECT_NE(error_of<ShapeError>(too_big).find("does not fit"), std::string::npos);
}

// ---- ConvTranspose -----------------------------------------------------------------------------

TEST(DnnlConvTranspose, HandComputed2x2) {
  // x = [[1,2],[3,4]], w = ones(2x2), stride 1: each output sums the inputs whose 2x2 footprint
  // covers it: [[1,3,2],[4,10,6],[3,7,4]].
  OpSpec spec{"ConvTranspose", {F({1, 1, 2, 2}, {1, 2, 3, 4}), F({1, 1, 2, 2}, {1, 1, 1, 1})}};
  spec.constant_inputs = {1};
  Tensor y = run1(spec);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(floats(y), (std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
}

TEST(DnnlConvTranspose, MatchesReference) {
  struct Case {
    const char* name;
    Shape x, w;
    int64_t group;
    std::vector<int64_t> strides, pads, dilations, output_padding;
  };
  const std::vector<Case> cases = {
      {"stride 2", {1, 2, 3, 4}, {2, 3, 3, 3}, 1, {2, 2}, {}, {}, {}},
      {"pads", {2, 3, 4, 4}, {3, 2, 3, 3}, 1, {2, 2}, {1, 1, 0, 2}, {}, {}},
      {"output_padding", {1, 2, 3, 3}, {2, 2, 3, 3}, 1, {2, 3}, {}, {}, {1, 2}},
      {"groups", {1, 4, 3, 3}, {4, 3, 2, 2}, 2, {2, 2}, {}, {}, {}},
      {"dilation", {1, 2, 4, 3}, {2, 2, 2, 3}, 1, {}, {}, {2, 2}, {}},
      {"blocked channels", {1, 32, 4, 4}, {32, 16, 3, 3}, 1, {2, 2}, {1, 1, 1, 1}, {}, {1, 1}},
      {"1-D", {1, 2, 5}, {2, 3, 3}, 1, {3}, {1, 0}, {}, {}},
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++),
           b = random_tensor({c.w[1] * c.group}, seed++);
    OpSpec spec{"ConvTranspose", {x, w, b}};
    spec.constant_inputs = {1, 2};
    if (c.group != 1) spec.attrs["group"] = int_attr(c.group);
    if (!c.strides.empty()) spec.attrs["strides"] = ints_attr(c.strides);
    if (!c.pads.empty()) spec.attrs["pads"] = ints_attr(c.pads);
    if (!c.dilations.empty()) spec.attrs["dilations"] = ints_attr(c.dilations);
    if (!c.output_padding.empty()) spec.attrs["output_padding"] = ints_attr(c.output_padding);
    const size_t sp = c.x.size() - 2;
    const auto s = or_ones(c.strides, sp), d = or_ones(c.dilations, sp);
    std::vector<int64_t> pb(sp, 0);
    Shape out(sp);
    for (size_t i = 0; i < sp; ++i) {
      const int64_t p0 = c.pads.empty() ? 0 : c.pads[i], p1 = c.pads.empty() ? 0 : c.pads[i + sp];
      const int64_t adj = c.output_padding.empty() ? 0 : c.output_padding[i];
      pb[i] = p0;
      out[i] = s[i] * (c.x[i + 2] - 1) + adj + (c.w[i + 2] - 1) * d[i] + 1 - p0 - p1;
    }
    expect_close(run1(spec), conv_transpose_ref(x, w, &b, c.group, c.strides, pb, c.dilations, out));
  }
}

TEST(DnnlConvTranspose, OutputShapeAndAutoPad) {
  // Input 3 wide, kernel 3, stride 2: the full result is 2*2 + 3 = 7 wide.
  Tensor x = random_tensor({1, 1, 3, 3}, 60), w = random_tensor({1, 2, 3, 3}, 61);
  {
    // SAME_UPPER: out = 3*2 = 6, total padding 1, at the end (ONNX's test_convtranspose_autopad_same).
    OpSpec spec{"ConvTranspose", {x, w}};
    spec.attrs = {{"strides", ints_attr({2, 2})}, {"auto_pad", string_attr("SAME_UPPER")}};
    spec.constant_inputs = {1};
    expect_close(run1(spec), conv_transpose_ref(x, w, nullptr, 1, {2, 2}, {0, 0}, {}, {6, 6}));
  }
  {
    // output_shape [5, 9]: rows: total padding 2 -> 1 at each end; columns: 2 past the full result.
    OpSpec spec{"ConvTranspose", {x, w}};
    spec.attrs = {{"strides", ints_attr({2, 2})}, {"output_shape", ints_attr({5, 9})}};
    spec.constant_inputs = {1};
    expect_close(run1(spec), conv_transpose_ref(x, w, nullptr, 1, {2, 2}, {1, 0}, {}, {5, 9}));
  }
}

// ---- pools -------------------------------------------------------------------------------------

TEST(DnnlPool, HandComputedMaxAndAverage) {
  Tensor x = F({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  OpSpec max{"MaxPool", {x}};
  max.attrs = {{"kernel_shape", ints_attr({2, 2})}};
  EXPECT_EQ(floats(run1(max)), (std::vector<float>{5, 6, 8, 9}));
  // Average with pads 1 and stride 2 over the 3x3 input: each corner window covers one 2x2
  // block of the input; excluding pads: (1+2+4+5)/4 = 3, (2+3+5+6)/4 = 4, 6, 7; including pads
  // the divisor is 9: 12/9, 16/9, 24/9, 28/9.
  OpSpec avg{"AveragePool", {x}};
  avg.attrs = {{"kernel_shape", ints_attr({3, 3})}, {"pads", ints_attr({1, 1, 1, 1})}, {"strides", ints_attr({2, 2})}};
  EXPECT_EQ(floats(run1(avg)), (std::vector<float>{3, 4, 6, 7}));
  avg.attrs["count_include_pad"] = int_attr(1);
  const std::vector<float> inc = floats(run1(avg));
  const std::vector<float> want = {12.f / 9, 16.f / 9, 24.f / 9, 28.f / 9};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(inc[i], want[i], 1e-6f);
}

TEST(DnnlPool, MatchesReference) {
  struct Case {
    const char* name;
    bool max;
    bool include_pad;
    Shape x, kernel;
    std::vector<int64_t> strides, pads, dilations;
    bool ceil;
    Shape out;
  };
  const std::vector<Case> cases = {
      {"max strided", true, false, {2, 3, 8, 7}, {3, 2}, {2, 2}, {}, {}, false, {3, 3}},
      {"max pads", true, false, {1, 2, 5, 5}, {3, 3}, {}, {1, 0, 2, 1}, {}, false, {6, 4}},
      {"max ceil", true, false, {1, 1, 6, 6}, {3, 3}, {2, 2}, {}, {}, true, {3, 3}},
      // 4 + 1 pad, kernel 2, stride 2: ceil gives 3 windows, but the third would start in the pad.
      {"max ceil drops window starting in the pad",
       true,
       false,
       {1, 1, 4, 4},
       {2, 2},
       {2, 2},
       {0, 0, 1, 1},
       {},
       true,
       {2, 2}},
      {"max dilated", true, false, {1, 2, 7, 7}, {2, 2}, {1, 1}, {}, {2, 2}, false, {5, 5}},
      {"max blocked", true, false, {2, 32, 6, 6}, {2, 2}, {2, 2}, {}, {}, false, {3, 3}},
      {"avg exclude pads", false, false, {1, 2, 5, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, {3, 3}},
      {"avg include pads", false, true, {1, 2, 5, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, false, {3, 3}},
      {"avg asymmetric include", false, true, {1, 1, 4, 4}, {2, 3}, {1, 2}, {0, 1, 1, 0}, {}, false, {4, 2}},
      {"avg ceil exclude", false, false, {1, 1, 6, 6}, {3, 3}, {2, 2}, {}, {}, true, {3, 3}},
      // ceil_mode adds a column past the explicit end pad; include_pad counts the pad only.
      {"avg ceil include", false, true, {1, 2, 6, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, true, {4, 4}},
      {"1-D", true, false, {2, 3, 9}, {3}, {2}, {1, 1}, {}, false, {5}},
      {"1-D avg", false, false, {1, 2, 9}, {4}, {3}, {}, {}, true, {3}},
      {"3-D", false, false, {1, 2, 4, 5, 6}, {2, 2, 3}, {2, 1, 2}, {}, {}, false, {2, 4, 2}},
  };
  uint32_t seed = 70;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Tensor x = random_tensor(c.x, seed++);
    OpSpec spec{c.max ? "MaxPool" : "AveragePool", {x}};
    spec.attrs["kernel_shape"] = ints_attr(c.kernel);
    if (!c.strides.empty()) spec.attrs["strides"] = ints_attr(c.strides);
    if (!c.pads.empty()) spec.attrs["pads"] = ints_attr(c.pads);
    if (!c.dilations.empty()) spec.attrs["dilations"] = ints_attr(c.dilations);
    if (c.ceil) spec.attrs["ceil_mode"] = int_attr(1);
    if (c.include_pad) spec.attrs["count_include_pad"] = int_attr(1);
    expect_close(run1(spec), pool_ref(x, c.max, c.include_pad, c.kernel, {c.strides, c.pads, c.dilations}, c.out),
                 1e-5f);
  }
}

TEST(DnnlPool, AutoPadOddSizes) {
  // 5 wide, kernel 2, stride 2: out 3, total pad 1 -> SAME_UPPER pads the end, SAME_LOWER the start.
  Tensor x = random_tensor({1, 2, 5, 5}, 90);
  for (const auto& [mode, pads] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"SAME_UPPER", {0, 0, 1, 1}}, {"SAME_LOWER", {1, 1, 0, 0}}}) {
    SCOPED_TRACE(mode);
    for (bool max : {true, false}) {
      OpSpec spec{max ? "MaxPool" : "AveragePool", {x}};
      spec.attrs = {
          {"kernel_shape", ints_attr({2, 2})}, {"strides", ints_attr({2, 2})}, {"auto_pad", string_attr(mode)}};
      expect_close(run1(spec), pool_ref(x, max, false, {2, 2}, {{2, 2}, pads, {}}, {3, 3}), 1e-6f);
    }
  }
}

TEST(DnnlPool, MaxPoolUint8) {
  Tensor x = Tensor::from<uint8_t>({1, 1, 2, 3}, {1, 200, 3, 40, 5, 6});
  OpSpec spec{"MaxPool", {x}};
  spec.attrs = {{"kernel_shape", ints_attr({2, 2})}};
  Tensor y = run1(spec);
  EXPECT_EQ(y.dtype(), DType::kUInt8);
  EXPECT_EQ(y.to_i64_vector(), (std::vector<int64_t>{200, 200}));
}

TEST(DnnlPool, MaxPoolIndices) {
  // Two images of one channel, 3x3 each; kernel 2, stride 1, pads 1 at the end. Flat indices
  // count over the whole input (9 per image); storage_order=1 numbers each image column-major.
  Tensor x = F({2, 1, 3, 3}, {1, 9, 2, 8, 3, 7, 4, 6, 5, /**/ 0, 0, 0, 0, -1, 0, 0, 0, 3});
  OpSpec spec{"MaxPool", {x}};
  spec.attrs = {{"kernel_shape", ints_attr({2, 2})}, {"pads", ints_attr({0, 0, 1, 1})}};
  spec.num_outputs = 2;
  std::vector<Tensor> runtime;
  Graph g = op_test::one_node_graph(spec, runtime);
  ExecutorOptions options;
  options.threads = 1;
  {
    Executor ex(g, options);
    std::vector<Tensor> out = ex.run(runtime);
    // Image 0 windows: (0,0): {1,9,8,3} -> 9 at 1; (0,1): {9,2,3,7} -> 9 at 1; (0,2): {2,7} -> 7 at 5;
    // (1,0): {8,3,4,6} -> 8 at 3; (1,1): {3,7,6,5} -> 7 at 5; (1,2): {7,5} -> 7 at 5;
    // (2,0): {4,6} -> 6 at 7; (2,1): {6,5} -> 6 at 7; (2,2): {5} -> 5 at 8.
    // Image 1 (offset 9): ties pick the first element in scan order, so the zero windows point at
    // their top-left element ((0,0), (0,1), (0,2) -> 9, 10, 11; (1,0) -> 12; (2,0) -> 15); the
    // rest see the 3 at 8 -> 17.
    EXPECT_EQ(floats(out[0]), (std::vector<float>{9, 9, 7, 8, 7, 7, 6, 6, 5, 0, 0, 0, 0, 3, 3, 0, 3, 3}));
    EXPECT_EQ(out[1].to_i64_vector(),
              (std::vector<int64_t>{1, 1, 5, 3, 5, 5, 7, 7, 8, 9, 10, 11, 12, 17, 17, 15, 17, 17}));
  }
  g.nodes[0].attrs["storage_order"] = int_attr(1);
  Executor ex(g, options);
  // Column-major position of (h, w) is w * 3 + h. Image 0: 9 at (0,1) -> 3, 7 at (1,2) -> 7,
  // 8 at (1,0) -> 1, 6 at (2,1) -> 5, 5 at (2,2) -> 8. Image 1: (0,0) -> 9, (0,1) -> 12, (0,2) -> 15,
  // (1,0) -> 10, (2,0) -> 11, and 3 at (2,2) -> 17.
  EXPECT_EQ(ex.run(runtime)[1].to_i64_vector(),
            (std::vector<int64_t>{3, 3, 7, 1, 7, 7, 5, 5, 8, 9, 12, 15, 10, 17, 17, 11, 17, 17}));
}

TEST(DnnlPool, GlobalPools) {
  Tensor x = F({1, 2, 2, 2}, {1, 2, 3, 6, -1, -2, -3, -6});
  Tensor avg = run1({"GlobalAveragePool", {x}});
  EXPECT_EQ(avg.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(floats(avg), (std::vector<float>{3, -3}));
  Tensor mx = run1({"GlobalMaxPool", {x}});
  EXPECT_EQ(floats(mx), (std::vector<float>{6, -1}));
  Tensor x1 = F({2, 1, 3}, {1, 5, 3, 0, 0, 3});
  Tensor avg1 = run1({"GlobalAveragePool", {x1}});
  EXPECT_EQ(avg1.shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(floats(avg1), (std::vector<float>{3, 1}));
}

// ---- Gemm, MatMul ------------------------------------------------------------------------------

TEST(DnnlGemm, HandComputed) {
  // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; alpha 2, beta 0.5, C = [10, 20]:
  // [[38+5, 44+10], [86+5, 100+10]].
  OpSpec spec{"Gemm", {F({2, 2}, {1, 2, 3, 4}), F({2, 2}, {5, 6, 7, 8}), F({2}, {10, 20})}};
  spec.attrs = {{"alpha", float_attr(2.f)}, {"beta", float_attr(0.5f)}};
  spec.constant_inputs = {1, 2};
  EXPECT_EQ(floats(run1(spec)), (std::vector<float>{43, 54, 91, 110}));
}

TEST(DnnlGemm, MatchesReferenceForEveryForm) {
  const int64_t m = 3, k = 5, n = 4;
  const std::vector<Shape> c_shapes = {{}, {n}, {1, n}, {m, 1}, {m, n}, {1}, {1, 1}};
  uint32_t seed = 100;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& cs : c_shapes)
        for (float alpha : {1.f, -0.5f})
          for (float beta : {1.f, 0.f, 2.f})
            for (int constants = 0; constants < 2; ++constants) {
              SCOPED_TRACE(::testing::Message() << "transA=" << ta << " transB=" << tb << " C=" << shape_str(cs)
                                                << " alpha=" << alpha << " beta=" << beta << " const=" << constants);
              Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, seed++);
              Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, seed++);
              Tensor c = random_tensor(cs, seed++);
              OpSpec spec{"Gemm", {a, b, c}};
              spec.attrs = {{"transA", int_attr(ta)},
                            {"transB", int_attr(tb)},
                            {"alpha", float_attr(alpha)},
                            {"beta", float_attr(beta)}};
              if (constants) spec.constant_inputs = {1, 2};
              expect_close(run1(spec), gemm_ref(a, b, &c, ta, tb, alpha, beta));
            }
}

TEST(DnnlGemm, NoCFusedReluAndBadShapes) {
  Tensor a = random_tensor({4, 6}, 200), b = random_tensor({3, 6}, 201);
  OpSpec spec{"Gemm", {a, b}};
  spec.attrs = {{"transB", int_attr(1)}, {"activation", string_attr("Relu")}};
  spec.constant_inputs = {1};
  Tensor want = gemm_ref(a, b, nullptr, false, true, 1.f, 0.f);
  for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::max(want.data<float>()[i], 0.f);
  expect_close(run1(spec), want);

  OpSpec bad{"Gemm", {a, random_tensor({5, 3}, 202)}};
  EXPECT_NE(error_of<ShapeError>(bad).find("node 'n0' (Gemm)"), std::string::npos);
  OpSpec bad_c{"Gemm", {a, random_tensor({6, 3}, 203), random_tensor({2, 3}, 204)}};
  EXPECT_NE(error_of<ShapeError>(bad_c).find("does not broadcast"), std::string::npos);
}

// numpy matmul: 1-D operands are promoted and the added dimension removed; batch dimensions
// broadcast.
Tensor matmul_ref(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t br = std::max(as.size(), bs.size()) - 2;
  Shape batch(br), ab(br, 1), bb(br, 1);
  for (size_t i = 0; i < br; ++i) {
    if (i + as.size() - 2 >= br) ab[i] = as[i + as.size() - 2 - br];
    if (i + bs.size() - 2 >= br) bb[i] = bs[i + bs.size() - 2 - br];
    batch[i] = std::max(ab[i], bb[i]);
  }
  Shape ys = batch;
  if (a.rank() > 1) ys.push_back(m);
  if (b.rank() > 1) ys.push_back(n);
  Tensor y(DType::kFloat32, ys);
  const int64_t nb = shape_numel(batch);
  for (int64_t t = 0; t < nb; ++t) {
    int64_t rem = t, ai = 0, bi = 0, astride = 1, bstride = 1;
    for (int i = static_cast<int>(br) - 1; i >= 0; --i) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      ai += (ab[i] == 1 ? 0 : idx) * astride;
      bi += (bb[i] == 1 ? 0 : idx) * bstride;
      astride *= ab[i];
      bstride *= bb[i];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) {
          acc += static_cast<double>(a.data<float>()[ai * m * k + i * k + p]) * b.data<float>()[bi * k * n + p * n + j];
        }
        y.data<float>()[t * m * n + i * n + j] = static_cast<float>(acc);
      }
  }
  return y;
}

TEST(DnnlMatMul, HandComputedOneDimensional) {
  // [1,2,3] . [4,5,6] = 32, a 0-D result; [1,2] x [[1,2,3],[4,5,6]] = [9,12,15].
  Tensor dot = run1({"MatMul", {F({3}, {1, 2, 3}), F({3}, {4, 5, 6})}});
  EXPECT_EQ(dot.shape(), Shape{});
  EXPECT_EQ(floats(dot), (std::vector<float>{32}));
  Tensor row = run1({"MatMul", {F({2}, {1, 2}), F({2, 3}, {1, 2, 3, 4, 5, 6})}});
  EXPECT_EQ(row.shape(), (Shape{3}));
  EXPECT_EQ(floats(row), (std::vector<float>{9, 12, 15}));
  Tensor col = run1({"MatMul", {F({2, 3}, {1, 2, 3, 4, 5, 6}), F({3}, {1, 0, -1})}});
  EXPECT_EQ(col.shape(), (Shape{2}));
  EXPECT_EQ(floats(col), (std::vector<float>{-2, -2}));
}

TEST(DnnlMatMul, MatchesReferenceWithBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 4}, {4, 5}},
      {{2, 3, 4}, {4, 5}},
      {{4}, {2, 4, 3}},
      {{2, 3, 4}, {4}},
      {{2, 1, 3, 4}, {3, 4, 2}},
      {{1, 3, 4}, {2, 4, 5}},
      {{2, 2, 3, 4}, {2, 2, 4, 3}},
      {{5, 1, 4}, {1, 4, 1}},
  };
  uint32_t seed = 300;
  for (const auto& [sa, sb] : cases) {
    for (int constant = 0; constant < 2; ++constant) {
      SCOPED_TRACE(shape_str(sa) + " x " + shape_str(sb) + (constant ? " constant B" : ""));
      Tensor a = random_tensor(sa, seed++), b = random_tensor(sb, seed++);
      OpSpec spec{"MatMul", {a, b}};
      if (constant) spec.constant_inputs = {1};
      expect_close(run1(spec), matmul_ref(a, b));
    }
  }
  OpSpec bad{"MatMul", {random_tensor({2, 3, 4}, 1), random_tensor({3, 4, 5}, 2)}};
  EXPECT_NE(error_of<ShapeError>(bad).find("batch dimensions"), std::string::npos);
}

TEST(DnnlMatMul, FusedRelu) {
  Tensor a = random_tensor({3, 7}, 400), b = random_tensor({7, 2}, 401);
  OpSpec spec{"MatMul", {a, b}};
  spec.attrs["activation"] = string_attr("Relu");
  spec.constant_inputs = {1};
  Tensor want = matmul_ref(a, b);
  for (int64_t i = 0; i < want.numel(); ++i) want.data<float>()[i] = std::max(want.data<float>()[i], 0.f);
  expect_close(run1(spec), want);
}

// ---- BatchNormalization, LRN, Softmax -----------------------------------------------------------

TEST(DnnlNorm, BatchNormalizationAnyRank) {
  // y = (x - mean) / sqrt(var + eps) * scale + B, channel = dimension 1.
  Tensor scale = F({2}, {2, 0.5f}), bias = F({2}, {1, -1}), mean = F({2}, {1, 3}), var = F({2}, {4, 0.25f});
  for (const Shape& s : std::vector<Shape>{{3, 2}, {2, 2, 3}, {1, 2, 2, 3}, {1, 2, 1, 2, 2}}) {
    SCOPED_TRACE(shape_str(s));
    Tensor x = random_tensor(s, 500);
    for (int constant = 0; constant < 2; ++constant) {
      OpSpec spec{"BatchNormalization", {x, scale, bias, mean, var}};
      spec.attrs["epsilon"] = float_attr(0.f);
      if (constant) spec.constant_inputs = {1, 2, 3, 4};
      Tensor y = run1(spec);
      const int64_t plane = x.numel() / (s[0] * 2);
      for (int64_t i = 0; i < x.numel(); ++i) {
        const int64_t ch = (i / plane) % 2;
        const float want = ch == 0 ? (x.data<float>()[i] - 1) / 2 * 2 + 1 : (x.data<float>()[i] - 3) / 0.5f * 0.5f - 1;
        ASSERT_NEAR(y.data<float>()[i], want, 1e-5f) << i;
      }
    }
  }
  OpSpec training{"BatchNormalization", {random_tensor({1, 2, 2}, 1), scale, bias, mean, var}};
  training.attrs["training_mode"] = int_attr(1);
  training.opset = 15;
  EXPECT_NE(error_of<UnsupportedError>(training).find("training_mode=1"), std::string::npos);
}

TEST(DnnlNorm, LrnOddAndEvenSizes) {
  const Shape s{2, 5, 2, 3};
  Tensor x = random_tensor(s, 510);
  for (int64_t size : {3, 4}) {
    SCOPED_TRACE(size);
    OpSpec spec{"LRN", {x}};
    spec.attrs = {
        {"size", int_attr(size)}, {"alpha", float_attr(0.3f)}, {"beta", float_attr(0.6f)}, {"bias", float_attr(1.5f)}};
    Tensor y = run1(spec);
    const int64_t c = 5, plane = 6;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t ch = (i / plane) % c, base = i - ch * plane;
      double sq = 0;
      // Channels ch - floor((size-1)/2) .. ch + ceil((size-1)/2).
      for (int64_t k = ch - (size - 1) / 2; k <= ch + size / 2; ++k) {
        if (k < 0 || k >= c) continue;
        const double v = x.data<float>()[base + k * plane];
        sq += v * v;
      }
      const double want = x.data<float>()[i] / std::pow(1.5 + 0.3 / size * sq, 0.6);
      ASSERT_NEAR(y.data<float>()[i], want, 1e-5) << i;
    }
  }
}

TEST(DnnlNorm, SoftmaxHandComputed) {
  // softmax([0, ln 3]) = [1/4, 3/4]; huge inputs must not overflow: [1000, 1000 + ln 3] too.
  const float l3 = std::log(3.f);
  Tensor y = run1({"Softmax", {F({2, 2}, {0, l3, 1000, 1000 + l3})}});
  const std::vector<float> v = floats(y);
  EXPECT_NEAR(v[0], 0.25f, 1e-6f);
  EXPECT_NEAR(v[1], 0.75f, 1e-6f);
  EXPECT_NEAR(v[2], 0.25f, 1e-4f);
  EXPECT_NEAR(v[3], 0.75f, 1e-4f);
  Tensor ly = run1({"LogSoftmax", {F({1, 2}, {0, l3})}});
  EXPECT_NEAR(floats(ly)[0], std::log(0.25f), 1e-6f);
  EXPECT_NEAR(floats(ly)[1], std::log(0.75f), 1e-6f);
}

// Softmax over the elements [outer][len][inner] along len.
std::vector<float> softmax_ref(const Tensor& x, int64_t outer, int64_t len, int64_t inner, bool log) {
  std::vector<float> y(static_cast<size_t>(x.numel()));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double mx = -1e30, sum = 0;
      for (int64_t i = 0; i < len; ++i)
        mx = std::max(mx, static_cast<double>(x.data<float>()[(o * len + i) * inner + j]));
      for (int64_t i = 0; i < len; ++i) sum += std::exp(x.data<float>()[(o * len + i) * inner + j] - mx);
      for (int64_t i = 0; i < len; ++i) {
        const double v = x.data<float>()[(o * len + i) * inner + j] - mx;
        y[(o * len + i) * inner + j] = static_cast<float>(log ? v - std::log(sum) : std::exp(v) / sum);
      }
    }
  return y;
}

TEST(DnnlNorm, SoftmaxAxisSemanticsByOpset) {
  Tensor x = random_tensor({2, 3, 4}, 520);
  for (bool log : {false, true}) {
    SCOPED_TRACE(log ? "LogSoftmax" : "Softmax");
    const char* op = log ? "LogSoftmax" : "Softmax";
    auto check = [&](OpSpec spec, const std::vector<float>& want) {
      const std::vector<float> got = floats(run1(spec));
      for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << i;
    };
    // Opset 13: along axis alone (default -1).
    check({op, {x}}, softmax_ref(x, 6, 4, 1, log));
    OpSpec axis1{op, {x}};
    axis1.attrs["axis"] = int_attr(1);
    check(axis1, softmax_ref(x, 2, 3, 4, log));
    // Opset 11: flattened to [2, 12] at axis 1 (the default).
    OpSpec old{op, {x}};
    old.opset = 11;
    check(old, softmax_ref(x, 2, 12, 1, log));
    old.attrs["axis"] = int_attr(0);
    check(old, softmax_ref(x, 1, 24, 1, log));
    old.attrs["axis"] = int_attr(-1);
    check(old, softmax_ref(x, 6, 4, 1, log));
  }
}

// ---- activations -------------------------------------------------------------------------------

TEST(DnnlActivation, HandComputed) {
  Tensor x = F({6}, {-3, -1, -0.5f, 0, 0.5f, 4});
  auto run = [&](const char* op, std::map<std::string, Attribute> attrs = {}) {
    OpSpec spec{op, {x}};
    spec.attrs = std::move(attrs);
    return floats(run1(spec));
  };
  EXPECT_EQ(run("Relu"), (std::vector<float>{0, 0, 0, 0, 0.5f, 4}));
  EXPECT_EQ(run("LeakyRelu", {{"alpha", float_attr(0.5f)}}), (std::vector<float>{-1.5f, -0.5f, -0.25f, 0, 0.5f, 4}));
  // HardSigmoid default alpha 0.2, beta 0.5: clamp(0.2x + 0.5, 0, 1).
  const std::vector<float> hs = run("HardSigmoid");
  const std::vector<float> hs_want = {0, 0.3f, 0.4f, 0.5f, 0.6f, 1};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(hs[i], hs_want[i], 1e-6f);
  // HardSwish: x * clamp(x/6 + 1/2, 0, 1): -3 -> 0, -1 -> -1/3, -0.5 -> -5/24, 0.5 -> 7/24, 4 -> 4.
  const std::vector<float> sw = run("HardSwish");
  const std::vector<float> sw_want = {0, -1.f / 3, -5.f / 24, 0, 7.f / 24, 4};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(sw[i], sw_want[i], 1e-6f);
  const std::vector<float> sg = run("Sigmoid"), th = run("Tanh"), el = run("Elu", {{"alpha", float_attr(2.f)}});
  for (size_t i = 0; i < 6; ++i) {
    const double v = x.data<float>()[i];
    EXPECT_NEAR(sg[i], 1 / (1 + std::exp(-v)), 1e-6);
    EXPECT_NEAR(th[i], std::tanh(v), 1e-6);
    EXPECT_NEAR(el[i], v < 0 ? 2 * (std::exp(v) - 1) : v, 1e-6);
  }
}

TEST(DnnlActivation, ClipBoundsByOpset) {
  Tensor x = F({5}, {-5, -1, 0, 2, 9});
  OpSpec inputs{"Clip", {x, F({}, {-1.5f}), F({}, {3})}};
  EXPECT_EQ(floats(run1(inputs)), (std::vector<float>{-1.5f, -1, 0, 2, 3}));
  OpSpec only_max{"Clip", {x, std::nullopt, F({}, {1})}};
  EXPECT_EQ(floats(run1(only_max)), (std::vector<float>{-5, -1, 0, 1, 1}));
  OpSpec none{"Clip", {x}};
  EXPECT_EQ(floats(run1(none)), (std::vector<float>{-5, -1, 0, 2, 9}));
  OpSpec attrs{"Clip", {x}};
  attrs.opset = 6;
  attrs.attrs = {{"min", float_attr(0)}, {"max", float_attr(6)}};
  EXPECT_EQ(floats(run1(attrs)), (std::vector<float>{0, 0, 0, 2, 6}));
  OpSpec ints{"Clip",
              {Tensor::from<int8_t>({4}, {-100, -3, 5, 100}), Tensor::scalar<int8_t>(-4), Tensor::scalar<int8_t>(50)}};
  Tensor yi = run1(ints);
  EXPECT_EQ(yi.dtype(), DType::kInt8);
  EXPECT_EQ(yi.to_i64_vector(), (std::vector<int64_t>{-4, -3, 5, 50}));
}

TEST(DnnlActivation, LargeTensorsAgreeAcrossThreadCounts) {
  // Past the parallel threshold: each element is computed alone, so one and two threads must
  // agree bit for bit, and with the definition.
  Tensor x = random_tensor({3, 50000}, 600);
  for (const char* op : {"Relu", "LeakyRelu", "HardSwish", "Sigmoid", "Tanh"}) {
    SCOPED_TRACE(op);
    OpSpec spec{op, {x}};
    Tensor one = run1(spec);
    spec.threads = 2;
    Tensor two = run1(spec);
    ASSERT_EQ(floats(one), floats(two));
    const std::string name = op;
    for (int64_t i = 0; i < x.numel(); i += 997) {
      const double v = x.data<float>()[i];
      double want = 0;
      if (name == "Relu") want = std::max(v, 0.0);
      if (name == "LeakyRelu") want = v < 0 ? 0.01 * v : v;
      if (name == "HardSwish") want = v * std::clamp(v / 6 + 0.5, 0.0, 1.0);
      if (name == "Sigmoid") want = 1 / (1 + std::exp(-v));
      if (name == "Tanh") want = std::tanh(v);
      ASSERT_NEAR(one.data<float>()[i], want, 1e-6) << i;
    }
  }
}

}  // namespace
}  // namespace eff
