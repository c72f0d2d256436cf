#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "data/dataset.h"
#include "data/npy.h"
#include "data_test_util.h"

namespace eff {
namespace {

using nlohmann::json;
using testing::idx_bytes;
using testing::png_bytes;
using testing::ScratchDir;
using testing::write_bytes;
using testing::write_gzip;

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// Sets an environment variable for one scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

Preprocess raw_pixels() {
  Preprocess p;
  p.scale = 1.0f;
  return p;
}

// ---- preprocess_from_json ------------------------------------------------------------------

TEST(Preprocess, ReadsTheSidecarFormat) {
  Preprocess p = preprocess_from_json(json::parse(
      R"({"scale":0.00392156862745098,"mean":[0.2860],"std":[0.3530],"channel_order":"gray","resize":[28,28]})"));
  EXPECT_EQ(p.scale, 0.00392156862745098f);
  EXPECT_EQ(p.mean, (std::vector<float>{0.2860f}));
  EXPECT_EQ(p.std, (std::vector<float>{0.3530f}));
  EXPECT_EQ(p.channel_order, "gray");
  EXPECT_EQ(p.resize_h, 28);
  EXPECT_EQ(p.resize_w, 28);
  EXPECT_EQ(p.resize_shorter, 0);
  EXPECT_EQ(p.crop_h, 0);

  Preprocess q = preprocess_from_json(
      json::parse(R"({"channel_order":"rgb","mean":[0.485,0.456,0.406],"std":0.25,"resize":256,"crop":224})"));
  EXPECT_EQ(q.channels(), 3);
  EXPECT_EQ(q.resize_shorter, 256);
  EXPECT_EQ(q.resize_h, 0);
  EXPECT_EQ(q.crop_h, 224);
  EXPECT_EQ(q.crop_w, 224);
  EXPECT_EQ(q.std, (std::vector<float>{0.25f}));
  EXPECT_EQ(preprocessed_shape(300, 400, q), (Shape{3, 224, 224}));
  EXPECT_EQ(preprocess_from_json(json::parse(R"({"resize":[7]})")).resize_shorter, 7);
  EXPECT_EQ(preprocess_from_json(json::object()).scale, 1.0f / 255.0f);
}

TEST(Preprocess, RefusesBadConfigurations) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"scale":1,"normalize":true})", "unknown key 'normalize'"},
      {R"({"scale":"1/255"})", "'scale' must be a number"},
      {R"({"scale":0})", "'scale' must be positive"},
      {R"({"channel_order":"rgba"})", "'channel_order' must be gray, rgb or bgr"},
      {R"({"channel_order":"rgb","mean":[1,2]})", "'mean' has 2 values"},
      {R"({"std":[0]})", "'std' values must be finite and non-zero"},
      {R"({"resize":[1,2,3]})", "'resize' must be S, [S] or [H, W]"},
      {R"({"resize":[0,5]})", "'resize' sizes must be integers"},
      {R"({"crop":2.5})", "'crop' sizes must be integers"},
      {R"({"mean":["a"]})", "'mean' must be a number"},
      {R"([1,2])", "must be a JSON object"},
  };
  for (const Case& c : cases) {
    const std::string err = error_of<ConfigError>([&] { preprocess_from_json(json::parse(c.text), "m.json"); });
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.text << " -> " << err;
    EXPECT_EQ(err.rfind("m.json: ", 0), 0u) << err;
  }
}

// ---- IDX data sets -------------------------------------------------------------------------

// Three 2x2 images (pixels 0..11) and labels 4, 0, 9.
void write_tiny_idx(const ScratchDir& dir, const std::string& images, const std::string& labels, bool gz) {
  std::string px;
  for (int i = 0; i < 12; ++i) px += static_cast<char>(i * 20);
  const std::string a = idx_bytes(0x08, {3, 2, 2}, px), b = idx_bytes(0x08, {3}, std::string("\x04\x00\x09", 3));
  if (gz) {
    write_gzip(dir.file(images), a);
    write_gzip(dir.file(labels), b);
  } else {
    write_bytes(dir.file(images), a);
    write_bytes(dir.file(labels), b);
  }
}

TEST(Dataset, IdxPairPreprocessesAndSlices) {
  ScratchDir dir;
  write_tiny_idx(dir, "img", "lab", false);
  Preprocess p = raw_pixels();
  p.mean = {20};
  p.std = {2};
  auto ds = open_dataset("idx:" + dir.file("img") + "," + dir.file("lab"), p);
  EXPECT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->item_shape(), (Shape{1, 2, 2}));
  EXPECT_TRUE(ds->has_labels());
  Tensor x = ds->images(1, 2);
  ASSERT_EQ(x.shape(), (Shape{2, 1, 2, 2}));
  // Pixels 80, 100, ..., 220 -> (v - 20) / 2.
  EXPECT_EQ(x.to_f32_vector(), (std::vector<float>{30, 40, 50, 60, 70, 80, 90, 100}));
  Tensor y = ds->labels(1, 2);
  ASSERT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.to_i64_vector(), (std::vector<int64_t>{0, 9}));
  EXPECT_EQ(ds->images(3, 0).shape(), (Shape{0, 1, 2, 2}));
  // Out-of-range requests are usage errors naming the data set.
  EXPECT_THROW(ds->images(2, 2), UsageError);
  EXPECT_THROW(ds->labels(-1, 1), UsageError);

  // Unlabelled, and RGB output replicating the gray channel.
  p.channel_order = "rgb";
  auto unl = open_dataset("idx:" + dir.file("img"), p);
  EXPECT_FALSE(unl->has_labels());
  EXPECT_FALSE(unl->labels(0, 1).defined());
  EXPECT_EQ(unl->item_shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(unl->images(0, 1).to_f32_vector(), (std::vector<float>{-10, 0, 10, 20, -10, 0, 10, 20, -10, 0, 10, 20}));
}

TEST(Dataset, IdxResizesWhenAsked) {
  ScratchDir dir;
  write_tiny_idx(dir, "img", "lab", true);
  Preprocess p = raw_pixels();
  p.resize_h = p.resize_w = 1;
  auto ds = open_idx_dataset(dir.file("img"), dir.file("lab"), p);
  EXPECT_EQ(ds->item_shape(), (Shape{1, 1, 1}));
  EXPECT_NEAR(ds->images(0, 1).to_f32_vector()[0], 30, 1e-3);  // mean of 0, 20, 40, 60
}

TEST(Dataset, IdxRefusesMismatchedPairs) {
  ScratchDir dir;
  write_tiny_idx(dir, "img", "lab", false);
  write_bytes(dir.file("two_labels"), idx_bytes(0x08, {2}, "\x01\x02"));
  const std::string err = error_of<DataError>([&] { open_idx_dataset(dir.file("img"), dir.file("two_labels"), {}); });
  EXPECT_EQ(err, dir.file("two_labels") + ": 2 labels for 3 images");
  // Labels as images: rank 1 is not a set of images.
  EXPECT_NE(error_of<DataError>([&] { open_idx_dataset(dir.file("lab"), "", {}); }).find("must be [N, rows, cols]"),
            std::string::npos);
}

TEST(Dataset, NamedSetsUseTheirDirectoryVariables) {
  ScratchDir dir;
  write_tiny_idx(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", true);
  write_tiny_idx(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", false);  // uncompressed works too
  {
    ScopedEnv env("EFFECTUAL_FASHION_MNIST_DIR", dir.path().string());
    auto test = open_dataset("fashion-mnist:test", raw_pixels());
    EXPECT_EQ(test->name(), "fashion-mnist:test");
    EXPECT_EQ(test->size(), 3);
    EXPECT_EQ(test->labels(0, 3).to_i64_vector(), (std::vector<int64_t>{4, 0, 9}));
    EXPECT_EQ(open_dataset("fashion-mnist:train", raw_pixels())->size(), 3);
    EXPECT_THROW(open_dataset("fashion-mnist:validation", raw_pixels()), UsageError);
  }
  {
    ScopedEnv env("EFFECTUAL_MNIST_DIR", dir.path().string());
    EXPECT_EQ(open_dataset("mnist:test", raw_pixels())->size(), 3);
  }
  {
    ScopedEnv env("EFFECTUAL_MNIST_DIR", dir.file("nowhere"));
    const std::string err = error_of<DataError>([&] { open_dataset("mnist:test", raw_pixels()); });
    EXPECT_NE(err.find("mnist:test: neither " + dir.file("nowhere") + "/t10k-images-idx3-ubyte.gz nor"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("EFFECTUAL_MNIST_DIR"), std::string::npos) << err;
  }
}

TEST(Dataset, FashionMnistTestMatchesTheNumpyReference) {
  // models/lenet5.ref/input.npy holds test images 0..7 preprocessed by numpy as lenet5.json says.
  const std::string ref = std::string(EFF_SOURCE_DIR) + "/models/lenet5.ref/";
  const char* env = std::getenv("EFFECTUAL_FASHION_MNIST_DIR");
  const std::string dir = env && *env ? env : "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz") || !std::filesystem::exists(ref + "input.npy")) {
    GTEST_SKIP() << "dataset or reference absent";
  }
  const json sidecar = json::parse(testing::read_bytes(std::string(EFF_SOURCE_DIR) + "/models/lenet5.json"));
  auto ds = open_dataset("fashion-mnist:test", preprocess_from_json(sidecar["preprocessing"]));
  EXPECT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->item_shape(), (Shape{1, 28, 28}));
  Tensor want = read_npy(ref + "input.npy");
  Tensor got = ds->images(0, 8);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_EQ(got.to_f32_vector(), want.to_f32_vector());  // bit for bit
  EXPECT_EQ(ds->labels(0, 8).to_i64_vector(), read_npy(ref + "labels.npy").to_i64_vector());
}

// ---- image folders -------------------------------------------------------------------------

TEST(Dataset, ImageFolderWithLabels) {
  ScratchDir dir;
  write_bytes(dir.file("b.png"), png_bytes(2, 1, 1, {30, 40}));
  write_bytes(dir.file("a.png"), png_bytes(2, 1, 1, {10, 20}));
  write_bytes(dir.file("c d.PNG"), png_bytes(2, 1, 1, {50, 60}));
  write_bytes(dir.file("README"), "not an image");
  write_bytes(dir.file("labels.txt"), "# file label\nb.png 7\n\nc d.PNG  3\r\na.png\t1\n");
  auto ds = open_dataset(dir.path().string(), raw_pixels());
  EXPECT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->item_shape(), (Shape{1, 1, 2}));
  // Sorted by file name: "a.png", "b.png", "c d.PNG".
  EXPECT_EQ(ds->images(0, 3).to_f32_vector(), (std::vector<float>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(ds->labels(0, 3).to_i64_vector(), (std::vector<int64_t>{1, 7, 3}));
  EXPECT_EQ(ds->labels(2, 1).to_i64_vector(), (std::vector<int64_t>{3}));
}

TEST(Dataset, ImageFolderWithoutLabels) {
  ScratchDir dir;
  write_bytes(dir.file("x.png"), png_bytes(2, 2, 3, std::vector<uint8_t>(12, 9)));
  Preprocess p = raw_pixels();
  p.channel_order = "bgr";
  auto ds = open_image_folder(dir.path().string(), p);
  EXPECT_FALSE(ds->has_labels());
  EXPECT_FALSE(ds->labels(0, 1).defined());
  EXPECT_EQ(ds->item_shape(), (Shape{3, 2, 2}));
}

TEST(Dataset, ImageFolderErrors) {
  ScratchDir dir;
  EXPECT_NE(error_of<DataError>([&] { open_image_folder(dir.path().string(), {}); }).find("no images"),
            std::string::npos);
  write_bytes(dir.file("a.png"), png_bytes(2, 1, 1, {10, 20}));
  write_bytes(dir.file("b.png"), png_bytes(3, 1, 1, {10, 20, 30}));
  const std::string labels = dir.file("labels.txt");
  write_bytes(labels, "a.png 1\n");
  EXPECT_EQ(error_of<DataError>([&] { open_image_folder(dir.path().string(), {}); }),
            labels + ": no label for 'b.png'");
  write_bytes(labels, "a.png 1\nb.png 2\nz.png 3\n");
  EXPECT_EQ(error_of<DataError>([&] { open_image_folder(dir.path().string(), {}); }),
            labels + ": 'z.png' is not an image in " + dir.path().string());
  write_bytes(labels, "a.png 1\nb.png two\n");
  EXPECT_EQ(error_of<DataError>([&] { open_image_folder(dir.path().string(), {}); }),
            labels + ":2: label 'two' is not a non-negative integer");
  write_bytes(labels, "a.png 1\na.png 2\n");
  EXPECT_NE(
      error_of<DataError>([&] { open_image_folder(dir.path().string(), {}); }).find(":2: 'a.png' is listed twice"),
      std::string::npos);
  // Images of different sizes without a resize: the odd one is named when it is read.
  std::filesystem::remove(labels);
  auto ds = open_image_folder(dir.path().string(), raw_pixels());
  EXPECT_NO_THROW(ds->images(0, 1));
  EXPECT_NE(error_of<DataError>([&] { ds->images(0, 2); }).find(dir.file("b.png") + ": is [1, 1, 3] after"),
            std::string::npos);
  Preprocess fixed = raw_pixels();
  fixed.resize_h = fixed.resize_w = 2;
  EXPECT_EQ(open_image_folder(dir.path().string(), fixed)->images(0, 2).shape(), (Shape{2, 1, 2, 2}));
}

// ---- .npy inputs ---------------------------------------------------------------------------

TEST(Dataset, NpyInputsAndLabels) {
  ScratchDir dir;
  std::vector<float> v(3 * 2 * 2 * 2);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  write_npy(dir.file("x.npy"), Tensor::from<float>({3, 2, 2, 2}, v));
  write_npy(dir.file("y.npy"), Tensor::from<int32_t>({3}, {2, 0, 1}));
  auto ds = open_npy_dataset(dir.file("x.npy"), dir.file("y.npy"));
  EXPECT_EQ(ds->size(), 3);
  EXPECT_EQ(ds->item_shape(), (Shape{2, 2, 2}));
  Tensor x = ds->images(2, 1);
  EXPECT_EQ(x.shape(), (Shape{1, 2, 2, 2}));
  EXPECT_EQ(x.to_f32_vector(), std::vector<float>(v.begin() + 16, v.end()));
  EXPECT_EQ(ds->labels(0, 3).to_i64_vector(), (std::vector<int64_t>{2, 0, 1}));

  // open_dataset takes a .npy path too (unlabelled), and the preprocessing does not apply.
  auto plain = open_dataset(dir.file("x.npy"), raw_pixels());
  EXPECT_FALSE(plain->has_labels());
  EXPECT_EQ(plain->images(0, 3).to_f32_vector(), v);
}

TEST(Dataset, NpyRankThreeIsSingleChannelImages) {
  ScratchDir dir;
  write_npy(dir.file("nhw.npy"), Tensor::from<double>({2, 1, 3}, {1, 2, 3, 4, 5, 6}));
  auto ds = open_npy_dataset(dir.file("nhw.npy"), "");
  EXPECT_EQ(ds->size(), 2);
  EXPECT_EQ(ds->item_shape(), (Shape{1, 1, 3}));
  Tensor x = ds->images(1, 1);
  EXPECT_EQ(x.dtype(), DType::kFloat32);
  EXPECT_EQ(x.to_f32_vector(), (std::vector<float>{4, 5, 6}));
}

TEST(Dataset, NpyErrors) {
  ScratchDir dir;
  write_npy(dir.file("x.npy"), Tensor(DType::kFloat32, {2, 1, 2, 2}));
  write_npy(dir.file("flat.npy"), Tensor(DType::kFloat32, {8}));
  write_npy(dir.file("three.npy"), Tensor::from<int64_t>({3}, {0, 1, 2}));
  write_npy(dir.file("float.npy"), Tensor::from<float>({2}, {0, 1}));
  write_npy(dir.file("neg.npy"), Tensor::from<int64_t>({2}, {0, -1}));
  EXPECT_NE(error_of<DataError>([&] { open_npy_dataset(dir.file("flat.npy"), ""); }).find("must be N x C x H x W"),
            std::string::npos);
  EXPECT_EQ(error_of<DataError>([&] { open_npy_dataset(dir.file("x.npy"), dir.file("three.npy")); }),
            dir.file("three.npy") + ": 3 labels for 2 images");
  EXPECT_EQ(error_of<DataError>([&] { open_npy_dataset(dir.file("x.npy"), dir.file("float.npy")); }),
            dir.file("float.npy") + ": labels must be integers, not float32");
  EXPECT_EQ(error_of<DataError>([&] { open_npy_dataset(dir.file("x.npy"), dir.file("neg.npy")); }),
            dir.file("neg.npy") + ": label -1 at index 1 is negative");
  EXPECT_EQ(error_of<DataError>([&] { open_npy_dataset(dir.file("none.npy"), ""); }),
            dir.file("none.npy") + ": no such file");
}

// Tensors of any rank and type, sliced along the first dimension (the items), every input alike.
TEST(Dataset, TensorsSliceAlongTheFirstDimension) {
  ScratchDir dir;
  write_npy(dir.file("labels.npy"), Tensor::from<int64_t>({3}, {4, 5, 6}));
  auto data = open_tensor_dataset({{"ids=a.npy", Tensor::from<int64_t>({3, 2}, {10, 11, 20, 21, 30, 31})},
                                   {"x=b.npy", Tensor::from<float>({3, 1, 2, 1}, {1, 2, 3, 4, 5, 6})}},
                                  dir.file("labels.npy"));
  EXPECT_EQ(data->size(), 3);
  EXPECT_EQ(data->input_count(), 2u);
  EXPECT_EQ(data->name(), "ids=a.npy x=b.npy");
  EXPECT_EQ(data->item_shape(), (Shape{2}));
  const std::vector<Tensor> two = data->inputs(1, 2);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].dtype(), DType::kInt64);
  EXPECT_EQ(two[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(two[0].to_i64_vector(), (std::vector<int64_t>{20, 21, 30, 31}));
  EXPECT_EQ(two[1].shape(), (Shape{2, 1, 2, 1}));
  EXPECT_EQ(two[1].to_f32_vector(), (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(data->images(2, 1).to_i64_vector(), (std::vector<int64_t>{30, 31}));
  EXPECT_EQ(data->labels(1, 2).to_i64_vector(), (std::vector<int64_t>{5, 6}));
  EXPECT_THROW(data->inputs(2, 2), UsageError);
}

// Labels already in memory (the Python module's arrays): any integer type, checked as a file's are.
TEST(Dataset, TensorLabelsFromMemory) {
  const Tensor x = Tensor::from<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  auto data = open_tensor_dataset({{"x=array", x}}, Tensor::from<uint8_t>({3, 1}, {7, 8, 9}), "labels");
  EXPECT_EQ(data->labels(0, 3).to_i64_vector(), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_FALSE(open_tensor_dataset({{"x=array", x}}, Tensor(), "labels")->has_labels());
  EXPECT_EQ(error_of<DataError>([&] {
              open_tensor_dataset({{"x", x}}, Tensor::from<int64_t>({2}, {1, 2}), "labels");
            }),
            "labels: 2 labels for 3 images");
  EXPECT_EQ(error_of<DataError>([&] {
              open_tensor_dataset({{"x", x}}, Tensor::from<float>({3}, {1, 2, 3}), "y");
            }),
            "y: labels must be integers, not float32");
}

TEST(Dataset, TensorsShareTheirFirstDimension) {
  EXPECT_EQ(error_of<DataError>([&] {
              open_tensor_dataset(
                  {{"a=a.npy", Tensor(DType::kFloat32, {2, 4})}, {"b=b.npy", Tensor(DType::kFloat32, {3, 4})}}, "");
            }),
            "b=b.npy has 3 item(s) (first dimension) but a=a.npy has 2; the inputs share the first dimension");
  EXPECT_EQ(error_of<DataError>([&] {
              open_tensor_dataset({{"s.npy", Tensor::scalar<float>(1)}}, "");
            }),
            "s.npy: a scalar has no items (the first dimension counts them)");
}

TEST(Dataset, UnknownSpecs) {
  ScratchDir dir;
  EXPECT_NE(error_of<DataError>([&] { open_dataset(dir.file("missing"), {}); }).find("no such file or directory"),
            std::string::npos);
  write_bytes(dir.file("data.csv"), "1,2,3\n");
  EXPECT_NE(error_of<DataError>([&] { open_dataset(dir.file("data.csv"), {}); }).find("not a data set"),
            std::string::npos);
  EXPECT_THROW(open_dataset("idx:", {}), UsageError);
  EXPECT_THROW(open_dataset("", {}), UsageError);
}

}  // namespace
}  // namespace eff
