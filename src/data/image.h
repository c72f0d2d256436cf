// Image files (PNG, JPEG, BMP, GIF, TGA, PNM, ... whatever stb_image decodes) as model inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/preprocess.h"

namespace eff {

struct DecodedImage {
  int64_t height = 0, width = 0;
  int channels = 0;             // 1 (gray) or 3 (RGB); alpha is dropped
  std::vector<uint8_t> pixels;  // interleaved, row-major: height x width x channels
};

// Decodes the file. 16-bit images are reduced to 8 bits. DataError naming the file if it is
// missing, not an image stb_image understands, or too large.
DecodedImage decode_image(const std::string& path);

struct ImageInfo {
  int64_t height = 0, width = 0;
  int channels = 0;  // as stored in the file (1 to 4)
};
// Reads only the header.
ImageInfo probe_image(const std::string& path);

// decode_image + preprocess_pixels: float32 [C, H, W].
Tensor load_image(const std::string& path, const Preprocess& p);

}  // namespace eff
