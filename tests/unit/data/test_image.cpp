#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <filesystem>

#include "data/idx.h"
#include "data/image.h"
#include "data_test_util.h"

namespace eff {
namespace {

using testing::png_bytes;
using testing::ScratchDir;
using testing::write_bytes;

std::vector<float> values(const Tensor& t) {
  return t.to_f32_vector();
}

Preprocess raw_pixels(const std::string& order = "gray") {
  Preprocess p;
  p.scale = 1.0f;
  p.channel_order = order;
  return p;
}

TEST(Image, DecodesHandMadePngs) {
  ScratchDir dir;
  write_bytes(dir.file("gray.png"), png_bytes(2, 2, 1, {0, 255, 51, 102}));
  DecodedImage g = decode_image(dir.file("gray.png"));
  EXPECT_EQ(g.height, 2);
  EXPECT_EQ(g.width, 2);
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 255, 51, 102}));

  write_bytes(dir.file("rgba.png"), png_bytes(2, 1, 4, {10, 20, 30, 255, 40, 50, 60, 0}));
  DecodedImage c = decode_image(dir.file("rgba.png"));
  EXPECT_EQ(c.channels, 3);  // alpha dropped
  EXPECT_EQ(c.pixels, (std::vector<uint8_t>{10, 20, 30, 40, 50, 60}));

  ImageInfo info = probe_image(dir.file("rgba.png"));
  EXPECT_EQ(info.height, 1);
  EXPECT_EQ(info.width, 2);
  EXPECT_EQ(info.channels, 4);
}

TEST(Image, DecodesBmpAndJpeg) {
  ScratchDir dir;
  // A 2x1 24-bit BMP: 14-byte file header, 40-byte info header, then one bottom-up row of
  // B, G, R triples padded to 4 bytes. Pixels: red, blue.
  const std::string bmp = std::string("BM\x3e\0\0\0\0\0\0\0\x36\0\0\0", 14) +
                          std::string(
                              "\x28\0\0\0\x02\0\0\0\x01\0\0\0\x01\0\x18\0\0\0\0\0\x08\0\0\0"
                              "\x13\x0b\0\0\x13\x0b\0\0\0\0\0\0\0\0\0\0",
                              40) +
                          std::string("\0\0\xff\xff\0\0\0\0", 8);
  write_bytes(dir.file("two.bmp"), bmp);
  DecodedImage b = decode_image(dir.file("two.bmp"));
  EXPECT_EQ(b.width, 2);
  EXPECT_EQ(b.height, 1);
  EXPECT_EQ(b.pixels, (std::vector<uint8_t>{255, 0, 0, 0, 0, 255}));

  // A uniform JPEG from stb's encoder: lossy, but a flat colour survives within a step or two.
  const std::vector<uint8_t> flat = [] {
    std::vector<uint8_t> v;
    for (int i = 0; i < 64; ++i) v.insert(v.end(), {100, 150, 200});
    return v;
  }();
  ASSERT_NE(stbi_write_jpg(dir.file("flat.jpg").c_str(), 8, 8, 3, flat.data(), 100), 0);
  Tensor j = load_image(dir.file("flat.jpg"), raw_pixels("rgb"));
  ASSERT_EQ(j.shape(), (Shape{3, 8, 8}));
  const std::vector<float> v = values(j);
  for (int i = 0; i < 64; ++i) {
    EXPECT_NEAR(v[i], 100, 2);
    EXPECT_NEAR(v[64 + i], 150, 2);
    EXPECT_NEAR(v[128 + i], 200, 2);
  }
}

TEST(Image, ScalesAndNormalisesToChw) {
  ScratchDir dir;
  write_bytes(dir.file("gray.png"), png_bytes(2, 2, 1, {0, 255, 51, 102}));
  Preprocess p;
  p.scale = 1.0f / 255.0f;
  p.mean = {0.5f};
  p.std = {0.25f};
  Tensor t = load_image(dir.file("gray.png"), p);
  ASSERT_EQ(t.shape(), (Shape{1, 2, 2}));
  // (v / 255 - 0.5) / 0.25: 0 -> -2, 255 -> 2, 51 -> -1.2, 102 -> -0.4.
  // (Exact up to float32 rounding of 1/255; bit-exactness is checked against numpy in test_dataset.)
  const std::vector<float> v = values(t);
  EXPECT_NEAR(v[0], -2.0f, 1e-6);
  EXPECT_NEAR(v[1], 2.0f, 1e-6);
  EXPECT_NEAR(v[2], -1.2f, 1e-6);
  EXPECT_NEAR(v[3], -0.4f, 1e-6);
}

TEST(Image, ConvertsChannelOrders) {
  ScratchDir dir;
  // Pure red, green, blue: PIL's "L" conversion gives 76, 150, 29.
  write_bytes(dir.file("rgb.png"), png_bytes(3, 1, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255}));
  EXPECT_EQ(values(load_image(dir.file("rgb.png"), raw_pixels("gray"))), (std::vector<float>{76, 150, 29}));
  // CHW: channel planes one after another.
  EXPECT_EQ(values(load_image(dir.file("rgb.png"), raw_pixels("rgb"))),
            (std::vector<float>{255, 0, 0, 0, 255, 0, 0, 0, 255}));
  EXPECT_EQ(values(load_image(dir.file("rgb.png"), raw_pixels("bgr"))),
            (std::vector<float>{0, 0, 255, 0, 255, 0, 255, 0, 0}));
  // Gray to colour repeats the value.
  write_bytes(dir.file("gray.png"), png_bytes(2, 1, 1, {7, 9}));
  EXPECT_EQ(values(load_image(dir.file("gray.png"), raw_pixels("rgb"))), (std::vector<float>{7, 9, 7, 9, 7, 9}));
}

TEST(Image, PerChannelMeanAndStd) {
  ScratchDir dir;
  write_bytes(dir.file("rgb.png"), png_bytes(1, 1, 3, {10, 20, 30}));
  Preprocess p = raw_pixels("rgb");
  p.mean = {10, 10, 10};
  p.std = {1, 2, 4};
  EXPECT_EQ(values(load_image(dir.file("rgb.png"), p)), (std::vector<float>{0, 5, 5}));
}

TEST(Image, ResizesBilinearly) {
  ScratchDir dir;
  // Upsampling 1x2 -> 1x4: output pixel centres fall at input x = -0.25, 0.25, 0.75, 1.25;
  // linear interpolation with the edge pixels repeated gives 0, 50, 150, 200.
  write_bytes(dir.file("two.png"), png_bytes(2, 1, 1, {0, 200}));
  Preprocess up = raw_pixels();
  up.resize_h = 1;
  up.resize_w = 4;
  Tensor u = load_image(dir.file("two.png"), up);
  ASSERT_EQ(u.shape(), (Shape{1, 1, 4}));
  const float want_up[] = {0, 50, 150, 200};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(values(u)[i], want_up[i], 1e-3) << i;

  // Downsampling 1x4 -> 1x2: the tent is widened to 2 input pixels each side; around centre 1.0
  // the weights of pixels -1, 0, 1, 2 are 1/8, 3/8, 3/8, 1/8 (pixel -1 repeats pixel 0), so
  // [0, 80, 160, 240] -> [4/8*0 + 3/8*80 + 1/8*160, 1/8*80 + 3/8*160 + 4/8*240] = [50, 190].
  write_bytes(dir.file("four.png"), png_bytes(4, 1, 1, {0, 80, 160, 240}));
  Preprocess down = raw_pixels();
  down.resize_h = 1;
  down.resize_w = 2;
  Tensor d = load_image(dir.file("four.png"), down);
  ASSERT_EQ(d.shape(), (Shape{1, 1, 2}));
  EXPECT_NEAR(values(d)[0], 50, 1e-3);
  EXPECT_NEAR(values(d)[1], 190, 1e-3);

  // 2x2 -> 1x1 averages.
  write_bytes(dir.file("sq.png"), png_bytes(2, 2, 1, {0, 40, 80, 120}));
  Preprocess one = raw_pixels();
  one.resize_h = one.resize_w = 1;
  EXPECT_NEAR(values(load_image(dir.file("sq.png"), one))[0], 60, 1e-3);
}

TEST(Image, ResizesShorterSideKeepingAspect) {
  ScratchDir dir;
  write_bytes(dir.file("wide.png"), png_bytes(5, 2, 1, std::vector<uint8_t>(10, 100)));
  Preprocess p = raw_pixels();
  p.resize_shorter = 4;  // 2x5 -> 4x10
  Tensor t = load_image(dir.file("wide.png"), p);
  EXPECT_EQ(t.shape(), (Shape{1, 4, 10}));
  for (float v : values(t)) EXPECT_NEAR(v, 100, 1e-3);
  p.resize_shorter = 3;  // 2x5 -> 3x7 (7.5 truncated, as torchvision does)
  EXPECT_EQ(load_image(dir.file("wide.png"), p).shape(), (Shape{1, 3, 7}));
  EXPECT_EQ(preprocessed_shape(5, 2, p), (Shape{1, 7, 3}));
}

TEST(Image, CentreCrops) {
  ScratchDir dir;
  write_bytes(dir.file("row.png"), png_bytes(5, 1, 1, {10, 20, 30, 40, 50}));
  Preprocess p = raw_pixels();
  p.crop_h = 1;
  p.crop_w = 3;
  EXPECT_EQ(values(load_image(dir.file("row.png"), p)), (std::vector<float>{20, 30, 40}));
  // A margin of 3 splits as round(1.5) = 2 on the left, like torchvision.
  write_bytes(dir.file("row4.png"), png_bytes(4, 1, 1, {10, 20, 30, 40}));
  p.crop_w = 1;
  EXPECT_EQ(values(load_image(dir.file("row4.png"), p)), (std::vector<float>{30}));
  // 3x3 -> centre pixel, after a resize that keeps the size.
  write_bytes(dir.file("sq.png"), png_bytes(3, 3, 1, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  p.crop_h = p.crop_w = 1;
  p.resize_h = p.resize_w = 3;
  EXPECT_EQ(values(load_image(dir.file("sq.png"), p)), (std::vector<float>{5}));
  // Larger than the image.
  p.crop_h = p.crop_w = 4;
  p.resize_h = p.resize_w = 0;
  try {
    load_image(dir.file("sq.png"), p);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("sq.png: the image is 3x3 after resizing, smaller than the 4x4 crop"),
              std::string::npos)
        << e.what();
  }
}

TEST(Image, RefusesNonImages) {
  ScratchDir dir;
  write_bytes(dir.file("notes.png"), "this is not a PNG");
  std::string png = png_bytes(2, 2, 1, {1, 2, 3, 4});
  write_bytes(dir.file("cut.png"), png.substr(0, png.size() - 20));
  for (const char* name : {"notes.png", "cut.png", "missing.png"}) {
    try {
      load_image(dir.file(name), Preprocess{});
      ADD_FAILURE() << name << ": no error";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(dir.file(name) + ": ", 0), 0u) << e.what();
    }
  }
  EXPECT_THROW(probe_image(dir.file("notes.png")), DataError);
}

TEST(Image, ShippedSamplePngMatchesTheIdxPixels) {
  // models/images/0000_ankle_boot.png holds Fashion-MNIST test image 0 (tools/make_sample_images.py).
  const std::string png = std::string(EFF_SOURCE_DIR) + "/models/images/0000_ankle_boot.png";
  const std::string idx = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(png) || !std::filesystem::exists(idx)) GTEST_SKIP() << "files absent";
  DecodedImage img = decode_image(png);
  Tensor all = read_idx(idx);
  ASSERT_EQ(img.height, 28);
  ASSERT_EQ(img.width, 28);
  ASSERT_EQ(img.channels, 1);
  EXPECT_EQ(img.pixels, std::vector<uint8_t>(all.data<uint8_t>(), all.data<uint8_t>() + 28 * 28));
}

}  // namespace
}  // namespace eff
