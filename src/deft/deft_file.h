// The optimized model `effectual optimize` writes (docs/deft.md, "The optimized model"), three files
// side by side:
//   NAME.onnx       the original model, byte for byte (ONNX Runtime and any other tool still run it
//                   as the fp32 network it was);
//   NAME.json       the original sidecar (classes, preprocessing, ...) plus a "deft" object: the
//                   per-layer plan (format, fp8 exponent width and bias, kept synapses);
//   NAME.deft.bin   each planned layer's weights (M x K', columns in the kept-synapse order, after
//                   the compensation) then its bias (M), fp32 little-endian, at the offsets the plan
//                   gives.
// Every command that loads a model (cli::load) sees the "deft" object in the sidecar and runs the
// planned layers as DeftLayer nodes, so `run`, `eval`, `bench` and `profile` load it like any model.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "deft/deft_model.h"

namespace eff::deft {

inline constexpr const char* kPlanFormat = "effectual-deft-plan";

// Writes OUT.onnx, OUT.json and OUT.deft.bin (OUT: `out_model` without its extension), each
// atomically. `sidecar` is the source model's sidecar JSON (null: none); `extra` is merged into
// the "deft" object (what the optimizer measured: accuracy, times), and each plan layer's entry
// gets `layer_extra[name]` when given.
void write_optimized_model(const std::string& source_model, const nlohmann::json& sidecar, const DeftModelPlan& plan,
                           const nlohmann::json& extra, const nlohmann::json& layer_extra,
                           const std::string& out_model);

// The plan of a sidecar's "deft" object (`sidecar_path` locates the weights file and names the
// file in errors). ConfigError naming the file and field for anything malformed, DataError when
// the weights file is missing or of the wrong size.
DeftModelPlan read_optimized_plan(const nlohmann::json& deft, const std::string& sidecar_path);

}  // namespace eff::deft
