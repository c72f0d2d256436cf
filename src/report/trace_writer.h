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
#include "engine/quantized_layers.h"

namespace eff {

class TraceRecorder final : public LayerObserver {
 public:
  // With the graph, a quantized model's layers (engine/quantized_layers.h) are recorded as their
  // integer codes, code - zero point (int16), as profile and simulate see them.
  explicit TraceRecorder(const Graph* graph = nullptr) : graph_(graph) {}
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                const Tensor& output) override;
  bool reads_output_values() const override { return true; }  // output.npy
  // Per layer index: batches of activations/outputs in run order, and the weights.
  struct LayerCapture {
    std::vector<Tensor> activations;
    std::vector<Tensor> outputs;
    Tensor weights;
    // Quantized layers: the parameters, and per image the activation scale and zero point (they
    // change per run in dynamically quantized layers).
    LayerQuantization quant;
    std::vector<float> act_scales;
    std::vector<int32_t> act_zeros;
  };
  const std::map<int, LayerCapture>& captures() const { return captures_; }

 private:
  const Graph* graph_;
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
