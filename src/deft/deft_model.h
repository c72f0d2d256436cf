// DeftNN on a whole model: which conv/FC layers run as DeftLayer nodes (deft/deft_layer.h), in which
// packed format, with which synapse vector elimination; the plan is made once on the fp32 graph
// (calibration activations for SVE) and applied as a graph rewrite at load time
// (LoadOptions::layer_rewrite), so `eval`, `bench` and `run` use it like any model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deft/formats.h"
#include "deft/sve.h"
#include "graph/ir.h"

namespace eff {
class Dataset;
}

namespace eff::deft {

struct DeftChoice {
  Format format = Format::kFp32;
  double alpha = 2.0;  // SVE correlation threshold; above 1: no elimination
  Compensation compensation = Compensation::kFold;
  // Which layers: "all", "fc" (memory-bound at small batches: where 8/16-bit weights pay) or "conv".
  std::string layers = "all";
  bool batch_split = false;  // DeftModelPlan::batch_split
  bool sve() const { return alpha <= 1.0; }
  // Whether planning runs the fp32 graph on calibration data (SVE's correlations, int8's ranges).
  bool needs_calibration() const { return sve() || format == Format::kInt8; }
};
// "FORMAT[,alpha=A][,compensation=none|scale|fold][,layers=all|fc|conv][,batch_split=0|1]"; UsageError naming `flag`
// otherwise (also for int8 with an alpha: int8 runs without elimination).
DeftChoice parse_deft_choice(const std::string& spec, const std::string& flag);

struct DeftLayerPlan {
  std::string name;  // the node's name
  bool conv = false;
  Format format = Format::kFp32;
  Fp8Spec fp8;
  int64_t depth = 0;  // K before elimination
  SvePlan sve;
  Compensation compensation = Compensation::kNone;
  SveWeights weights;  // M x (K - D), bias M
  // At most this many threads run the layer (0: as many as the run has). `optimize` sets 1 where a
  // team costs more than it saves (small layers at batch 1: a team start, barriers, and the other
  // core's half of the input and output moving between the cores' caches).
  int threads = 0;
  // kInt8: the layer's input scale and zero point from calibration (deft/formats.h).
  Int8Input int8;
};

struct DeftModelPlan {
  std::vector<DeftLayerPlan> layers;
  std::vector<std::string> skipped;  // "name: why" for conv/FC layers the kernels do not cover
  int64_t calibration_images = 0;
  // apply_deft pairs DeftLayers that read one input (below). Off in optimize's per-layer timing, so
  // that each layer has a node time of its own (a pair's time would all go to its first layer).
  bool pair_layers = true;
  // Run each thread's share of a batch through the whole network on that thread (no team per
  // layer; engine/executor.h, kBatchSplitAttr): `optimize` sets it where its end-to-end timing at
  // batch 2 or more says it beats the team. Results are the same bits either way.
  bool batch_split = false;
};

// Whether the node (Conv 2-D one group, or Gemm without transA/alpha/beta, constant weights,
// fused Relu or none) can become a DeftLayer; `why` says what stops it.
bool deft_eligible(const Graph& g, const Node& n, std::string* why);

// `calibration` (its first `images` items) is needed when the choice eliminates synapse vectors or
// is int8.
DeftModelPlan plan_deft(const Graph& g, const DeftChoice& choice, const Dataset* calibration, int64_t images,
                        int threads);

// The pieces of plan_deft, for callers that plan layer by layer (deft/optimize.h):
// each named layer's synapse-vector samples (im2row rows / FC input rows, at most 4096 per layer)
// as the fp32 graph runs the first `images` calibration items;
using CalibrationSamples = std::map<std::string, std::vector<float>>;
CalibrationSamples collect_calibration_samples(const Graph& g, const std::vector<std::string>& layers,
                                               const Dataset& calibration, int64_t images, int threads);
// each named layer's input range [min, max] over the first `images` calibration items (int8's
// activation scale and zero point: choose_int8_input);
using InputRanges = std::map<std::string, std::pair<float, float>>;
InputRanges collect_input_ranges(const Graph& g, const std::vector<std::string>& layers, const Dataset& calibration,
                                 int64_t images, int threads);
// the elimination of one layer (alpha above 1: none; else `samples` must hold the layer's);
SvePlan plan_sve(const Graph& g, const std::string& layer, double alpha, const CalibrationSamples* samples,
                 int threads);
// and the layer's plan in `format` for that elimination (weights reordered and compensated). kInt8
// needs the layer's input quantization (`int8`; UsageError without it) and no elimination.
DeftLayerPlan plan_layer(const Graph& g, const std::string& layer, Format format, const SvePlan& sve,
                         Compensation compensation, const Int8Input* int8 = nullptr);

// Replaces the planned nodes by DeftLayer nodes (names kept; ModelError if a node is missing or
// no longer eligible). A residual Add (and its Relu) after a DeftLayer conv goes into the conv's
// epilogue unless `fuse_residual_adds` is off (the tests compare both: same bits). Two DeftLayer
// convs reading the same input become one node that can run them at once unless `pair_layers` is
// off (same bits either way).
void apply_deft(Graph& g, const DeftModelPlan& plan, bool fuse_residual_adds = true, bool pair_layers = true);

// One line per layer: name, kind, format, K -> K - D, weight bytes.
std::string describe_plan(const DeftModelPlan& plan);

}  // namespace eff::deft
