// Labelled (or unlabelled) collections of model inputs, read in batches.
//
// open_dataset(spec) understands:
//   fashion-mnist:test | fashion-mnist:train   Debian's dataset-fashion-mnist (directory from
//                                              $EFFECTUAL_FASHION_MNIST_DIR if set)
//   mnist:test | mnist:train                   from $EFFECTUAL_MNIST_DIR (default /usr/share/datasets/mnist)
//   idx:IMAGES[,LABELS]                        any IDX pair, gzipped or not
//   DIR                                        a directory of images, with optional labels.txt
//                                              lines "<file name> <label>"
//   FILE.npy                                   already preprocessed inputs (see open_npy_dataset)
//   (FILE.npz, one array per model input, is opened by the CLI, which knows the input names: read_npz)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "data/preprocess.h"

namespace eff {

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // {C, H, W} of every item as images() returns it.
  virtual Shape item_shape() const = 0;
  // Items [begin, begin + count): float32 [count, C, H, W], preprocessed.
  virtual Tensor images(int64_t begin, int64_t count) const = 0;
  // Items [begin, begin + count) as a model's inputs, in graph-input order: {images(begin, count)}
  // for image data, every tensor's slices for a tensor data set (open_tensor_dataset).
  virtual std::vector<Tensor> inputs(int64_t begin, int64_t count) const { return {images(begin, count)}; }
  // How many tensors inputs() gives.
  virtual size_t input_count() const { return 1; }
  // Their labels as int64 [count], or an undefined Tensor if the data set has none.
  virtual Tensor labels(int64_t begin, int64_t count) const = 0;
  virtual bool has_labels() const = 0;
  // The spec or path it was opened from, for messages.
  virtual std::string name() const = 0;
};

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const Preprocess& p);

// `input`: float32 (other numeric types are converted) N x C x H x W, used as is. Rank 3 is
// read as N x H x W, i.e. N single-channel images (a single C x H x W image must be saved as
// 1 x C x H x W). `labels`: optional .npy of N integers (int8..int64, uint8), "" for none.
std::unique_ptr<Dataset> open_npy_dataset(const std::string& input, const std::string& labels);

// Tensors of any rank and type (a model's inputs in graph-input order, each with the text naming
// where it came from, e.g. "tokens=a.npy") that share their first dimension: item i is slice [i]
// of each. images() gives the first tensor's slices as they are (not necessarily float32 images);
// item_shape() is its shape without the first dimension. `labels` as for open_npy_dataset.
std::unique_ptr<Dataset> open_tensor_dataset(std::vector<std::pair<std::string, Tensor>> inputs,
                                             const std::string& labels);
// The same with labels already in memory (integers [N] or [N, 1], undefined for none); `labels_source`
// names them in messages (the Python module's arrays).
std::unique_ptr<Dataset> open_tensor_dataset(std::vector<std::pair<std::string, Tensor>> inputs, const Tensor& labels,
                                             const std::string& labels_source);

// The IDX pair of images [N, H, W] (uint8) and labels [N]; `labels` may be "" for none.
std::unique_ptr<Dataset> open_idx_dataset(const std::string& images, const std::string& labels, const Preprocess& p,
                                          const std::string& name = "");
// A directory of images (.png .jpg .jpeg .bmp .gif .tga .pgm .ppm .pnm), sorted by file name,
// labelled by DIR/labels.txt if present (then every image needs a line).
std::unique_ptr<Dataset> open_image_folder(const std::string& dir, const Preprocess& p);

}  // namespace eff
