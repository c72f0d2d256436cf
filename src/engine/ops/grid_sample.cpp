// GridSample (opset 16, 4-D): samples X at the normalised (x, y) positions of a grid, as spatial
// transformers do (e.g. the TPS rectifier in front of text recognisers). Nearest, bilinear and
// bicubic (A = -0.75); zeros, border and reflection padding; the same coordinate rules as ONNX
// Runtime: positions outside the image are clamped or reflected first, then each tap outside it
// reads 0 (zeros), the nearest edge pixel (border) or its mirror image (reflection).
#include <algorithm>
#include <cmath>

#include "engine/ops/broadcast.h"

namespace eff {

namespace {

using namespace ops;

enum class SampleMode { kNearest, kBilinear, kBicubic };
enum class Padding { kZeros, kBorder, kReflection };

float reflect(float v, float lo, float hi) {
  const float range = hi - lo;
  if (range <= 0.f) return lo;
  if (v < lo) {
    const float d = lo - v;
    const float n = std::floor(d / range), r = d - n * range;
    return std::fmod(n, 2.f) == 0.f ? lo + r : hi - r;
  }
  if (v > hi) {
    const float d = v - hi;
    const float n = std::floor(d / range), r = d - n * range;
    return std::fmod(n, 2.f) == 0.f ? hi - r : lo + r;
  }
  return v;
}

void cubic_coefficients(float t, float c[4]) {
  constexpr float A = -0.75f;
  t = std::fabs(t);
  c[0] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
  c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
  c[2] = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
  c[3] = ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A;
}

class GridSampleKernel final : public Kernel {
 public:
  GridSampleKernel(SampleMode mode, Padding padding, bool align_corners)
      : mode_(mode), padding_(padding), align_corners_(align_corners) {}

  void run(OpContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& grid = ctx.input(1);
    if (x.dtype() != DType::kFloat32 || grid.dtype() != DType::kFloat32 || x.rank() != 4 || grid.rank() != 4 ||
        grid.dim(0) != x.dim(0) || grid.dim(3) != 2) {
      fail<ShapeError>("{}: X {} {} and grid {} {} must be float32 [N, C, H, W] and [N, H_out, W_out, 2]", ctx.where(),
                       dtype_name(x.dtype()), shape_str(x.shape()), dtype_name(grid.dtype()), shape_str(grid.shape()));
    }
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    const int64_t ho = grid.dim(1), wo = grid.dim(2);
    Tensor& y = ctx.output(0, DType::kFloat32, {n, c, ho, wo});
    if (y.numel() == 0) return;
    const float* xd = x.data<float>();
    const float* gd = grid.data<float>();
    float* yd = y.data<float>();
    // Valid coordinate range: pixel centres with align_corners, else pixel edges.
    const float x_lo = align_corners_ ? 0.f : -0.5f, x_hi = align_corners_ ? w - 1.f : w - 0.5f;
    const float y_lo = align_corners_ ? 0.f : -0.5f, y_hi = align_corners_ ? h - 1.f : h - 0.5f;
#pragma omp parallel for schedule(static) if (y.numel() >= kParallelElements)
    for (int64_t p = 0; p < n * ho * wo; ++p) {
      const int64_t b = p / (ho * wo), o = p % (ho * wo);
      const float gx = gd[p * 2], gy = gd[p * 2 + 1];
      float sx = align_corners_ ? (gx + 1) / 2 * (w - 1) : ((gx + 1) * w - 1) / 2;
      float sy = align_corners_ ? (gy + 1) / 2 * (h - 1) : ((gy + 1) * h - 1) / 2;
      if (mode_ == SampleMode::kNearest) {
        sx = std::nearbyint(sx);
        sy = std::nearbyint(sy);
      }
      if (sx < x_lo || sx > x_hi || sy < y_lo || sy > y_hi) {
        if (padding_ == Padding::kBorder) {
          sx = std::clamp(sx, 0.f, w - 1.f);
          sy = std::clamp(sy, 0.f, h - 1.f);
        } else if (padding_ == Padding::kReflection) {
          sx = reflect(sx, x_lo, x_hi);
          sy = reflect(sy, y_lo, y_hi);
        }
      }
      if (std::isnan(sx) || std::isnan(sy)) {
        for (int64_t ch = 0; ch < c; ++ch) yd[(b * c + ch) * ho * wo + o] = std::nanf("");
        continue;
      }
      // Far outside only zeros can be read (taps reach 2 pixels): keeps the integer casts in range.
      sx = std::clamp(sx, x_lo - 4.f, x_hi + 4.f);
      sy = std::clamp(sy, y_lo - 4.f, y_hi + 4.f);
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* img = xd + (b * c + ch) * h * w;
        auto pixel = [&](int64_t r, int64_t col) -> float {
          if (padding_ == Padding::kZeros) return r >= 0 && r < h && col >= 0 && col < w ? img[r * w + col] : 0.f;
          if (padding_ == Padding::kBorder) {
            r = std::clamp<int64_t>(r, 0, h - 1);
            col = std::clamp<int64_t>(col, 0, w - 1);
          } else {
            r = std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<float>(r), y_lo, y_hi)), 0, h - 1);
            col = std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<float>(col), x_lo, x_hi)), 0, w - 1);
          }
          return img[r * w + col];
        };
        float v;
        if (mode_ == SampleMode::kNearest) {
          v = pixel(static_cast<int64_t>(sy), static_cast<int64_t>(sx));
        } else if (mode_ == SampleMode::kBilinear) {
          const float fx = std::floor(sx), fy = std::floor(sy);
          const int64_t x1 = static_cast<int64_t>(fx), y1 = static_cast<int64_t>(fy);
          const float dx = sx - fx, dy = sy - fy;
          v = (1 - dy) * ((1 - dx) * pixel(y1, x1) + dx * pixel(y1, x1 + 1)) +
              dy * ((1 - dx) * pixel(y1 + 1, x1) + dx * pixel(y1 + 1, x1 + 1));
        } else {
          const float fx = std::floor(sx), fy = std::floor(sy);
          const int64_t x0 = static_cast<int64_t>(fx) - 1, y0 = static_cast<int64_t>(fy) - 1;
          float cx[4], cy[4];
          cubic_coefficients(sx - fx, cx);
          cubic_coefficients(sy - fy, cy);
          v = 0.f;
          for (int i = 0; i < 4; ++i) {
            float row = 0.f;
            for (int j = 0; j < 4; ++j) row += cx[j] * pixel(y0 + i, x0 + j);
            v += cy[i] * row;
          }
        }
        yd[(b * c + ch) * ho * wo + o] = v;
      }
    }
  }

  std::string impl() const override {
    return "loop";
  }

 private:
  SampleMode mode_;
  Padding padding_;
  bool align_corners_;
};

}  // namespace

std::unique_ptr<Kernel> make_grid_sample(const Node& node, const Graph& graph) {
  const std::string where = graph.where(node);
  if (node.num_inputs() != 2) fail<ModelError>("{}: expects 2 inputs, got {}", where, node.num_inputs());
  const std::string mode = node.attr_string("mode", "bilinear");
  const std::string padding = node.attr_string("padding_mode", "zeros");
  SampleMode m;
  if (mode == "nearest") {
    m = SampleMode::kNearest;
  } else if (mode == "bilinear") {
    m = SampleMode::kBilinear;
  } else if (mode == "bicubic") {
    m = SampleMode::kBicubic;
  } else {
    fail<UnsupportedError>("{}: mode '{}' is not supported", where, mode);
  }
  Padding p;
  if (padding == "zeros") {
    p = Padding::kZeros;
  } else if (padding == "border") {
    p = Padding::kBorder;
  } else if (padding == "reflection") {
    p = Padding::kReflection;
  } else {
    fail<UnsupportedError>("{}: padding_mode '{}' is not supported", where, padding);
  }
  return std::make_unique<GridSampleKernel>(m, p, node.attr_int("align_corners", 0) != 0);
}

}  // namespace eff
