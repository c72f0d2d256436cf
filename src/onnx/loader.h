// ONNX model -> IR graph. Parsing is defensive (size limits, every claimed size checked against
// the data present, one-line ModelErrors naming the file); libonnx's checker and shape inference
// validate the model and fill in value shapes; then the default graph passes run and every
// remaining op must have a kernel.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace eff {

struct LoadOptions {
  bool run_passes = true;                      // run_default_passes() after conversion
  bool fuse_activations = true;                // PassOptions::fuse_activations
  bool fuse_residual_adds = true;              // PassOptions::fuse_residual_adds
  bool fold_constants = true;                  // PassOptions::fold_constants
  bool non_finite_inputs = false;              // PassOptions::non_finite_inputs
  bool fuse_qdq = true;                        // PassOptions::fuse_qdq
  bool require_supported = true;               // throw UnsupportedError for the first node without a kernel
  bool verbose = false;                        // notes (e.g. checks skipped for opset 18) go to stderr
  size_t max_file_bytes = size_t{2047} << 20;  // protobuf cannot parse messages of 2 GiB or more
  // Concrete shapes for graph inputs by name, set before shape inference so that every value gets
  // a static shape and shape sub-graphs fold (one specialisation per distinct input shape). Dims
  // the model fixes must agree (ShapeError naming the input otherwise).
  std::map<std::string, Shape> input_shapes;
  // PassOptions::layer_rewrite (e.g. DeftNN layers, src/deft), re-applied to every specialisation.
  std::function<void(Graph&)> layer_rewrite;
};

// Default-domain opsets the loader accepts.
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 18;
// Newest opset libonnx's checker and shape inference know; newer models skip them.
constexpr int64_t kMaxCheckedOpset = 17;

Graph load_onnx(const std::string& path, const LoadOptions& options = {});
// `name` stands for the file in messages; external data cannot be resolved from bytes.
Graph load_onnx_bytes(const void* data, size_t size, const std::string& name, const LoadOptions& options = {});

// The distinct op types (first-seen order) of nodes that have no kernel in the op registry or are
// in a domain other than "" / "ai.onnx".
std::vector<std::string> unsupported_ops(const Graph& g);

}  // namespace eff
