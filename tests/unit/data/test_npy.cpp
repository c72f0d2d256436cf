#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/fs.h"
#include "data/npy.h"
#include "data_test_util.h"

namespace eff {
namespace {

using testing::read_bytes;
using testing::ScratchDir;
using testing::write_bytes;

// A format 1.0 file as numpy 1.24 writes it: the header dict padded with spaces to 117 bytes
// plus '\n', so the data starts at byte 128 (bytes checked against np.save output).
std::string numpy_v1(const std::string& dict, const std::string& data) {
  std::string header = dict + std::string(117 - dict.size(), ' ') + "\n";
  return std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header + data;
}

// Any version, with a caller-chosen header (no padding rules enforced).
std::string npy_with_header(int major, const std::string& header, const std::string& data) {
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  const size_t len = header.size();
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string error_of(std::string_view bytes) {
  try {
    parse_npy(bytes, "t.npy");
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Npy, ParsesNumpyWrittenInt16) {
  // np.save(np.array([1, -2, 300], dtype='<i2'))
  const std::string file =
      numpy_v1("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", std::string("\x01\x00\xfe\xff\x2c\x01", 6));
  Tensor t = parse_npy(file, "t.npy");
  ASSERT_EQ(t.dtype(), DType::kInt16);
  ASSERT_EQ(t.shape(), (Shape{3}));
  EXPECT_EQ(t.data<int16_t>()[0], 1);
  EXPECT_EQ(t.data<int16_t>()[1], -2);
  EXPECT_EQ(t.data<int16_t>()[2], 300);
  // And encode_npy reproduces numpy's bytes exactly.
  EXPECT_EQ(encode_npy(t), file);
}

TEST(Npy, EncodesLikeNumpy) {
  // np.save(np.array([[True, False], [False, True]])), np.save(np.float32(1.5)),
  // np.save(np.zeros((0, 3))): byte-for-byte what numpy 1.24 wrote.
  EXPECT_EQ(encode_npy(Tensor::from<bool>({2, 2}, {true, false, false, true})),
            numpy_v1("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", std::string("\x01\0\0\x01", 4)));
  EXPECT_EQ(encode_npy(Tensor::scalar<float>(1.5f)),
            numpy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", std::string("\0\0\xc0\x3f", 4)));
  EXPECT_EQ(encode_npy(Tensor(DType::kFloat64, {0, 3})),
            numpy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", ""));
}

TEST(Npy, MatchesFilesNumpyWroteInTheRepository) {
  // models/*.ref/{input,labels}.npy were written by numpy (tools/make_refs.sh).
  const std::string dir = std::string(EFF_SOURCE_DIR) + "/models/lenet5.ref/";
  if (!std::filesystem::exists(dir + "input.npy")) GTEST_SKIP() << "no reference files";
  for (const char* name : {"input.npy", "labels.npy"}) {
    const std::string bytes = read_bytes(dir + name);
    Tensor t = read_npy(dir + name);
    EXPECT_EQ(encode_npy(t), bytes) << name;
  }
  Tensor x = read_npy(dir + "input.npy");
  EXPECT_EQ(x.dtype(), DType::kFloat32);
  EXPECT_EQ(x.shape(), (Shape{8, 1, 28, 28}));
  Tensor y = read_npy(dir + "labels.npy");
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.data<int64_t>()[0], 9);  // the first Fashion-MNIST test image is an ankle boot
}

TEST(Npy, RoundTripsEveryDType) {
  ScratchDir dir;
  std::vector<Tensor> tensors = {
      Tensor::from<float>({2, 3}, {1.5f, -2.0f, 0.0f, 1e-30f, 3e38f, -0.25f}),
      Tensor::from<double>({3}, {1e300, -1e-300, 0.1}),
      Tensor::from<int64_t>({2}, {int64_t{1} << 62, -5}),
      Tensor::from<int32_t>({1, 1, 2}, {-2147483647 - 1, 2147483647}),
      Tensor::from<int16_t>({2}, {-32768, 32767}),
      Tensor::from<int8_t>({3}, {-128, 0, 127}),
      Tensor::from<uint8_t>({2, 2}, {0, 1, 254, 255}),
      Tensor::from<bool>({3}, {true, false, true}),
      Tensor::scalar<int64_t>(42),
      Tensor(DType::kFloat32, {4, 0, 2}),
  };
  Tensor half(DType::kFloat16, {3});
  const uint16_t half_bits[] = {0x3c00, 0xc000, 0x7bff};  // 1, -2, 65504
  std::memcpy(half.raw(), half_bits, sizeof half_bits);
  tensors.push_back(half);

  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    SCOPED_TRACE(std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()));
    const std::string path = dir.file("t" + std::to_string(i) + ".npy");
    write_npy(path, t);
    const std::string bytes = read_bytes(path);
    EXPECT_EQ(bytes.size() - t.nbytes(), 128u);  // data 64-byte aligned, as numpy does
    for (const Tensor& back : {read_npy(path), parse_npy(bytes, path)}) {
      EXPECT_EQ(back.dtype(), t.dtype());
      EXPECT_EQ(back.shape(), t.shape());
      ASSERT_EQ(back.nbytes(), t.nbytes());
      EXPECT_EQ(std::memcmp(back.raw(), t.raw(), t.nbytes()), 0);
    }
  }
  // write_npy is atomic: nothing but the finished files is left behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().extension(), ".npy") << e.path();
    ++files;
  }
  EXPECT_EQ(files, tensors.size());
}

TEST(Npy, ConvertsBigEndian) {
  // 1.0f = 3f800000, -2.5f = c0200000, stored most significant byte first.
  Tensor t = parse_npy(numpy_v1("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                std::string("\x3f\x80\x00\x00\xc0\x20\x00\x00", 8)),
                       "t.npy");
  ASSERT_EQ(t.dtype(), DType::kFloat32);
  EXPECT_EQ(t.data<float>()[0], 1.0f);
  EXPECT_EQ(t.data<float>()[1], -2.5f);
  Tensor i = parse_npy(numpy_v1("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }",
                                std::string("\x00\x00\x00\x00\x00\x00\x01\x02", 8)),
                       "t.npy");
  EXPECT_EQ(i.data<int64_t>()[0], 258);
}

TEST(Npy, AcceptsHeaderVariantsNumpyAccepts) {
  const std::string data("\x07\x00\x00\x00\x08\x00\x00\x00", 8);
  // Double quotes, other key order, no trailing comma, extra spaces, Python 2 longs, versions 2.0 and 3.0.
  for (const std::string& bytes : {
           numpy_v1("{\"shape\": (2,), \"descr\": \"<i4\", \"fortran_order\": False}", data),
           numpy_v1("{ 'descr' : '<i4' , 'fortran_order' : False , 'shape' : ( 2 , ) , }", data),
           numpy_v1("{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }", data),
           npy_with_header(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", data),
           npy_with_header(3, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }\n", data),
       }) {
    Tensor t = parse_npy(bytes, "t.npy");
    EXPECT_EQ(t.numel(), 2);
    EXPECT_EQ(t.data<int32_t>()[0], 7);
    EXPECT_EQ(t.data<int32_t>()[1], 8);
  }
}

TEST(Npy, RefusesTruncatedAndTrailingData) {
  const std::string ok = numpy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", std::string(16, '\0'));
  EXPECT_NO_THROW(parse_npy(ok, "t.npy"));
  EXPECT_NE(error_of(ok.substr(0, ok.size() - 1)).find("t.npy: truncated"), std::string::npos);
  EXPECT_NE(error_of(ok.substr(0, 60)).find("t.npy: truncated"), std::string::npos);  // inside the header
  EXPECT_NE(error_of(ok.substr(0, 9)).find("t.npy: truncated"), std::string::npos);   // inside the prelude
  EXPECT_NE(error_of(ok + "x").find("1 unexpected bytes"), std::string::npos);
  EXPECT_NE(error_of("").find("not a .npy file"), std::string::npos);
}

TEST(Npy, RefusesHugeClaimedShapeBeforeAllocating) {
  const std::string huge = numpy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", "");
  EXPECT_NE(error_of(huge).find("t.npy: truncated .npy file: shape [1000000, 1000000]"), std::string::npos);
  // Element counts that overflow 64 bits.
  const std::string overflow =
      numpy_v1("{'descr': '<f8', 'fortran_order': False, 'shape': (72057594037927936, 72057594037927936), }", "");
  EXPECT_NE(error_of(overflow).find("too many elements"), std::string::npos);
  // The fixture the CLI tests use.
  const std::string fixture = std::string(EFF_SOURCE_DIR) + "/tests/fixtures/bad/huge.npy";
  try {
    read_npy(fixture);
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("huge.npy"), std::string::npos) << e.what();
  }
}

TEST(Npy, RefusesFortranOrder) {
  const std::string f = numpy_v1("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", std::string(16, '\0'));
  EXPECT_NE(error_of(f).find("t.npy: fortran_order is True"), std::string::npos) << error_of(f);
}

TEST(Npy, RefusesBadMagicAndVersions) {
  std::string f = numpy_v1("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  std::string bad_magic = f;
  bad_magic[1] = 'n';
  EXPECT_NE(error_of(bad_magic).find("not a .npy file"), std::string::npos);
  std::string v4 = f;
  v4[6] = 4;
  EXPECT_NE(error_of(v4).find("version 4.0 is not supported"), std::string::npos);
  std::string v11 = f;
  v11[7] = 1;
  EXPECT_NE(error_of(v11).find("version 1.1"), std::string::npos);
  EXPECT_NE(error_of("PK\x03\x04 this is a zip").find("not a .npy file"), std::string::npos);
}

TEST(Npy, RefusesMalformedHeaders) {
  const std::string d(8, '\0');
  struct Case {
    std::string dict, expect;
  };
  const Case cases[] = {
      {"{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", "dtype '<u4' is not supported"},
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "dtype '<c8' is not supported"},
      {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", "dtype '|f4' is not supported"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured dtypes"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", "is not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", "expected a tuple"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", "expected True or False"},
      {"{'descr': '<f4', 'shape': (2,), }", "key 'fortran_order' is missing"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "'descr' appears twice"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", "bad .npy header"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "after the closing"},
      {"'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "start with '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,", "bad .npy header"},
  };
  for (const Case& c : cases) {
    const std::string err = error_of(numpy_v1(c.dict, d));
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.dict << " -> " << err;
    EXPECT_EQ(err.rfind("t.npy: ", 0), 0u) << err;
  }
}

TEST(Npy, ReadReportsMissingFilesAndDirectories) {
  ScratchDir dir;
  try {
    read_npy(dir.file("nope.npy"));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("nope.npy") + ": no such file");
  }
  EXPECT_THROW(read_npy(dir.path().string()), DataError);
  EXPECT_THROW(write_npy(dir.file("missing_dir/x.npy"), Tensor::scalar<float>(1)), DataError);
}

TEST(NpySlab, ReadsRowsByOffsetAndChecksTheFileOnOpening) {
  // np.save(np.arange(12, dtype='<i2').reshape(3, 2, 2)): rows of 4 values (8 bytes).
  ScratchDir dir;
  std::string data;
  for (int16_t v = 0; v < 12; ++v) data += std::string(reinterpret_cast<const char*>(&v), 2);
  const std::string file = numpy_v1("{'descr': '<i2', 'fortran_order': False, 'shape': (3, 2, 2), }", data);
  write_bytes(dir.file("a.npy"), file);
  NpySlabReader r(dir.file("a.npy"));
  EXPECT_EQ(r.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(r.dtype(), DType::kInt16);
  const Tensor mid = r.read(1, 2);
  ASSERT_EQ(mid.shape(), (Shape{2, 2, 2}));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(mid.data<int16_t>()[i], 4 + i);
  EXPECT_EQ(r.read(3, 0).numel(), 0);
  EXPECT_THROW(r.read(2, 2), DataError);  // past the last row
  EXPECT_THROW(r.read(-1, 1), DataError);
  // Truncated or padded files are refused on opening, naming the file.
  write_bytes(dir.file("cut.npy"), file.substr(0, file.size() - 1));
  try {
    NpySlabReader cut(dir.file("cut.npy"));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("cut.npy") + ": truncated"), std::string::npos) << e.what();
  }
  write_bytes(dir.file("scalar.npy"), numpy_v1("{'descr': '<i2', 'fortran_order': False, 'shape': (), }", "ab"));
  EXPECT_THROW(NpySlabReader(dir.file("scalar.npy")), DataError);
  EXPECT_THROW(NpySlabReader(dir.file("nope.npy")), DataError);
}

}  // namespace
}  // namespace eff
