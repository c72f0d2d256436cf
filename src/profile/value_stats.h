// Value statistics of one operand (input activations or weights) of a conv/FC layer, accumulated
// in integer counters so that a profile is the same for any thread count and batch size. Every
// function here is pure: tests feed it small hand-made tensors. Definitions and formulas are in
// docs/profile.md; the value encodings (msb, lsb, popcount, Booth-like recoding) come from
// core/bits.h.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/geometry.h"
#include "engine/value_transform.h"

namespace eff::profile {

// log2-magnitude histogram: bin k counts non-zero finite values with 2^k <= |v| < 2^(k+1), k
// clamped to [kLog2Min, kLog2Max] (the end bins also hold everything beyond them).
constexpr int kLog2Min = -32;
constexpr int kLog2Max = 31;
constexpr int kLog2Bins = kLog2Max - kLog2Min + 1;
int log2_bin(float v);  // the k above (before clamping to the bin range) for a non-zero finite v

// The fixed-point format the statistics use when no precision profile gives one: the smallest
// integer part (sign included) that holds `absmax` without saturation, the rest fraction bits:
// I = clamp(floor(log2(absmax)) + 2, 1, 16), F = 16 - I. absmax = 0 (or not finite) gives I = 1.
FixedPointFormat fixed_format_for_range(double absmax);

// A 16-bit fixed-point code as the engine computes it (engine/value_transform.h: round to nearest,
// ties away from zero, saturation), plus whether it saturated.
struct FixedCode {
  int32_t code = 0;
  bool saturated = false;
};
FixedCode fixed_code(float v, const FixedPointFormat& f);

// Uniform 8-bit quantization (engine/value_transform.h "uniform8"): over [0, max] with 255 levels
// when the range has no negative value, else 127 levels each side of zero over [-absmax, absmax].
struct Uniform8 {
  float scale = 0;  // 0: all values are zero (codes are 0)
  bool is_signed = false;
  static Uniform8 for_range(float lo, float hi);
  int32_t code(float v) const;
};

// Min and max over the finite values of v (lo <= 0 <= hi: both start at 0, as uniform8 ranges do).
void finite_range(const float* v, int64_t n, float& lo, float& hi);

// What a value counts towards, decided per layer before the values are seen.
struct ValueContext {
  FixedPointFormat fixed;         // the 16-bit format
  Uniform8 u8;                    // the 8-bit quantization
  std::vector<float> thresholds;  // |v| < t counts as near-zero (absolute values)
};

struct ValueCounters {
  // "per value": each stored value counts 1; "per MAC" (the _mac counters): each value counts the
  // number of multiplications it feeds, divided by a per-layer constant (see docs/profile.md).
  int64_t count = 0, count_mac = 0;
  int64_t zeros = 0, zeros_mac = 0;
  int64_t nonfinite = 0;
  std::vector<int64_t> below, below_mac;  // per threshold: |v| < t (zeros included)
  std::array<int64_t, kLog2Bins> log2_hist{};
  double sum = 0;  // finite values; merged in a fixed order
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  // 16-bit fixed point (codes as sign and magnitude, core/bits.h magnitude()).
  int64_t saturated = 0;
  int64_t nonzero16 = 0, nonzero16_mac = 0;
  int64_t popcount16 = 0, popcount16_mac = 0;
  int64_t booth16 = 0, booth16_mac = 0;
  int msb_max = -1;  // over non-zero codes; -1 when all are zero
  int lsb_min = 16;  // over non-zero codes; 16 when all are zero
  bool negative = false;
  // 8-bit quantized.
  int64_t nonzero8 = 0, nonzero8_mac = 0;
  int64_t popcount8 = 0, popcount8_mac = 0;
  int64_t booth8 = 0, booth8_mac = 0;

  explicit ValueCounters(size_t thresholds = 0) : below(thresholds, 0), below_mac(thresholds, 0) {}
  // Adds `o` after this one (the only order-dependent field is `sum`).
  void merge(const ValueCounters& o);
};

// Accumulates n consecutive values. Value i feeds weight(i) = cov_scale * (cov ? cov[i] : 1) MACs
// (in the per-layer unit). When `width` is given, stores each value's bit width there (magnitude
// msb + 1, plus 1 for a negative value: the sign-magnitude rule of the spec; a zero costs 1) and
// whether its 16-bit code is non-zero in `nonzero`.
void accumulate_values(const float* v, int64_t n, const int64_t* cov, int64_t cov_scale, const ValueContext& ctx,
                       ValueCounters& c, uint8_t* width = nullptr, uint8_t* nonzero = nullptr);

// ---- per-multiplication weighting ------------------------------------------------------------

// For each input coordinate 0..n-1 along one axis: the number of (output position, kernel tap)
// pairs that read it: o * stride + k * dilation - pad_before == i, 0 <= o < out, 0 <= k < kernel.
// A conv input at (c, y, x) then feeds cov_y[y] * cov_x[x] * (Nf / groups) MACs.
std::vector<int64_t> coverage_1d(int64_t n, int64_t out, int64_t kernel, int64_t stride, int64_t dilation,
                                 int64_t pad_before);

// ---- dynamic precision per group of concurrently processed values ------------------------------

struct GroupShape {
  int channels = 16;  // lanes: consecutive input channels (of one conv group)
  int windows = 1;    // consecutive windows (output positions, raster order) processed together
  bool operator==(const GroupShape&) const = default;
};

struct GroupCounters {
  int64_t groups = 0;
  int64_t width_sum = 0;           // sum of group widths
  int64_t all_zero = 0;            // groups whose values (padding included) are all zero
  std::array<int64_t, 17> hist{};  // groups by width 0..16 (0 is never used: a zero costs 1)
  double average() const { return groups ? static_cast<double>(width_sum) / groups : 0.0; }
  void merge(const GroupCounters& o);
};

// The groups one image's activations form as a Dynamic-Stripes-like unit walks a conv layer: for
// each set of `windows` consecutive windows, each kernel tap (ky, kx) and each chunk of `channels`
// channels of each conv group, one group whose width is the max of its values' widths (padding
// reads count as zeros). `width`/`nonzero` hold per-value widths in [C][H][W] order (from
// accumulate_values). The last window set and the last chunk of a conv group may be partial.
// `walk` forces the window-by-window walk even for one-window groups (which otherwise take an
// equivalent shortcut); tests compare the two.
void accumulate_groups_conv(const LayerGeometry& g, const uint8_t* width, const uint8_t* nonzero,
                            const GroupShape& shape, GroupCounters& out, bool walk = false);
// FC (and anything without windows): `rows` rows of `k` values ([rows][k] order); a group is
// `channels` consecutive values of `windows` consecutive rows.
void accumulate_groups_rows(int64_t rows, int64_t k, const uint8_t* width, const uint8_t* nonzero,
                            const GroupShape& shape, GroupCounters& out);

}  // namespace eff::profile
