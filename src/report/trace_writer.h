// Captures what each conv/FC layer consumed and produced, and writes it as a trace directory
// (docs/trace-format.md): per layer input activations, weights and outputs as .npy, plus
// manifest.json with the geometry and any value transform applied. manifest.json is written
// last, so a directory without it is an incomplete trace. `dnnsim` layout is also available.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/geometry.h"

namespace eff {

class TraceRecorder final : public LayerObserver {
 public:
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                const Tensor& output) override;
  // Per layer index: batches of activations/outputs in run order, and the weights.
  struct LayerCapture {
    std::vector<Tensor> activations;
    std::vector<Tensor> outputs;
    Tensor weights;
  };
  const std::map<int, LayerCapture>& captures() const { return captures_; }

 private:
  std::map<int, LayerCapture> captures_;
};

struct TraceWriteOptions {
  std::string dir;
  bool effectual_layout = true;
  bool dnnsim_layout = false;
  nlohmann::json manifest_extra;  // merged into manifest.json (model, inputs, transforms)
};

// Concatenates captured batches along dim 0 and writes the trace. Returns the manifest.
nlohmann::json write_trace(const TraceWriteOptions& opts, const std::vector<LayerGeometry>& geometry,
                           const std::vector<LayerInfo>& layers, const std::map<std::string, LayerTransform>& xforms,
                           const TraceRecorder& rec);

Tensor concat_batches(const std::vector<Tensor>& parts);
nlohmann::json transform_to_json(const LayerTransform& t);

}  // namespace eff
