#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "data/idx.h"
#include "data_test_util.h"

namespace eff {
namespace {

using testing::idx_bytes;
using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;
using testing::write_gzip;

std::string error_of(const std::string& path) {
  try {
    read_idx(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

// Two 2x3 "images" with pixel values 1..12.
const std::string kPixels = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";

void expect_tiny_images(const Tensor& t) {
  ASSERT_EQ(t.dtype(), DType::kUInt8);
  ASSERT_EQ(t.shape(), (Shape{2, 2, 3}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(t.data<uint8_t>()[i], i + 1);
}

TEST(Idx, ReadsPlainAndGzippedFiles) {
  ScratchDir dir;
  const std::string bytes = idx_bytes(0x08, {2, 2, 3}, kPixels);
  ASSERT_EQ(bytes.substr(0, 8), std::string("\x00\x00\x08\x03\x00\x00\x00\x02", 8));
  write_bytes(dir.file("images"), bytes);
  write_gzip(dir.file("images.gz"), bytes);
  // Compression is detected from the content, whatever the name says.
  write_gzip(dir.file("gzipped-without-suffix"), bytes);
  write_bytes(dir.file("plain.gz"), bytes);
  for (const char* name : {"images", "images.gz", "gzipped-without-suffix", "plain.gz"}) {
    SCOPED_TRACE(name);
    expect_tiny_images(read_idx(dir.file(name)));
  }
  write_gzip(dir.file("labels.gz"), idx_bytes(0x08, {2}, "\x07\x09"));
  Tensor labels = read_idx(dir.file("labels.gz"));
  ASSERT_EQ(labels.shape(), (Shape{2}));
  EXPECT_EQ(labels.data<uint8_t>()[0], 7);
  EXPECT_EQ(labels.data<uint8_t>()[1], 9);
}

TEST(Idx, ReadsWiderBigEndianTypes) {
  ScratchDir dir;
  // int16 -2 = fffe, 300 = 012c; float32 1.0 = 3f800000, -2.5 = c0200000.
  write_bytes(dir.file("i16"), idx_bytes(0x0B, {2}, std::string("\xff\xfe\x01\x2c", 4)));
  Tensor a = read_idx(dir.file("i16"));
  ASSERT_EQ(a.dtype(), DType::kInt16);
  EXPECT_EQ(a.data<int16_t>()[0], -2);
  EXPECT_EQ(a.data<int16_t>()[1], 300);
  write_bytes(dir.file("f32"), idx_bytes(0x0D, {1, 2}, std::string("\x3f\x80\x00\x00\xc0\x20\x00\x00", 8)));
  Tensor b = read_idx(dir.file("f32"));
  ASSERT_EQ(b.dtype(), DType::kFloat32);
  EXPECT_EQ(b.shape(), (Shape{1, 2}));
  EXPECT_EQ(b.data<float>()[0], 1.0f);
  EXPECT_EQ(b.data<float>()[1], -2.5f);
}

TEST(Idx, RefusesMalformedFiles) {
  ScratchDir dir;
  const std::string good = idx_bytes(0x08, {2, 2, 3}, kPixels);
  struct Case {
    std::string name, bytes, expect;
  };
  const Case cases[] = {
      {"short", good.substr(0, 3), "no 4-byte magic"},
      {"magic", std::string("\x01\x00\x08\x01", 4).append(good, 4), "not an IDX file"},
      {"type", idx_bytes(0x0A, {2}, "ab"), "unknown IDX element type 0x0a"},
      {"rank0", std::string("\x00\x00\x08\x00", 4), "rank 0"},
      {"dims", good.substr(0, 10), "header of rank 3 is cut off"},
      {"truncated", good.substr(0, good.size() - 1), "need 12 data bytes, the file has 11"},
      {"trailing", good + "x", "need 12 data bytes, the file has 13"},
      {"huge", idx_bytes(0x08, {60000, 60000, 60000}, ""), "need 216000000000000 data bytes"},
  };
  for (const Case& c : cases) {
    write_bytes(dir.file(c.name), c.bytes);
    const std::string err = error_of(dir.file(c.name));
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.name << ": " << err;
    EXPECT_EQ(err.rfind(dir.file(c.name) + ": ", 0), 0u) << err;
  }
  EXPECT_EQ(error_of(dir.file("missing")), dir.file("missing") + ": no such file");
  EXPECT_NE(error_of(dir.path().string()).find("is a directory"), std::string::npos);
}

TEST(Idx, RefusesMalformedGzipFiles) {
  ScratchDir dir;
  const std::string good = idx_bytes(0x08, {2, 2, 3}, kPixels);
  write_gzip(dir.file("truncated.gz"), good.substr(0, good.size() - 2));
  EXPECT_NE(error_of(dir.file("truncated.gz")).find("need 12 data bytes, found 10"), std::string::npos);
  write_gzip(dir.file("trailing.gz"), good + "xy");
  EXPECT_NE(error_of(dir.file("trailing.gz")).find("unexpected bytes after"), std::string::npos);
  // A tiny gzip file cannot hold the terabytes its header claims: refused before allocating.
  write_gzip(dir.file("bomb.gz"), idx_bytes(0x08, {100000, 100000, 1000}, ""));
  EXPECT_NE(error_of(dir.file("bomb.gz")).find("more than a"), std::string::npos) << error_of(dir.file("bomb.gz"));
  // A cut-off compressed stream.
  write_gzip(dir.file("whole.gz"), good);
  const std::string z = read_bytes(dir.file("whole.gz"));
  write_bytes(dir.file("cut.gz"), z.substr(0, z.size() / 2));
  EXPECT_NE(error_of(dir.file("cut.gz")).find(dir.file("cut.gz") + ": "), std::string::npos);
  // Corrupt deflate data.
  std::string bad = z;
  for (size_t i = 12; i < bad.size() - 8; ++i) bad[i] = static_cast<char>(0xff);
  write_bytes(dir.file("corrupt.gz"), bad);
  EXPECT_NE(error_of(dir.file("corrupt.gz")).find(dir.file("corrupt.gz") + ": "), std::string::npos);
}

TEST(Idx, ReadsTheFashionMnistTestSet) {
  const char* env = std::getenv("EFFECTUAL_FASHION_MNIST_DIR");
  const std::string dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is absent";
  Tensor images = read_idx(dir + "/t10k-images-idx3-ubyte.gz");
  Tensor labels = read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(images.dtype(), DType::kUInt8);
  EXPECT_EQ(images.shape(), (Shape{10000, 28, 28}));
  ASSERT_EQ(labels.shape(), (Shape{10000}));
  EXPECT_EQ(labels.data<uint8_t>()[0], 9);  // ankle boot
  EXPECT_EQ(labels.data<uint8_t>()[1], 2);  // pullover
  // Ten classes, 1000 test images each (the data set's documented balance).
  int counts[10] = {};
  for (int i = 0; i < 10000; ++i) {
    ASSERT_LT(labels.data<uint8_t>()[i], 10);
    counts[labels.data<uint8_t>()[i]]++;
  }
  for (int c : counts) EXPECT_EQ(c, 1000);
}

}  // namespace
}  // namespace eff
