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
  // Gated conv layers (src/gating, docs/gating.md): a gates file written by `effectual gate --out`.
  std::string gates;
  // QDQ layers keep their float kernels instead of ORT's integer ops (graph/passes.h, fuse_qdq):
  // for value hooks, which act on the dequantized floats (set by load() when hooks are given, and
  // by the searches, which apply hooks of their own).
  bool float_qdq = false;
};

struct Inputs {
  std::string data;
  std::vector<std::string> input;  // FILE.npy, or NAME=FILE.npy per graph input
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
// --search-images, --report-images, --seed: the disjoint subsets an accuracy target is searched on
// and reported on (the library checks the counts, for `import effectual` too).
void add_subset_flags(CLI::App* c, int64_t& search_images, int64_t& report_images, uint64_t& seed);
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
// --input for a model that takes images is an N x C x H x W .npy (open_npy_dataset); for any other
// model, one .npy per graph input (NAME=FILE.npy, or FILE.npy for a single input) of the input's
// rank, sharing the first dimension (open_tensor_dataset). --data FILE.npz feeds every input at once
// (open_npz_inputs).
std::unique_ptr<Dataset> open_inputs(const Model& m, const Inputs& in);
// A numpy.savez archive with one array per graph input, named as the input, sharing the first
// dimension (the items); an array 'labels' (integers [N], unless an input has that name) labels
// them. A missing, unknown, mismatched or compressed array is one line naming the file and array.
std::unique_ptr<Dataset> open_npz_inputs(const Model& m, const std::string& path);
// A data source named by a flag other than --data (`flag`: "--search-data", "--calib-data" ...):
// FILE.npz feeds every input (open_npz_inputs); any other set feeds a one-input model, and a
// model with more inputs is refused in one line naming the flag.
std::unique_ptr<Dataset> open_data_source(const Model& m, const std::string& path, const std::string& flag);
// --data or the --input files, for messages and reports.
std::string inputs_source(const Inputs& in);
// One input of rank 4, or of unknown rank: image data (data sets, image files, N x C x H x W .npy).
bool takes_images(const Model& m);
// "a, b": the graph inputs' names, for messages.
std::string input_names(const Graph& g);
// Whether any of `args` is NAME=FILE with NAME a graph input.
bool names_inputs(const Graph& g, const std::vector<std::string>& args);
// NAME=FILE.npy, one per graph input, each read by load_input_file: the tensors in graph-input order,
// each with its argument. A UsageError names an unknown, repeated or missing input.
std::vector<std::pair<std::string, Tensor>> load_named_inputs(const Model& m, const std::vector<std::string>& args);
void print_json(const nlohmann::json& j);
bool has_ext(const std::string& p, std::initializer_list<const char*> exts);
// An image (preprocessed per the model) or a .npy tensor, as a batch for graph input `input`: a
// tensor with one dim fewer than the input gets a batch of 1; numbers convert to the input's type;
// a .npy whose shape does not fit the input's is a ShapeError naming the file and the input.
Tensor load_input_file(const Model& m, const std::string& path, size_t input = 0);
// `t` converted to graph input `input`'s type and checked against its shape (`source` names it in
// the ShapeError); `single_item`: one dim fewer than the input gets a batch of 1.
Tensor fit_input(const Model& m, Tensor t, const std::string& source, size_t input, bool single_item);

}  // namespace eff::cli
