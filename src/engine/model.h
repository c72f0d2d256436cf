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
#include "onnx/loader.h"

namespace eff {

struct ModelMeta {
  std::string path;  // the sidecar's path, empty if none
  std::string name;
  std::vector<std::string> classes;
  nlohmann::json preprocessing;  // null when the sidecar gives none
  Shape input_shape;             // per-image shape incl. a batch of 1, when known
  std::optional<double> test_accuracy_top1;
  // A model written by `effectual optimize`: its DeftNN plan (deft/deft_file.h); null otherwise.
  nlohmann::json deft;
};

struct Model {
  std::string path;
  Graph graph;  // after the default passes
  ModelMeta meta;
  LoadOptions load_options;  // as loaded; specialisations reuse them
  // Shapes given for graph inputs by name (--input-shape name:1,3,H,W); "" is the first input.
  std::map<std::string, Shape> shape_overrides;

  // The shape of every graph input when no tensor says (geometry, benchmarks on generated data):
  // --input-shape, else the sidecar's (first input), else the declared shape with a dynamic batch
  // as 1. A UsageError names the input and its dims when something is still unknown.
  std::vector<Shape> input_shapes() const;
  // The first input's (classifiers have one input).
  Shape input_shape() const { return input_shapes().at(0); }
  // The model loaded again with every graph input's shape fixed: ONNX shape inference re-run for
  // those shapes, so shape sub-graphs fold to constants.
  Graph graph_for_shapes(const std::vector<Shape>& shapes) const;
  // A GraphSpecializer for ExecutorOptions (copies what it needs: outlives the Model).
  GraphSpecializer specializer() const;
  std::string class_name(int64_t k) const;
};

struct ModelLoadOptions {
  std::string meta_path;  // explicit sidecar; empty: <model>.json if it exists
  bool fuse_activations = true;
  bool fuse_qdq = true;  // LoadOptions::fuse_qdq
};

Model load_model(const std::string& path, const ModelLoadOptions& opts = {});
ModelMeta load_model_meta(const std::string& path);

}  // namespace eff
