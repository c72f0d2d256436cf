#include "engine/ops/int8_conv_dnnl.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "engine/ops/dnnl_common.h"
#include "engine/ops/tensor_helpers.h"

namespace eff::ops {

namespace {

// ORT's requantization rule (see quant.cpp) on NHWC sums [batch, pixels, channels] (plus the int32 bias per channel),
// written to the NCHW output `y`.
template <class T>
void requantize_nhwc_typed(const int32_t* acc, const int32_t* bias, T* y, const std::vector<float>& multiplier,
                           int64_t batch, int64_t pixels, int32_t zero) {
  const int64_t channels = static_cast<int64_t>(multiplier.size());
  const float lo = static_cast<float>(std::numeric_limits<T>::min() - zero);
  const float hi = static_cast<float>(std::numeric_limits<T>::max() - zero);
  constexpr int64_t kRun = 64;
  const int64_t runs = (pixels + kRun - 1) / kRun;
#pragma omp parallel for collapse(2) schedule(static) if (batch * pixels * channels >= kParallelElements)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < runs; ++r) {
      const int64_t p0 = r * kRun, p1 = std::min(pixels, p0 + kRun);
      for (int64_t c = 0; c < channels; ++c) {
        const float m = multiplier[c];
        const int32_t add = bias ? bias[c] : 0;
        const int32_t* src = acc + b * pixels * channels + c;
        T* dst = y + (b * channels + c) * pixels;
        for (int64_t p = p0; p < p1; ++p) {
          // Clamped before rounding, as MLAS does: the same code, and no float -> int overflow.
          const float v = std::min(std::max(static_cast<float>(src[p * channels] + add) * m, lo), hi);
          dst[p] = static_cast<T>(static_cast<int32_t>(std::nearbyint(v)) + zero);
        }
      }
    }
  }
}

}  // namespace

void requantize_nhwc(const int32_t* acc, const int32_t* bias, Tensor& y, const std::vector<float>& multiplier,
                     int64_t batch, int64_t pixels, int32_t zero) {
  if (y.dtype() == DType::kInt8) {
    requantize_nhwc_typed(acc, bias, y.data<int8_t>(), multiplier, batch, pixels, zero);
  } else {
    requantize_nhwc_typed(acc, bias, y.data<uint8_t>(), multiplier, batch, pixels, zero);
  }
}

bool Int8ConvGeometry::operator==(const Int8ConvGeometry& o) const {
  auto same2 = [](const int64_t* a, const int64_t* b) { return a[0] == b[0] && a[1] == b[1]; };
  return batch == o.batch && channels == o.channels && out_channels == o.out_channels && group == o.group &&
         same2(in, o.in) && same2(kernel, o.kernel) && same2(out, o.out) && same2(stride, o.stride) &&
         same2(dilation, o.dilation) && same2(pad_begin, o.pad_begin);
}

struct DnnlInt8Conv::Plan {
  Int8ConvGeometry geometry;
  DType src_type = DType::kUInt8;
  int threads = 0;
  const void* weights_source = nullptr;
  bool nchw_user = true;   // compute()'s NCHW input reordered to NHWC (compute_u8: NHWC as given)
  bool zero_point = true;  // the source zero point attribute (compute_u8 leaves it out for zero 0)
  dnnl::convolution_forward prim;
  dnnl::memory src_user, src, wei, dst, zero;
  dnnl::reorder src_reorder;
  std::unordered_map<int, dnnl::memory> args;
};

bool DnnlInt8Conv::prepare(DnnlEnv& env, const Int8ConvGeometry& g, DType src_type, bool nchw_user, const void* w,
                           bool zero_point) {
  using memory = dnnl::memory;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  if (unusable_) return false;
  const int threads = current_threads();
  if (plan_ && plan_->geometry == g && plan_->src_type == src_type && plan_->threads == threads &&
      plan_->weights_source == w && plan_->nchw_user == nchw_user && plan_->zero_point == zero_point) {
    return true;
  }
  auto plan = std::make_shared<Plan>();
  plan->geometry = g;
  plan->src_type = src_type;
  plan->threads = threads;
  plan->weights_source = w;
  plan->nchw_user = nchw_user;
  plan->zero_point = zero_point;
  const dt src_dt = src_type == DType::kInt8 ? dt::s8 : dt::u8;
  const dnnl_dims src_dims{g.batch, g.channels, g.in[0], g.in[1]};
  const dnnl_dims dst_dims{g.batch, g.out_channels, g.out[0], g.out[1]};
  const bool grouped = g.group > 1;
  const dnnl_dims wei_dims =
      grouped ? dnnl_dims{g.group, g.out_channels / g.group, g.channels / g.group, g.kernel[0], g.kernel[1]}
              : dnnl_dims{g.out_channels, g.channels, g.kernel[0], g.kernel[1]};
  const dnnl_dims strides{g.stride[0], g.stride[1]};
  const dnnl_dims dilations{g.dilation[0] - 1, g.dilation[1] - 1};
  const dnnl_dims pad_begin{g.pad_begin[0], g.pad_begin[1]};
  dnnl_dims pad_end(2);
  for (int i = 0; i < 2; ++i) {
    pad_end[i] = (g.out[i] - 1) * g.stride[i] + (g.kernel[i] - 1) * g.dilation[i] + 1 - g.in[i] - g.pad_begin[i];
    if (pad_end[i] < 0) pad_end[i] = 0;  // the last rows/columns are not reached (floor division)
  }
  dnnl::primitive_attr attr = user_scratchpad_attr();
  if (zero_point) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::convolution_forward::primitive_desc pd;
  try {
    dnnl::convolution_forward::desc d(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        memory::desc(src_dims, src_dt, tag::nhwc), memory::desc(wei_dims, dt::s8, tag::any),
        memory::desc(dst_dims, dt::s32, tag::nhwc), strides, dilations, pad_begin, pad_end);
    pd = dnnl::convolution_forward::primitive_desc(d, attr, env.engine);
  } catch (const dnnl::error&) {
    unusable_ = true;
    return false;
  }
  const std::string impl = pd.impl_info_str();
  if (impl.find("ref") != std::string::npos || impl.find("gemm") != std::string::npos) {
    unusable_ = true;  // the caller's own loops are as good
    return false;
  }
  plan->prim = dnnl::convolution_forward(pd);
  impl_ = dnnl_impl_name(pd);
  if (nchw_user) {  // compute(): NCHW user activations reordered to the kernel's NHWC
    plan->src_user = memory(memory::desc(src_dims, src_dt, tag::nchw), env.engine, nullptr);
    plan->src = memory(pd.src_desc(), env.engine);
    plan->src_reorder = dnnl::reorder(plan->src_user, plan->src);
  } else {
    plan->src = memory(pd.src_desc(), env.engine, nullptr);
  }
  plan->dst = memory(pd.dst_desc(), env.engine, nullptr);
  // Weights reordered once into the kernel's layout (with the compensation oneDNN derives for
  // the source zero point).
  memory wei_user(memory::desc(wei_dims, dt::s8, grouped ? tag::goihw : tag::oihw), env.engine, const_cast<void*>(w));
  plan->wei = memory(pd.weights_desc(), env.engine);
  dnnl::reorder(wei_user, plan->wei).execute(env.stream, wei_user, plan->wei);
  plan->zero = memory(memory::desc({1}, dt::s32, tag::a), env.engine);
  plan->args = {{DNNL_ARG_SRC, plan->src}, {DNNL_ARG_WEIGHTS, plan->wei}, {DNNL_ARG_DST, plan->dst}};
  if (zero_point) plan->args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = plan->zero;
  if (pd.scratchpad_desc().get_size() > 0) {
    plan->args[DNNL_ARG_SCRATCHPAD] = memory(pd.scratchpad_desc(), env.engine, nullptr);
  }
  plan_ = std::move(plan);
  return true;
}

bool DnnlInt8Conv::compute(DnnlEnv& env, const Int8ConvGeometry& g, const Tensor& x, int32_t x_zero, const Tensor& w,
                           int32_t* out) {
  if (!prepare(env, g, x.dtype(), true, w.raw(), true)) return false;
  Plan& p = *plan_;
  *static_cast<int32_t*>(p.zero.get_data_handle()) = x_zero;
  p.src_user.set_data_handle(mutable_data(x));
  p.dst.set_data_handle(out);
  p.src_reorder.execute(env.stream, p.src_user, p.src);
  bind_scratchpad(p.args, env);
  p.prim.execute(env.stream, p.args);
  env.stream.wait();
  return true;
}

bool DnnlInt8Conv::compute_u8(DnnlEnv& env, const Int8ConvGeometry& g, const uint8_t* x, int32_t x_zero,
                              const int8_t* w, int32_t* out) {
  if (!prepare(env, g, DType::kUInt8, false, w, x_zero != 0)) return false;
  Plan& p = *plan_;
  *static_cast<int32_t*>(p.zero.get_data_handle()) = x_zero;
  p.src.set_data_handle(const_cast<uint8_t*>(x));
  p.dst.set_data_handle(out);
  bind_scratchpad(p.args, env);
  p.prim.execute(env.stream, p.args);
  env.stream.wait();
  return true;
}

}  // namespace eff::ops
