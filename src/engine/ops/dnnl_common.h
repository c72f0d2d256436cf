// Shared pieces of the oneDNN-backed kernels (conv, gemm, pool, norm, activation): dtype checks,
// the fused-activation attribute, plain memory descriptors of any rank, the sliding-window
// attributes Conv and the pools share, and a user-managed scratchpad.
#pragma once

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "engine/dnnl_env.h"
#include "engine/kernel.h"

namespace eff::ops {

using dnnl_dims = dnnl::memory::dims;

// Loops over fewer elements than this stay on one thread (the fork costs more).
constexpr int64_t kParallelMin = 1 << 15;

inline dnnl_dims to_dnnl_dims(const Shape& s) {
  return dnnl_dims(s.begin(), s.end());
}

// Row-major float32 descriptor of any rank oneDNN accepts (1..12).
inline dnnl::memory::desc plain_desc(const dnnl_dims& dims) {
  dnnl_dims strides(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * dims[i + 1];
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, strides);
}

// Channel-blocked activation layout (16 channels innermost) for a rank-3..5 tensor.
inline dnnl::memory::format_tag blocked16_tag(int rank) {
  switch (rank) {
    case 3:
      return dnnl::memory::format_tag::nCw16c;
    case 4:
      return dnnl::memory::format_tag::nChw16c;
    default:
      return dnnl::memory::format_tag::nCdhw16c;
  }
}

inline std::string dnnl_impl_name(const dnnl::primitive_desc_base& pd) {
  return std::string("dnnl:") + pd.impl_info_str();
}

// Refuses, at creation, inputs whose static type is known and not float32.
inline void require_f32_model(const Node& node, const Graph& graph, int input) {
  const ValueId v = node.input(input);
  if (v == kNoValue) return;
  const Value& val = graph.value(v);
  if (val.has_type && val.dtype != DType::kFloat32) {
    fail<UnsupportedError>("{}: input {} has type {}, only float32 is supported", graph.where(node), input,
                           dtype_name(val.dtype));
  }
}

// The input at run time, which must be float32.
inline const Tensor& f32_input(const OpContext& ctx, int i) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DType::kFloat32) {
    fail<ShapeError>("{}: input {} must be float32, got {}", ctx.where(), i, dtype_name(t.dtype()));
  }
  return t;
}

// The activation a fusion pass folded into a Conv/Gemm/MatMul node (attribute "activation"; for
// Clip also "activation_min" and "activation_max").
inline bool fused_relu(const Node& node, const Graph& graph) {
  if (!node.has_attr("activation")) return false;
  const std::string act = node.attr_string("activation", "");
  if (act == "Relu") return true;
  if (act.empty()) return false;
  fail<UnsupportedError>("{}: fused activation '{}' is not supported (only Relu)", graph.where(node), act);
}

inline void append_relu(dnnl::post_ops& ops) {
  ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
}

// Relu, Clip, HardSwish and Swish folded into a conv: a oneDNN eltwise post-op, which spares the
// separate pass over the layer's output (MobileNets clip every expand and depthwise output).
struct FusedActivation {
  enum class Kind { kNone, kRelu, kClip, kHardSwish, kSwish };
  Kind kind = Kind::kNone;
  float lo = 0.f, hi = 0.f;  // Clip bounds

  bool any() const { return kind != Kind::kNone; }
  void append_to(dnnl::post_ops& ops) const {
    switch (kind) {
      case Kind::kNone:
        break;
      case Kind::kRelu:
        append_relu(ops);
        break;
      case Kind::kClip:
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, lo, hi);
        break;
      case Kind::kHardSwish:
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_hardswish, 0.f, 0.f);
        break;
      case Kind::kSwish:  // x * sigmoid(1 * x)
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
        break;
    }
  }
  // The same function on one value, for outputs computed outside oneDNN (bias-only outputs).
  float apply(float v) const {
    switch (kind) {
      case Kind::kNone:
        return v;
      case Kind::kRelu:
        return v > 0.f ? v : 0.f;
      case Kind::kClip:
        return v < lo ? lo : (v > hi ? hi : v);
      case Kind::kHardSwish: {
        const float g = v / 6.f + 0.5f;
        return v * (g < 0.f ? 0.f : (g > 1.f ? 1.f : g));
      }
      case Kind::kSwish:
        return v / (1.f + std::exp(-v));
    }
    return v;
  }
};

inline FusedActivation fused_activation(const Node& node, const Graph& graph) {
  FusedActivation f;
  const std::string act = node.attr_string("activation", "");
  if (act.empty()) return f;
  if (act == "Relu") {
    f.kind = FusedActivation::Kind::kRelu;
  } else if (act == "Clip") {
    if (!node.has_attr("activation_min") || !node.has_attr("activation_max")) {
      fail<ModelError>("{}: fused Clip without activation_min/activation_max", graph.where(node));
    }
    f.kind = FusedActivation::Kind::kClip;
    f.lo = node.attr_float("activation_min", 0.f);
    f.hi = node.attr_float("activation_max", 0.f);
  } else if (act == "HardSwish") {
    f.kind = FusedActivation::Kind::kHardSwish;
  } else if (act == "Swish") {
    f.kind = FusedActivation::Kind::kSwish;
  } else {
    fail<UnsupportedError>("{}: fused activation '{}' is not supported", graph.where(node), act);
  }
  return f;
}

// oneDNN's JIT code and work split depend on the thread count at primitive creation, so cached
// primitives are keyed by it as well as by shape.
inline int current_threads() {
  return omp_get_max_threads();
}

// A user-mode scratchpad owned by one kernel and shared by all its cached primitives (which run
// one at a time), grown to the largest size any of them asked for.
// A kernel's scratchpad: reserve() at plan time makes a memory object of the largest size its
// primitives asked for, without storage; bind_scratchpad() points a plan's scratchpad argument at
// the executor's shared buffer (DnnlEnv::scratch) right before each execution, as the buffer may
// have grown (and moved) since.
class Scratchpad {
 public:
  void reserve(const dnnl::primitive_desc_base& pd, const dnnl::engine& engine) {
    const size_t bytes = pd.scratchpad_desc().get_size();
    if (bytes > bytes_) {
      bytes_ = bytes;
      mem_ = dnnl::memory(dnnl::memory::desc({static_cast<dnnl::memory::dim>(bytes)}, dnnl::memory::data_type::u8,
                                             dnnl::memory::format_tag::a),
                          engine, nullptr);
    }
  }
  bool empty() const { return bytes_ == 0; }
  const dnnl::memory& memory() const { return mem_; }

 private:
  size_t bytes_ = 0;
  dnnl::memory mem_;
};

template <class Args>
void bind_scratchpad(Args& args, DnnlEnv& env) {
  auto it = args.find(DNNL_ARG_SCRATCHPAD);
  if (it != args.end()) it->second.set_data_handle(env.scratch(it->second.get_desc().get_size()));
}

inline dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

inline void* mutable_data(const Tensor& t) {
  return const_cast<void*>(t.raw());
}

// Constant weights reordered into the layouts the primitives asked for, once per distinct
// layout (a kernel's plans for different batch sizes usually agree on one).
class PackedWeights {
 public:
  void set_source(Tensor t) { source_ = std::move(t); }
  bool defined() const { return source_.defined(); }
  const Tensor& source() const { return source_; }

  // The source, described by `user_md`, in layout `want`.
  dnnl::memory get(const dnnl::memory::desc& user_md, const dnnl::memory::desc& want, DnnlEnv& env) {
    for (auto& [md, mem] : packed_) {
      if (md == want) return mem;
    }
    dnnl::memory user(user_md, env.engine, mutable_data(source_));
    dnnl::memory packed;
    if (want == user_md) {
      packed = user;  // shares the constant's storage, which source_ keeps alive
    } else {
      packed = dnnl::memory(want, env.engine);
      dnnl::reorder(user, packed).execute(env.stream, user, packed);
      env.stream.wait();
    }
    packed_.emplace_back(want, packed);
    return packed;
  }

 private:
  Tensor source_;
  std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed_;
};

// ---- sliding windows (Conv, ConvTranspose, MaxPool, AveragePool) ----------------------------------

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

inline AutoPad parse_auto_pad(const Node& node, const Graph& graph) {
  const std::string s = node.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  fail<UnsupportedError>("{}: auto_pad '{}' is not supported", graph.where(node), s);
}

// The window attributes as written in the node; `spatial` is -1 while unknown (no kernel_shape
// attribute and no constant weights to infer it from). Empty lists mean the defaults.
struct WindowAttrs {
  int spatial = -1;
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> pads;  // begins then ends
  std::vector<int64_t> dilations;
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

// Reads and validates kernel_shape, strides, pads, dilations, auto_pad (and ceil_mode for pools).
inline WindowAttrs parse_window(const Node& node, const Graph& graph, int spatial_hint) {
  WindowAttrs w;
  const std::string where = graph.where(node);
  w.kernel = node.attr_ints("kernel_shape");
  w.strides = node.attr_ints("strides");
  w.pads = node.attr_ints("pads");
  w.dilations = node.attr_ints("dilations");
  w.auto_pad = parse_auto_pad(node, graph);
  w.ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  w.spatial = !w.kernel.empty() ? static_cast<int>(w.kernel.size()) : spatial_hint;
  if (node.has_attr("kernel_shape") && w.kernel.empty()) fail<ModelError>("{}: kernel_shape is empty", where);
  auto check_len = [&](const std::vector<int64_t>& v, size_t want, const char* name) {
    if (!v.empty() && w.spatial >= 0 && v.size() != want) {
      fail<ModelError>("{}: {} has {} values, expected {}", where, name, v.size(), want);
    }
  };
  check_len(w.strides, static_cast<size_t>(w.spatial), "strides");
  check_len(w.dilations, static_cast<size_t>(w.spatial), "dilations");
  check_len(w.pads, 2 * static_cast<size_t>(w.spatial), "pads");
  // Bounded so that the geometry arithmetic below cannot overflow.
  constexpr int64_t kMaxWindowValue = int64_t{1} << 31;
  for (const auto* list : {&w.kernel, &w.strides, &w.pads, &w.dilations}) {
    for (int64_t v : *list) {
      if (v > kMaxWindowValue) fail<ModelError>("{}: window attribute value {} is out of range", where, v);
    }
  }
  for (int64_t k : w.kernel) {
    if (k <= 0) fail<ModelError>("{}: kernel_shape values must be positive", where);
  }
  for (int64_t s : w.strides) {
    if (s <= 0) fail<ModelError>("{}: strides must be positive", where);
  }
  for (int64_t d : w.dilations) {
    if (d <= 0) fail<ModelError>("{}: dilations must be positive", where);
  }
  for (int64_t p : w.pads) {
    if (p < 0) fail<UnsupportedError>("{}: negative pads are not supported", where);
  }
  if (w.spatial > 3) fail<UnsupportedError>("{}: {} spatial dimensions (at most 3 supported)", where, w.spatial);
  return w;
}

// Concrete geometry of one forward window op for given input spatial sizes.
struct WindowGeometry {
  dnnl_dims kernel, strides, dilations;  // dilations as ONNX counts them (1 = dense)
  dnnl_dims pad_begin, pad_end;          // pad_end as oneDNN needs it to produce `out` exactly
  dnnl_dims onnx_pad_end;                // the explicit end pads (for count_include_pad)
  dnnl_dims in, out;
};

inline int64_t ceil_div(int64_t a, int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// Output size and pads of Conv / pools along each spatial axis (ONNX rules, including auto_pad
// and ceil_mode with the last window required to start inside the input or its begin pad).
inline WindowGeometry window_geometry(const WindowAttrs& w, const dnnl_dims& in, const dnnl_dims& kernel,
                                      const OpContext& ctx) {
  const size_t n = in.size();
  WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  g.strides.assign(n, 1);
  g.dilations.assign(n, 1);
  g.pad_begin.assign(n, 0);
  g.pad_end.assign(n, 0);
  g.onnx_pad_end.assign(n, 0);
  g.out.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!w.strides.empty()) g.strides[i] = w.strides[i];
    if (!w.dilations.empty()) g.dilations[i] = w.dilations[i];
    const int64_t s = g.strides[i];
    const int64_t extent = (kernel[i] - 1) * g.dilations[i] + 1;
    int64_t pb = 0, pe = 0, out = 0;
    switch (w.auto_pad) {
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out = ceil_div(in[i], s);
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + extent - in[i]);
        pb = w.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
        pe = total - pb;
        break;
      }
      case AutoPad::kValid:
        out = in[i] >= extent ? (in[i] - extent) / s + 1 : 0;
        break;
      case AutoPad::kNotSet: {
        if (!w.pads.empty()) {
          pb = w.pads[i];
          pe = w.pads[i + n];
        }
        const int64_t span = in[i] + pb + pe - extent;
        if (span < 0) {
          out = 0;
        } else if (w.ceil_mode) {
          out = ceil_div(span, s) + 1;
          if ((out - 1) * s >= in[i] + pb) --out;
        } else {
          out = span / s + 1;
        }
        break;
      }
    }
    if (out <= 0) {
      fail<ShapeError>("{}: window of extent {} does not fit input size {} (with pads {}+{})", ctx.where(), extent,
                       in[i], pb, pe);
    }
    g.pad_begin[i] = pb;
    g.onnx_pad_end[i] = pe;
    // Exact for oneDNN: floor mode may leave some explicit end padding unused, ceil mode may
    // need more than was given.
    g.pad_end[i] = (out - 1) * s + extent - in[i] - pb;
    g.out[i] = out;
  }
  return g;
}

// oneDNN counts dilation as the gap between taps (0 = dense).
inline dnnl_dims dnnl_dilations(const dnnl_dims& onnx) {
  dnnl_dims d(onnx);
  for (auto& v : d) v -= 1;
  return d;
}

}  // namespace eff::ops
