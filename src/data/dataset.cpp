#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "data/idx.h"
#include "data/image.h"
#include "data/npy.h"

namespace eff {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSpecHelp =
    "expected fashion-mnist:test|train, mnist:test|train, idx:IMAGES[,LABELS], a directory of images or a .npy file";

void check_range(int64_t begin, int64_t count, int64_t size, const std::string& name) {
  if (begin < 0 || count < 0 || begin > size || count > size - begin) {
    fail<UsageError>("{}: items [{}, {}) are outside the data set of {} items", name, begin, begin + count, size);
  }
}

bool is_integer_dtype(DType t) {
  return t == DType::kInt64 || t == DType::kInt32 || t == DType::kInt16 || t == DType::kInt8 || t == DType::kUInt8;
}

// Labels as int64 [N], refusing non-integer types and negative values.
Tensor labels_to_i64(const Tensor& raw, int64_t expected_count, const std::string& file) {
  if (!is_integer_dtype(raw.dtype())) {
    fail<DataError>("{}: labels must be integers, not {}", file, dtype_name(raw.dtype()));
  }
  const bool column = raw.rank() == 2 && raw.dim(1) == 1;
  if (raw.rank() != 1 && !column) {
    fail<DataError>("{}: labels must have shape [N] (got {})", file, shape_str(raw.shape()));
  }
  if (raw.dim(0) != expected_count) {
    fail<DataError>("{}: {} labels for {} images", file, raw.dim(0), expected_count);
  }
  Tensor out = raw.cast(DType::kInt64).reshaped({expected_count});
  const int64_t* v = out.data<int64_t>();
  for (int64_t i = 0; i < expected_count; ++i) {
    if (v[i] < 0) fail<DataError>("{}: label {} at index {} is negative", file, v[i], i);
  }
  return out;
}

Tensor slice_labels(const Tensor& labels, int64_t begin, int64_t count) {
  if (!labels.defined()) return Tensor();
  Tensor out(DType::kInt64, {count});
  if (count) std::memcpy(out.raw(), labels.data<int64_t>() + begin, static_cast<size_t>(count) * sizeof(int64_t));
  return out;
}

// ---- IDX ---------------------------------------------------------------------------------

class IdxDataset final : public Dataset {
 public:
  IdxDataset(const std::string& images_path, const std::string& labels_path, const Preprocess& p, std::string name)
      : pre_(p), name_(std::move(name)) {
    pre_.validate(name_ + ": preprocessing");
    images_ = read_idx(images_path);
    if (images_.dtype() != DType::kUInt8) {
      fail<DataError>("{}: IDX images must be unsigned bytes, not {}", images_path, dtype_name(images_.dtype()));
    }
    const bool with_channels = images_.rank() == 4 && (images_.dim(3) == 1 || images_.dim(3) == 3);
    if (images_.rank() != 3 && !with_channels) {
      fail<DataError>("{}: IDX images must be [N, rows, cols] or [N, rows, cols, 1|3] (got {})", images_path,
                      shape_str(images_.shape()));
    }
    if (images_.dim(1) < 1 || images_.dim(2) < 1) {
      fail<DataError>("{}: IDX images have an empty size {}", images_path, shape_str(images_.shape()));
    }
    channels_ = with_channels ? static_cast<int>(images_.dim(3)) : 1;
    if (!labels_path.empty()) labels_ = labels_to_i64(read_idx(labels_path), images_.dim(0), labels_path);
    item_shape_ = preprocessed_shape(images_.dim(1), images_.dim(2), pre_);
  }

  int64_t size() const override { return images_.dim(0); }
  Shape item_shape() const override { return item_shape_; }
  bool has_labels() const override { return labels_.defined(); }
  std::string name() const override { return name_; }

  Tensor images(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), name_);
    Shape s = item_shape_;
    s.insert(s.begin(), count);
    Tensor out(DType::kFloat32, s);
    const int64_t h = images_.dim(1), w = images_.dim(2);
    const size_t in_item = static_cast<size_t>(h * w * channels_);
    const size_t out_item = static_cast<size_t>(shape_numel(item_shape_));
    for (int64_t i = 0; i < count; ++i) {
      const uint8_t* px = images_.data<uint8_t>() + static_cast<size_t>(begin + i) * in_item;
      Tensor one = preprocess_pixels(px, h, w, channels_, pre_, fmt::format("{}[{}]", name_, begin + i));
      std::memcpy(out.data<float>() + i * out_item, one.raw(), out_item * sizeof(float));
    }
    return out;
  }

  Tensor labels(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), name_);
    return slice_labels(labels_, begin, count);
  }

 private:
  Preprocess pre_;
  std::string name_;
  Tensor images_, labels_;
  int channels_ = 1;
  Shape item_shape_;
};

// ---- image folder ------------------------------------------------------------------------

bool has_image_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> kExts = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".pgm", ".ppm", ".pnm"};
  return kExts.count(e) != 0;
}

std::string trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return "";
  return std::string(s.substr(b, s.find_last_not_of(ws) - b + 1));
}

// "<file name> <label>" per line; '#' starts a comment line. The label is the last field, so
// file names may contain spaces.
std::map<std::string, int64_t> read_labels_txt(const std::string& path) {
  const std::string text = read_file(path, size_t{64} << 20);
  std::map<std::string, int64_t> out;
  std::istringstream in(text);
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const size_t cut = t.find_last_of(" \t");
    if (cut == std::string::npos) fail<DataError>("{}:{}: expected \"<file name> <label>\"", path, lineno);
    const std::string file = trim(std::string_view(t).substr(0, cut));
    const std::string label_text = t.substr(cut + 1);
    int64_t label = -1;
    auto [end, ec] = std::from_chars(label_text.data(), label_text.data() + label_text.size(), label);
    if (ec != std::errc() || end != label_text.data() + label_text.size() || label < 0) {
      fail<DataError>("{}:{}: label '{}' is not a non-negative integer", path, lineno, label_text);
    }
    if (!out.emplace(file, label).second) fail<DataError>("{}:{}: '{}' is listed twice", path, lineno, file);
  }
  return out;
}

class ImageFolderDataset final : public Dataset {
 public:
  ImageFolderDataset(const std::string& dir, const Preprocess& p) : dir_(dir), pre_(p) {
    pre_.validate(dir_ + ": preprocessing");
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && has_image_extension(it->path())) files_.push_back(it->path().filename().string());
    }
    if (ec) fail<DataError>("{}: cannot list directory: {}", dir, ec.message());
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) fail<DataError>("{}: no images (.png, .jpg, .jpeg, .bmp, .gif, .tga, .pgm, .ppm, .pnm)", dir);

    const std::string labels_path = (fs::path(dir) / "labels.txt").string();
    if (fs::exists(labels_path, ec)) {
      std::map<std::string, int64_t> by_name = read_labels_txt(labels_path);
      for (const auto& [file, label] : by_name) {
        if (!std::binary_search(files_.begin(), files_.end(), file)) {
          fail<DataError>("{}: '{}' is not an image in {}", labels_path, file, dir);
        }
      }
      labels_ = Tensor(DType::kInt64, {static_cast<int64_t>(files_.size())});
      for (size_t i = 0; i < files_.size(); ++i) {
        auto it = by_name.find(files_[i]);
        if (it == by_name.end()) fail<DataError>("{}: no label for '{}'", labels_path, files_[i]);
        labels_.data<int64_t>()[i] = it->second;
      }
    }
    const ImageInfo first = probe_image(path_of(0));
    item_shape_ = preprocessed_shape(first.height, first.width, pre_);
  }

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  Shape item_shape() const override { return item_shape_; }
  bool has_labels() const override { return labels_.defined(); }
  std::string name() const override { return dir_; }

  Tensor images(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), dir_);
    Shape s = item_shape_;
    s.insert(s.begin(), count);
    Tensor out(DType::kFloat32, s);
    const size_t item = static_cast<size_t>(shape_numel(item_shape_));
    for (int64_t i = 0; i < count; ++i) {
      const std::string path = path_of(begin + i);
      Tensor one = load_image(path, pre_);
      if (one.shape() != item_shape_) {
        fail<DataError>("{}: is {} after preprocessing, but {} is {}; give a \"resize\" [H, W] or \"crop\"", path,
                        shape_str(one.shape()), files_[0], shape_str(item_shape_));
      }
      std::memcpy(out.data<float>() + i * item, one.raw(), item * sizeof(float));
    }
    return out;
  }

  Tensor labels(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), dir_);
    return slice_labels(labels_, begin, count);
  }

 private:
  std::string path_of(int64_t i) const { return (fs::path(dir_) / files_[static_cast<size_t>(i)]).string(); }

  std::string dir_;
  Preprocess pre_;
  std::vector<std::string> files_;
  Tensor labels_;
  Shape item_shape_;
};

// ---- .npy --------------------------------------------------------------------------------

class NpyDataset final : public Dataset {
 public:
  NpyDataset(const std::string& input, const std::string& labels_path) : name_(input) {
    Tensor x = read_npy(input);
    if (x.dtype() == DType::kBool) fail<DataError>("{}: inputs must be numbers, not bool", input);
    if (x.rank() == 3) {
      x = x.reshaped({x.dim(0), 1, x.dim(1), x.dim(2)});
    } else if (x.rank() != 4) {
      fail<DataError>("{}: inputs must be N x C x H x W (or N x H x W for one channel); got {}", input,
                      shape_str(x.shape()));
    }
    images_ = x.dtype() == DType::kFloat32 ? x : x.cast(DType::kFloat32);
    if (!labels_path.empty()) labels_ = labels_to_i64(read_npy(labels_path), images_.dim(0), labels_path);
  }

  int64_t size() const override { return images_.dim(0); }
  Shape item_shape() const override { return {images_.dim(1), images_.dim(2), images_.dim(3)}; }
  bool has_labels() const override { return labels_.defined(); }
  std::string name() const override { return name_; }

  Tensor images(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), name_);
    Tensor out(DType::kFloat32, {count, images_.dim(1), images_.dim(2), images_.dim(3)});
    const size_t item = static_cast<size_t>(images_.dim(1) * images_.dim(2) * images_.dim(3));
    if (out.nbytes()) std::memcpy(out.raw(), images_.data<float>() + begin * item, out.nbytes());
    return out;
  }

  Tensor labels(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), name_);
    return slice_labels(labels_, begin, count);
  }

 private:
  std::string name_;
  Tensor images_, labels_;
};

// ---- tensors of any rank --------------------------------------------------------------------

class TensorDataset final : public Dataset {
 public:
  TensorDataset(std::vector<std::pair<std::string, Tensor>> inputs, const std::string& labels_path) {
    if (inputs.empty()) fail<UsageError>("no input tensors");
    for (const auto& [source, t] : inputs) {
      if (t.rank() == 0) fail<DataError>("{}: a scalar has no items (the first dimension counts them)", source);
      if (t.dim(0) != inputs[0].second.dim(0)) {
        fail<DataError>("{} has {} item(s) (first dimension) but {} has {}; the inputs share the first dimension",
                        source, t.dim(0), inputs[0].first, inputs[0].second.dim(0));
      }
      name_ += (name_.empty() ? "" : " ") + source;
      tensors_.push_back(t);
    }
    if (!labels_path.empty()) labels_ = labels_to_i64(read_npy(labels_path), size(), labels_path);
  }
  TensorDataset(std::vector<std::pair<std::string, Tensor>> inputs, const Tensor& labels,
                const std::string& labels_source)
      : TensorDataset(std::move(inputs), "") {
    if (labels.defined()) labels_ = labels_to_i64(labels, size(), labels_source);
  }

  int64_t size() const override { return tensors_[0].dim(0); }
  Shape item_shape() const override { return Shape(tensors_[0].shape().begin() + 1, tensors_[0].shape().end()); }
  bool has_labels() const override { return labels_.defined(); }
  std::string name() const override { return name_; }
  size_t input_count() const override { return tensors_.size(); }

  Tensor images(int64_t begin, int64_t count) const override { return slice(tensors_[0], begin, count); }

  std::vector<Tensor> inputs(int64_t begin, int64_t count) const override {
    std::vector<Tensor> out;
    for (const Tensor& t : tensors_) out.push_back(slice(t, begin, count));
    return out;
  }

  Tensor labels(int64_t begin, int64_t count) const override {
    check_range(begin, count, size(), name_);
    return slice_labels(labels_, begin, count);
  }

 private:
  // Rows [begin, begin + count) along the first dimension, any element type.
  Tensor slice(const Tensor& t, int64_t begin, int64_t count) const {
    check_range(begin, count, size(), name_);
    Shape s = t.shape();
    s[0] = count;
    Tensor out(t.dtype(), s);
    const size_t row = size() > 0 ? t.nbytes() / static_cast<size_t>(size()) : 0;
    if (out.nbytes()) {
      std::memcpy(out.raw(), static_cast<const std::byte*>(t.raw()) + static_cast<size_t>(begin) * row, out.nbytes());
    }
    return out;
  }

  std::string name_;
  std::vector<Tensor> tensors_;
  Tensor labels_;
};

// ---- named data sets -----------------------------------------------------------------------

// DIR/BASE.gz, else DIR/BASE.
std::string find_idx_file(const std::string& dir, const std::string& base, const std::string& spec,
                          const std::string& hint) {
  std::error_code ec;
  for (const std::string& candidate : {dir + "/" + base + ".gz", dir + "/" + base}) {
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  fail<DataError>("{}: neither {}/{}.gz nor {}/{} exists ({})", spec, dir, base, dir, base, hint);
}

std::unique_ptr<Dataset> open_named(const std::string& spec, const std::string& set, const std::string& split,
                                    const Preprocess& p) {
  const bool fashion = set == "fashion-mnist";
  const char* env = std::getenv(fashion ? "EFFECTUAL_FASHION_MNIST_DIR" : "EFFECTUAL_MNIST_DIR");
  const std::string dir = env && *env ? env
                          : fashion   ? "/usr/share/datasets/fashion-mnist"
                                      : "/usr/share/datasets/mnist";
  const std::string hint = fashion ? "install Debian's dataset-fashion-mnist or set EFFECTUAL_FASHION_MNIST_DIR"
                                   : "set EFFECTUAL_MNIST_DIR to the directory holding the MNIST IDX files";
  if (split != "test" && split != "train") fail<UsageError>("{}: unknown split '{}' (test or train)", spec, split);
  const std::string prefix = split == "test" ? "t10k" : "train";
  const std::string images = find_idx_file(dir, prefix + "-images-idx3-ubyte", spec, hint);
  const std::string labels = find_idx_file(dir, prefix + "-labels-idx1-ubyte", spec, hint);
  return open_idx_dataset(images, labels, p, spec);
}

bool ends_with_npy(const std::string& s) {
  if (s.size() < 4) return false;
  std::string e = s.substr(s.size() - 4);
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".npy";
}

}  // namespace

std::unique_ptr<Dataset> open_idx_dataset(const std::string& images, const std::string& labels, const Preprocess& p,
                                          const std::string& name) {
  return std::make_unique<IdxDataset>(images, labels, p, name.empty() ? images : name);
}

std::unique_ptr<Dataset> open_image_folder(const std::string& dir, const Preprocess& p) {
  return std::make_unique<ImageFolderDataset>(dir, p);
}

std::unique_ptr<Dataset> open_npy_dataset(const std::string& input, const std::string& labels) {
  return std::make_unique<NpyDataset>(input, labels);
}

std::unique_ptr<Dataset> open_tensor_dataset(std::vector<std::pair<std::string, Tensor>> inputs,
                                             const std::string& labels) {
  return std::make_unique<TensorDataset>(std::move(inputs), labels);
}

std::unique_ptr<Dataset> open_tensor_dataset(std::vector<std::pair<std::string, Tensor>> inputs, const Tensor& labels,
                                             const std::string& labels_source) {
  return std::make_unique<TensorDataset>(std::move(inputs), labels, labels_source);
}

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const Preprocess& p) {
  if (spec.empty()) fail<UsageError>("empty data set name ({})", kSpecHelp);
  for (const char* set : {"fashion-mnist", "mnist"}) {
    const std::string prefix = std::string(set) + ":";
    if (spec.rfind(prefix, 0) == 0) return open_named(spec, set, spec.substr(prefix.size()), p);
  }
  if (spec.rfind("idx:", 0) == 0) {
    const std::string rest = spec.substr(4);
    const size_t comma = rest.find(',');
    const std::string images = rest.substr(0, comma);
    const std::string labels = comma == std::string::npos ? "" : rest.substr(comma + 1);
    if (images.empty() || (comma != std::string::npos && labels.empty())) {
      fail<UsageError>("{}: expected idx:IMAGES or idx:IMAGES,LABELS", spec);
    }
    return open_idx_dataset(images, labels, p, spec);
  }
  std::error_code ec;
  if (ends_with_npy(spec)) return open_npy_dataset(spec, "");
  if (fs::is_directory(spec, ec)) return open_image_folder(spec, p);
  if (fs::exists(spec, ec)) fail<DataError>("{}: not a data set ({})", spec, kSpecHelp);
  fail<DataError>("{}: no such file or directory ({})", spec, kSpecHelp);
}

}  // namespace eff
