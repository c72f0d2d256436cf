// oneDNN's 8-bit convolution for QLinearConv (and the QDQ convs fused into it): u8/s8 activations
// x s8 weights with zero point 0, the activation zero point as oneDNN's run-time source zero point
// (padding holds the zero point, as in ONNX Runtime), int32 sums out. The sums are exact (VNNI
// accumulates in int32; oneDNN converts them through float32 with scale 1 on the way out, exact
// below 2^24 in magnitude); the caller adds the bias and requantizes with ORT's rule.
#pragma once

#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <vector>

#include "engine/dnnl_env.h"
#include "engine/kernel.h"

namespace eff::ops {

// A 2-D convolution's geometry (NCHW activations, [M, C/group, kh, kw] weights).
struct Int8ConvGeometry {
  int64_t batch = 0, channels = 0, out_channels = 0, group = 1;
  int64_t in[2] = {0, 0}, kernel[2] = {0, 0}, out[2] = {0, 0};
  int64_t stride[2] = {1, 1}, dilation[2] = {1, 1}, pad_begin[2] = {0, 0};
  bool operator==(const Int8ConvGeometry& o) const;
};

// saturate(nearbyint(float(sum + bias[c]) * multiplier[c]) + zero) (clamped in float before
// rounding, as MLAS does: the same codes) from NHWC sums [batch, pixels, channels] into the NCHW
// codes of `y` (uint8 or int8); `bias` may be null.
void requantize_nhwc(const int32_t* acc, const int32_t* bias, Tensor& y, const std::vector<float>& multiplier,
                     int64_t batch, int64_t pixels, int32_t zero);

class DnnlInt8Conv {
 public:
  // The sums conv(x - x_zero, w) as int32 in NHWC order ([batch, out[0], out[1], out_channels]),
  // written to `out`. False (nothing written) when oneDNN has no fast kernel for this layer.
  bool compute(DnnlEnv& env, const Int8ConvGeometry& g, const Tensor& x, int32_t x_zero, const Tensor& w, int32_t* out);
  // The same from u8 activations already in NHWC order (no reorder; oneDNN 2.6's VNNI convs take
  // nothing else: given nChw16c they fall to ref_int8), s8 weights [M, C, kh, kw] at `w` (reordered
  // once per plan: they must stay where they are). Without a source zero point when x_zero is 0.
  bool compute_u8(DnnlEnv& env, const Int8ConvGeometry& g, const uint8_t* x, int32_t x_zero, const int8_t* w,
                  int32_t* out);
  // oneDNN's implementation name once compute() succeeded, else empty.
  std::string impl() const { return impl_; }

 private:
  struct Plan;
  // Plan_ for this call (made again when anything it was made for changed); false when unusable.
  bool prepare(DnnlEnv& env, const Int8ConvGeometry& g, DType src_type, bool nchw_user, const void* w, bool zero_point);
  std::string impl_;
  std::shared_ptr<Plan> plan_;
  bool unusable_ = false;  // oneDNN refused this geometry: the caller's own loops run
};

}  // namespace eff::ops
