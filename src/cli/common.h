// What every command shares: the model and input flags, loading a model with its value hooks, and
// turning --data / --input / files into tensors. New commands (one file each in src/cli/) build on
// these so that flags mean the same thing everywhere.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "engine/value_transform.h"

namespace eff::cli {

// Flags several commands share.
struct Common {
  std::string model;
  std::string meta;
  int threads = 0;
  bool json = false;
  bool verbose = false;
  std::string precision_profile;
  std::string thresholds;
  std::string preprocess;
  std::string input_shape;  // "1,3,224,224"
};

struct Inputs {
  std::string data;
  std::string input;
  std::string labels;
};

struct Loaded {
  Model model;
  std::vector<LayerInfo> layers;
  std::map<std::string, LayerTransform> transforms;
  std::unique_ptr<Executor> exec;
};

// MODEL, --meta, --threads, --json, --preprocess, --input-shape; with `hooks`, also
// --precision-profile and --thresholds.
void add_model_flags(CLI::App* c, Common& o, bool hooks);
// --data, --input, --labels.
void add_input_flags(CLI::App* c, Inputs& in);
Shape parse_shape(const std::string& s);
// Loads the model, its sidecar and value-hook files, and builds an executor.
Loaded load(const Common& o, LayerObserver* observer = nullptr);
Preprocess model_preprocess(const Model& m);
// The data set named by --data, or the tensors of --input/--labels; a UsageError if neither or both.
std::unique_ptr<Dataset> open_inputs(const Model& m, const Inputs& in);
void print_json(const nlohmann::json& j);
bool has_ext(const std::string& p, std::initializer_list<const char*> exts);
// An image (preprocessed per the model) or a .npy tensor, as a batch.
Tensor load_input_file(const Model& m, const std::string& path);

}  // namespace eff::cli
