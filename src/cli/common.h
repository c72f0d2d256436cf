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
  // "1,3,224,224" (the first input) or "name:1,3,224,224"; one per input.
  std::vector<std::string> input_shapes;
  // DeftNN layers (src/deft): "FORMAT[,alpha=A][,compensation=C]" for every conv/FC layer the
  // kernels cover; calibration images for synapse vector elimination.
  std::string deft;
  std::string deft_calibration;
  int64_t deft_images = 256;
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

// Checks for counts given on the command line: integers only (CLI11's PositiveNumber accepts
// "1e308" and "inf" and reports a range up to DBL_MAX).
CLI::Validator positive_count();
CLI::Validator non_negative_count();

// MODEL, --meta, --threads, --json, --preprocess, --input-shape; with `hooks`, also
// --precision-profile and --thresholds.
void add_model_flags(CLI::App* c, Common& o, bool hooks);
// --data, --input, --labels.
void add_input_flags(CLI::App* c, Inputs& in);
Shape parse_shape(const std::string& s);
// "--input-shape" values: "dims" (the first input, key "") or "name:dims".
std::map<std::string, Shape> parse_input_shapes(const std::vector<std::string>& specs);
// --threads: 0 (all cores) as is; more threads than this process may run on is capped, with a
// notice on stderr.
int usable_threads(int requested);
// How many of `requested` items (0: all) the data holds from `first`; says on stderr when the
// request was larger than what is there. `flag` names the option ("--images").
int64_t items_to_use(const Dataset& data, int64_t first, int64_t requested, const std::string& flag, bool quiet);
// Loads the model, its sidecar and value-hook files, and builds an executor.
Loaded load(const Common& o, LayerObserver* observer = nullptr);
Preprocess model_preprocess(const Model& m);
// The data set named by --data, or the tensors of --input/--labels; a UsageError if neither or both.
std::unique_ptr<Dataset> open_inputs(const Model& m, const Inputs& in);
void print_json(const nlohmann::json& j);
bool has_ext(const std::string& p, std::initializer_list<const char*> exts);
// An image (preprocessed per the model) or a .npy tensor, as a batch for graph input `input`: a
// tensor with one dim fewer than the input gets a batch of 1; numbers convert to the input's type.
Tensor load_input_file(const Model& m, const std::string& path, size_t input = 0);

}  // namespace eff::cli
