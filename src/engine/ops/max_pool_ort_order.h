// MaxPool over windows holding NaN as ONNX Runtime 1.30 computes it on x86 (the graph variant for
// inputs holding NaN/Inf runs it; finite inputs keep oneDNN's pooling, which gives the same values
// when no NaN is present).
//
// A max over a window is a fold, and with NaN the fold's order and its max decide the result.
// ONNX Runtime folds with x86 `maxps` (a > b ? a : b: a NaN on either side gives b) or std::max
// (a < b ? b : a: a NaN on either side gives a), in one of two orders (MLAS; measured against
// ONNX Runtime with NaN/Inf at every window position, tools/make_non_finite_fixtures.py):
// - kTaps: its channel-blocked (NCHWc) kernel: m = lowest, then m = maxps(m, x) over the window's
//   taps row by row, pads skipped; a NaN survives only as the last tap.
// - kColumns: MLAS's plain 2-D kernel (strides up to 2, kernels up to 32): each input column
//   folded over the window's rows first (r = x[first row], then maxps; the last W % 4 columns,
//   which MLAS does one at a time, with std::max), then across the window's columns with maxps,
//   pad columns holding `lowest`; wider strides or kernels fold all taps with std::max from
//   `lowest`, so NaN never wins there.
// `lowest` is -FLT_MAX, or -inf where the model's MaxPool is float16 (ONNX Runtime pools in
// float32 and casts, and -FLT_MAX becomes -inf in float16).
#pragma once

#include <cstdint>

namespace eff {

enum class MaxPoolFoldOrder { kTaps, kColumns };

struct MaxPoolWindow2d {
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0;
};

// x: `planes` planes of in_h x in_w floats; y: planes of out_h x out_w.
void max_pool_ort_order(const float* x, float* y, int64_t planes, const MaxPoolWindow2d& w, MaxPoolFoldOrder order,
                        float lowest);

}  // namespace eff
