// Helpers of the oneDNN-backed kernel tests (test_ops_dnnl.cpp: conv, conv transpose, gemm,
// matmul; test_ops_dnnl_pool_norm.cpp: pools, normalisations, activations): one-node graphs run
// at a chosen thread count, and naive references written from the ONNX definitions.
#pragma once

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

namespace eff::dnnl_test {

using op_test::F;
using op_test::float_attr;
using op_test::floats;
using op_test::int_attr;
using op_test::ints_attr;
using op_test::string_attr;

inline Tensor random_tensor(Shape s, uint32_t seed) {
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

inline Tensor run1(const OpSpec& spec, std::string* impl = nullptr) {
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

inline void expect_close(const Tensor& got, const Tensor& want, float rel = 1e-4f) {
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
inline Dims3 spatial3(const Shape& s, int64_t fill = 1) {
  Dims3 d;
  d.v[0] = d.v[1] = d.v[2] = fill;
  const size_t n = s.size();
  for (size_t i = 0; i < n; ++i) d.v[3 - n + i] = s[i];
  return d;
}

struct Window {
  std::vector<int64_t> strides, pads, dilations;  // pads: begins then ends
};

inline std::vector<int64_t> or_ones(const std::vector<int64_t>& v, size_t n) {
  return v.empty() ? std::vector<int64_t>(n, 1) : v;
}

// ONNX Conv: y[n, m, o] = b[m] + sum_{c in group, k} x[n, c, o * s - pb + k * d] * w[m, c, k].
inline Tensor conv_ref(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group, const Window& win,
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
inline Tensor conv_transpose_ref(const Tensor& x, const Tensor& w, const Tensor* b, int64_t group,
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
inline Tensor pool_ref(const Tensor& x, bool max, bool include_pad, const Shape& kernel, const Window& win,
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
inline Tensor gemm_ref(const Tensor& a, const Tensor& b, const Tensor* c, bool ta, bool tb, float alpha, float beta) {
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

}  // namespace eff::dnnl_test
