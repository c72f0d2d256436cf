#include "data/image.h"

// Debian's libstb.so carries the implementations: no STB_IMAGE_IMPLEMENTATION here.
#include <stb/stb_image.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

#include "core/fs.h"

namespace eff {

namespace {

struct StbiFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

const char* stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown reason";
}

int to_int_size(size_t n, const std::string& path) {
  if (n > static_cast<size_t>(INT32_MAX)) fail<DataError>("{}: {} bytes is too large for an image", path, n);
  return static_cast<int>(n);
}

}  // namespace

DecodedImage decode_image(const std::string& path) {
  const std::string bytes = read_file(path, std::min<size_t>(max_tensor_bytes(), INT32_MAX));
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = to_int_size(bytes.size(), path);
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp)) {
    fail<DataError>("{}: not a readable image ({})", path, stb_reason());
  }
  // Refuse decompression bombs before stb allocates the pixels.
  const uint64_t want = uint64_t(w) * uint64_t(h) * 3 * sizeof(float);
  if (w < 1 || h < 1 || want > max_tensor_bytes()) {
    fail<DataError>("{}: image of {}x{} pixels is too large (limit {} bytes)", path, w, h, max_tensor_bytes());
  }
  const int req = comp <= 2 ? 1 : 3;  // gray(+alpha) -> gray, RGB(A) -> RGB
  int dw = 0, dh = 0, dc = 0;
  std::unique_ptr<stbi_uc, StbiFree> pixels(stbi_load_from_memory(data, len, &dw, &dh, &dc, req));
  if (!pixels) fail<DataError>("{}: cannot decode image: {}", path, stb_reason());
  DecodedImage img;
  img.height = dh;
  img.width = dw;
  img.channels = req;
  img.pixels.assign(pixels.get(), pixels.get() + size_t(dw) * size_t(dh) * size_t(req));
  return img;
}

ImageInfo probe_image(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail<DataError>("{}: {}", path, errno == ENOENT ? "no such file" : std::strerror(errno));
  int w = 0, h = 0, comp = 0;
  const int ok = stbi_info_from_file(f, &w, &h, &comp);
  std::fclose(f);
  if (!ok) fail<DataError>("{}: not a readable image ({})", path, stb_reason());
  return {h, w, comp};
}

Tensor load_image(const std::string& path, const Preprocess& p) {
  DecodedImage img = decode_image(path);
  return preprocess_pixels(img.pixels.data(), img.height, img.width, img.channels, p, path);
}

}  // namespace eff
