// A model as users bring it: the ONNX file, plus an optional sidecar JSON (same path with .json)
// naming the classes, the preprocessing and the measured accuracy. Shipped models have one.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "graph/ir.h"

namespace eff {

struct ModelMeta {
  std::string path;  // the sidecar's path, empty if none
  std::string name;
  std::vector<std::string> classes;
  nlohmann::json preprocessing;  // null when the sidecar gives none
  Shape input_shape;             // per-image shape incl. a batch of 1, when known
  std::optional<double> test_accuracy_top1;
};

struct Model {
  std::string path;
  Graph graph;  // after the default passes
  ModelMeta meta;

  // The per-image input shape [1, C, H, W]: from the sidecar, else the graph input with
  // dynamic dims resolved to 1 for batch; throws UsageError if H/W are dynamic and unknown.
  Shape input_shape() const;
  std::string class_name(int64_t k) const;
};

struct ModelLoadOptions {
  std::string meta_path;  // explicit sidecar; empty: <model>.json if it exists
  bool fuse_activations = true;
};

Model load_model(const std::string& path, const ModelLoadOptions& opts = {});
ModelMeta load_model_meta(const std::string& path);

}  // namespace eff
