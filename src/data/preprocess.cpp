#include "data/preprocess.h"

#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

namespace eff {

namespace {

// Generous for any real model input, small enough that a typo cannot ask for gigabytes.
constexpr int64_t kMaxSide = 16384;

using json = nlohmann::json;

float json_float(const json& v, const std::string& source, const std::string& key) {
  if (!v.is_number()) fail<ConfigError>("{}: '{}' must be a number (got {})", source, key, v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail<ConfigError>("{}: '{}' must be finite", source, key);
  return static_cast<float>(d);
}

std::vector<float> json_floats(const json& v, const std::string& source, const std::string& key) {
  if (v.is_number()) return {json_float(v, source, key)};
  if (!v.is_array()) fail<ConfigError>("{}: '{}' must be a number or a list of numbers", source, key);
  std::vector<float> out;
  for (const json& x : v) out.push_back(json_float(x, source, key));
  return out;
}

// [H, W] -> {H, W}; S or [S] -> {S} (meaning depends on the key).
std::vector<int64_t> json_sizes(const json& v, const std::string& source, const std::string& key) {
  std::vector<int64_t> out;
  auto one = [&](const json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > kMaxSide) {
      fail<ConfigError>("{}: '{}' sizes must be integers in 1..{} (got {})", source, key, kMaxSide, x.dump());
    }
    out.push_back(x.get<int64_t>());
  };
  if (v.is_array()) {
    if (v.empty() || v.size() > 2) fail<ConfigError>("{}: '{}' must be S, [S] or [H, W]", source, key);
    for (const json& x : v) one(x);
  } else {
    one(v);
  }
  return out;
}

}  // namespace

void Preprocess::validate(const std::string& source) const {
  if (channel_order != "gray" && channel_order != "rgb" && channel_order != "bgr") {
    fail<ConfigError>("{}: 'channel_order' must be gray, rgb or bgr (got '{}')", source, channel_order);
  }
  if (!std::isfinite(scale) || scale <= 0) fail<ConfigError>("{}: 'scale' must be positive (got {})", source, scale);
  const size_t c = static_cast<size_t>(channels());
  if (mean.size() > 1 && mean.size() != c) {
    fail<ConfigError>("{}: 'mean' has {} values; channel_order {} needs {}", source, mean.size(), channel_order,
                      c == 1 ? std::string("1") : fmt::format("1 or {}", c));
  }
  if (std.size() > 1 && std.size() != c) {
    fail<ConfigError>("{}: 'std' has {} values; channel_order {} needs {}", source, std.size(), channel_order,
                      c == 1 ? std::string("1") : fmt::format("1 or {}", c));
  }
  for (float m : mean) {
    if (!std::isfinite(m)) fail<ConfigError>("{}: 'mean' values must be finite", source);
  }
  for (float s : std) {
    if (!std::isfinite(s) || s == 0) fail<ConfigError>("{}: 'std' values must be finite and non-zero", source);
  }
  auto check_pair = [&](int64_t h, int64_t w, const char* key) {
    if ((h == 0) != (w == 0) || h < 0 || w < 0 || h > kMaxSide || w > kMaxSide) {
      fail<ConfigError>("{}: '{}' size {}x{} is invalid (both 1..{}, or both 0 for none)", source, key, h, w, kMaxSide);
    }
  };
  check_pair(resize_h, resize_w, "resize");
  check_pair(crop_h, crop_w, "crop");
  if (resize_shorter < 0 || resize_shorter > kMaxSide) {
    fail<ConfigError>("{}: 'resize' shorter side {} is outside 1..{}", source, resize_shorter, kMaxSide);
  }
  if (resize_shorter != 0 && resize_h != 0) {
    fail<ConfigError>("{}: give 'resize' as a shorter side or as [H, W], not both", source);
  }
}

Preprocess preprocess_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) fail<ConfigError>("{}: must be a JSON object (got {})", source, j.type_name());
  Preprocess p;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "scale") {
      p.scale = json_float(v, source, key);
    } else if (key == "mean") {
      p.mean = json_floats(v, source, key);
    } else if (key == "std") {
      p.std = json_floats(v, source, key);
    } else if (key == "channel_order") {
      if (!v.is_string()) fail<ConfigError>("{}: 'channel_order' must be a string", source);
      p.channel_order = v.get<std::string>();
    } else if (key == "resize") {
      std::vector<int64_t> s = json_sizes(v, source, key);
      if (s.size() == 2) {
        p.resize_h = s[0];
        p.resize_w = s[1];
      } else {
        p.resize_shorter = s[0];
      }
    } else if (key == "crop") {
      std::vector<int64_t> s = json_sizes(v, source, key);
      p.crop_h = s[0];
      p.crop_w = s.back();
    } else {
      fail<ConfigError>("{}: unknown key '{}' (known: scale, mean, std, channel_order, resize, crop)", source, key);
    }
  }
  p.validate(source);
  return p;
}

namespace {

struct Size2 {
  int64_t h, w;
};

Size2 resized_size(int64_t h, int64_t w, const Preprocess& p) {
  if (p.resize_h) return {p.resize_h, p.resize_w};
  if (p.resize_shorter && h > 0 && w > 0) {
    // torchvision's rule: the longer side is truncated, not rounded.
    if (h <= w) return {p.resize_shorter, std::max<int64_t>(1, p.resize_shorter * w / h)};
    return {std::max<int64_t>(1, p.resize_shorter * h / w), p.resize_shorter};
  }
  return {h, w};
}

// Python references compute (x * scale - mean) / std with a rounding after each step; a fused
// multiply-add would round once and differ in the last bit, so contraction is off here.
#if defined(__clang__)
void normalise_row(const float* src, int stride, int64_t n, float scale, float mean, float stdev, float* dst) {
#pragma clang fp contract(off)
  for (int64_t x = 0; x < n; ++x) dst[x] = (src[x * stride] * scale - mean) / stdev;
}
#else
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
void normalise_row(const float* src, int stride, int64_t n, float scale, float mean, float stdev, float* dst) {
  for (int64_t x = 0; x < n; ++x) dst[x] = (src[x * stride] * scale - mean) / stdev;
}
#pragma GCC pop_options
#endif

}  // namespace

Shape preprocessed_shape(int64_t height, int64_t width, const Preprocess& p) {
  Size2 s = resized_size(height, width, p);
  if (p.crop_h) s = {p.crop_h, p.crop_w};
  return {p.channels(), s.h, s.w};
}

Tensor preprocess_pixels(const uint8_t* pixels, int64_t height, int64_t width, int channels, const Preprocess& p,
                         const std::string& name) {
  p.validate(name + ": preprocessing");
  if (channels != 1 && channels != 3) fail<DataError>("{}: {} channels; expected 1 (gray) or 3 (RGB)", name, channels);
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide) {
    fail<DataError>("{}: image size {}x{} is outside 1..{}", name, height, width, kMaxSide);
  }
  const int c_out = p.channels();
  const size_t n_pixels = static_cast<size_t>(height * width);
  const Size2 rs = resized_size(height, width, p);
  if (rs.h > kMaxSide || rs.w > kMaxSide) {
    fail<DataError>("{}: resizing {}x{} to a shorter side of {} gives {}x{}, over the {} pixel limit", name, height,
                    width, p.resize_shorter, rs.h, rs.w, kMaxSide);
  }
  const size_t work_bytes = std::max(n_pixels, static_cast<size_t>(rs.h * rs.w)) * c_out * sizeof(float);
  if (work_bytes > max_tensor_bytes()) {
    fail<DataError>("{}: a {}x{} image needs {} bytes to preprocess, more than the {} byte limit", name, height, width,
                    work_bytes, max_tensor_bytes());
  }

  // 1. Channel conversion, into float HWC holding 0..255.
  std::vector<float> hwc(n_pixels * c_out);
  for (size_t i = 0; i < n_pixels; ++i) {
    const uint8_t* px = pixels + i * channels;
    float* out = hwc.data() + i * c_out;
    if (c_out == 1) {
      // PIL's ITU-R 601-2 luma (Image.convert("L")), the conversion torchvision pipelines use.
      out[0] =
          channels == 1 ? px[0] : static_cast<float>((px[0] * 19595u + px[1] * 38470u + px[2] * 7471u + 0x8000u) >> 16);
    } else if (channels == 1) {
      out[0] = out[1] = out[2] = px[0];
    } else if (p.channel_order == "rgb") {
      out[0] = px[0], out[1] = px[1], out[2] = px[2];
    } else {
      out[0] = px[2], out[1] = px[1], out[2] = px[0];
    }
  }

  // 2. Resize with a triangle (tent) filter: plain bilinear interpolation when enlarging; when
  //    shrinking the tent is widened by the factor so it averages (antialiasing, as PIL's
  //    BILINEAR does). Border pixels are repeated past the edge. Skipped when the size does not
  //    change, so unresized inputs stay exact.
  int64_t h = height, w = width;
  if (rs.h != h || rs.w != w) {
    std::vector<float> out(static_cast<size_t>(rs.h * rs.w) * c_out);
    const int ok =
        stbir_resize_float_generic(hwc.data(), static_cast<int>(w), static_cast<int>(h), 0, out.data(),
                                   static_cast<int>(rs.w), static_cast<int>(rs.h), 0, c_out, STBIR_ALPHA_CHANNEL_NONE,
                                   0, STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr);
    if (!ok) fail<DataError>("{}: cannot resize {}x{} to {}x{}", name, h, w, rs.h, rs.w);
    hwc = std::move(out);
    h = rs.h;
    w = rs.w;
  }

  // 3. Centre crop (torchvision's offsets: round half to even of the margin / 2).
  int64_t top = 0, left = 0, out_h = h, out_w = w;
  if (p.crop_h) {
    if (p.crop_h > h || p.crop_w > w) {
      fail<DataError>("{}: the image is {}x{} after resizing, smaller than the {}x{} crop", name, h, w, p.crop_h,
                      p.crop_w);
    }
    top = static_cast<int64_t>(std::nearbyint((h - p.crop_h) / 2.0));
    left = static_cast<int64_t>(std::nearbyint((w - p.crop_w) / 2.0));
    out_h = p.crop_h;
    out_w = p.crop_w;
  }

  // 4. Scale and normalise, to CHW.
  Tensor t(DType::kFloat32, {c_out, out_h, out_w});
  float* dst = t.data<float>();
  for (int c = 0; c < c_out; ++c) {
    const float mean = p.mean.empty() ? 0.0f : p.mean[p.mean.size() == 1 ? 0 : c];
    const float stdev = p.std.empty() ? 1.0f : p.std[p.std.size() == 1 ? 0 : c];
    for (int64_t y = 0; y < out_h; ++y) {
      const float* row = hwc.data() + ((y + top) * w + left) * c_out + c;
      float* out = dst + (c * out_h + y) * out_w;
      normalise_row(row, c_out, out_w, p.scale, mean, stdev, out);
    }
  }
  return t;
}

}  // namespace eff
