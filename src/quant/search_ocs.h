// Outlier channel splitting as an option of the precision search (`search precision
// --ocs-ratio R`): the search runs on the split model, which computes the float model's function
// with the largest weight and activation channels of every layer halved, so the fixed-point
// formats it finds are those of the split layers (fewer integer bits where an outlier was halved).
// The split model is written beside the profile: the profile applies to it, not to the original.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/ir.h"

namespace eff::quant {

struct SplitLayer {
  std::string name;
  int64_t channels = 0, expanded = 0;
  int weight_splits = 0, act_splits = 0;
  double weight_max = 0, weight_max_split = 0;  // max |w| before and after splitting
  double act_max = 0, act_max_split = 0;        // max |input| on the calibration batches, before and after
};

struct SplitModel {
  Graph graph;  // the prepared float model with every splittable layer expanded (quant/ocs.h)
  double ratio = 0;
  std::vector<SplitLayer> layers;
  int64_t parameters = 0, added_parameters = 0;
};

// Splits ceil(ratio x C) weight channels and as many activation channels (maxima of `batches`,
// graph-input order) of every Conv/Gemm/MatMul layer of the model at `path`.
SplitModel split_for_search(const std::string& path, double ratio, std::vector<std::vector<Tensor>> batches,
                            int threads);

nlohmann::json split_model_json(const SplitModel& m, const std::string& written_to);
// A few lines for the search summary: the ratio, the file, each split layer's channels and maxima.
std::string split_model_text(const SplitModel& m, const std::string& written_to);

}  // namespace eff::quant
