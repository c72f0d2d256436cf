// How raw pixels become a model's input: the "preprocessing" object of a model's sidecar JSON,
//   {"scale": 0.00392156862745098, "mean": [0.2860], "std": [0.3530], "channel_order": "gray",
//    "resize": [28, 28], "crop": [24, 24]}
// applied in this order: convert channels, resize, centre-crop, then per channel
//   value = (pixel * scale - mean[c]) / std[c]
// in float32, the order numpy/torchvision use, so inputs match references bit for bit.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace eff {

struct Preprocess {
  float scale = 1.0f / 255.0f;
  // Empty: no normalisation; one value: every channel; otherwise one per channel.
  std::vector<float> mean, std;
  std::string channel_order = "gray";  // "gray", "rgb" or "bgr"
  // Exact output size ("resize": [H, W]); 0 = none.
  int64_t resize_h = 0, resize_w = 0;
  // Shorter side to this, keeping the aspect ratio ("resize": S); 0 = none.
  int64_t resize_shorter = 0;
  // Centre crop after resizing ("crop": [H, W] or S); 0 = none.
  int64_t crop_h = 0, crop_w = 0;

  int channels() const { return channel_order == "gray" ? 1 : 3; }
  // Throws ConfigError, prefixed by `source`, if the fields are inconsistent.
  void validate(const std::string& source) const;
};

// Unknown keys and ill-typed values are ConfigErrors naming the key; `source` (e.g. the sidecar
// file) prefixes messages.
Preprocess preprocess_from_json(const nlohmann::json& j, const std::string& source = "preprocessing");

// The {C, H, W} an image of `height` x `width` pixels has after preprocessing.
Shape preprocessed_shape(int64_t height, int64_t width, const Preprocess& p);

// Interleaved (HWC) 8-bit pixels with 1 (gray) or 3 (RGB) channels -> float32 [C, H, W].
// `name` (the image's file) prefixes errors, e.g. an image smaller than the crop.
Tensor preprocess_pixels(const uint8_t* pixels, int64_t height, int64_t width, int channels, const Preprocess& p,
                         const std::string& name);

}  // namespace eff
