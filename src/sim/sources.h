// Where the simulated values come from: (a) live capture from the engine (a LayerObserver that
// simulates each layer as it is produced, then drops its tensors), (b) a trace directory written
// by `effectual trace` (read layer by layer), (c) synthetic values for a network description.
// All three build SimLayers through make_sim_layer(), the single place where quantization,
// padding, space-to-depth and group mapping happen.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/geometry.h"
#include "engine/value_transform.h"
#include "sim/layer.h"
#include "sim/simulator.h"

namespace eff::sim {

struct SimLayerOptions {
  int image = 0;
  bool first_layer = false;
  bool space_to_depth = true;                 // apply the first-layer rule of spec §2.0 item 2
  bool fc_weights_in_by_out = false;          // FC weights stored [Ni, Nf] (MatMul, Gemm transB=0)
  const LayerTransform* transform = nullptr;  // precision profile / threshold of this layer
  bool fc_over_rows = false;                  // a 1x1 convolution standing for an FC layer over rows (fc_rows.h)
  // The model stores the FC weights input-major ([Ni, Nf]) off-chip, whatever order the codes
  // were rearranged to (SimLayer::wgts_input_major_offchip).
  bool wgts_input_major_offchip = false;
};

// The shared quantization rule (docs/simulator.md): a fixed-point format from the precision
// profile when it gives one; otherwise derived from the tensor's largest magnitude m: int_bits =
// the fewest (sign included) with 2^(int_bits-1) > m, frac_bits = 16 - int_bits.
FixedPointFormat derive_format(const float* v, int64_t n);

// Refuses (ShapeError naming the layer) a layer whose padded input or weight codes would exceed
// the engine's tensor size limit, before anything is read or allocated.
void check_layer_size(const LayerGeometry& g);

// `acts`: one image, float [Ni][Ny][Nx] (FC: [Ni]); `wgts`: ONNX layout (conv [Nf][Ni/g][Ky][Kx];
// FC [Nf][Ni] or [Ni][Nf]). Throws ShapeError if the geometry is inconsistent.
SimLayer make_sim_layer(const LayerGeometry& g, const float* acts, const float* wgts, const SimLayerOptions& o);

// A layer's weights quantized and laid out for the simulator once, for several images of the
// layer: make_sim_layer(g, acts, std::move(w), o) moves them into the layer (its `wgts`), from
// where the caller may move them back after simulating. Same result as the float overload.
struct SimWeights {
  std::vector<int16_t> codes;  // [K][Ky][Kx][C] (FC [K][C]), first-layer fold applied
  FixedPointFormat format;
  int bits = 16;
  bool negative = false;
};
SimWeights make_sim_weights(const LayerGeometry& g, const float* wgts, const SimLayerOptions& o);
SimLayer make_sim_layer(const LayerGeometry& g, const float* acts, SimWeights&& w, const SimLayerOptions& o);

// Geometry + values from codes already at a precision (synthetic source and tests): acts
// [Ni][Ny][Nx] codes, wgts [Nf][Ni/g][Ky][Kx] codes. Taken by value: FC weights (and the values
// of layers whose layout needs no change) are moved, not copied.
SimLayer make_sim_layer_from_codes(const LayerGeometry& g, std::vector<int16_t> acts, std::vector<int16_t> wgts,
                                   int act_bits, int wgt_bits, const SimLayerOptions& o);

// ---- (a) live capture --------------------------------------------------------------------------

class CaptureSimulator final : public LayerObserver {
 public:
  CaptureSimulator(SimRun& run, std::map<std::string, LayerTransform> transforms, const Graph& graph,
                   bool space_to_depth = true, bool keep_outputs = false)
      : run_(run),
        transforms_(std::move(transforms)),
        graph_(graph),
        space_to_depth_(space_to_depth),
        keep_outputs_(keep_outputs) {}
  // Index of the first image of the next Executor::run() batch.
  void set_first_image(int i) { first_image_ = i; }
  // Keep each layer's quantized weights for the next images (runs of several images): they are
  // quantized once per run instead of once per image, at the cost of holding every layer's weight
  // codes (half the float model's size). Only constant weights are kept.
  void set_keep_weights(bool keep) { keep_weights_ = keep; }
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                const Tensor& output) override;
  bool reads_output_values() const override { return true; }  // the output check
  int layers_seen() const { return layers_seen_; }

 private:
  SimRun& run_;
  std::map<std::string, LayerTransform> transforms_;
  const Graph& graph_;
  bool space_to_depth_;
  bool keep_outputs_;  // attach the engine's outputs for --check-values
  bool keep_weights_ = false;
  std::map<int, SimWeights> weights_;  // by layer index, with keep_weights_
  int first_image_ = 0;
  int layers_seen_ = 0;
};

// ---- (b) traces --------------------------------------------------------------------------------

struct TraceOptions {
  int64_t first = 0;   // first image of the trace to simulate
  int64_t images = 0;  // 0: all
  bool space_to_depth = true;
  int threads = 1;
  // Extra transforms (e.g. --thresholds applied at simulation time), by layer name.
  std::map<std::string, LayerTransform> transforms;
  std::function<void()> on_layer_done;  // progress
};
// Simulates every layer of the trace; returns the number of images. Corrupt or truncated traces
// throw TraceError naming the file and the field.
int simulate_trace_dir(const std::string& dir, SimRun& run, const TraceOptions& o);
// Layers listed in the trace manifest (for progress totals and tests).
std::vector<LayerGeometry> read_trace_manifest(const std::string& dir);

// ---- (c) synthetic values ----------------------------------------------------------------------

struct SyntheticSpec {
  double zero_fraction = 0.44;            // seed 001 Figure 4: 44% of conv input activations are zero
  std::string magnitude = "half-normal";  // "uniform" | "log-uniform" | "half-normal"
  int act_bits = 16;                      // precision P of the (unsigned) activations: magnitude bits
  int wgt_bits = 16;
  uint64_t seed = 1;
};
void validate_synthetic(const SyntheticSpec& s);

// Deterministic codes for image `image` of layer g: depends only on (seed, image, layer index).
// Without `weights`, the layer's weight codes are left empty (for designs that never read them).
SimLayer synthetic_layer(const LayerGeometry& g, const SyntheticSpec& s, int image, bool first_layer,
                         bool space_to_depth = true, bool weights = true);

// A network description: a YAML file with `layers:` (see docs/simulator.md), or a preset name
// ("vgg16": the 13 conv + 3 FC layers of VGG-16 at 224x224).
std::vector<LayerGeometry> network_from_yaml(const std::string& text, const std::string& file);
std::vector<LayerGeometry> network_preset(const std::string& name);  // empty if unknown

// Simulates images [0, images) of a synthetic network; parallel over images and layers.
void simulate_synthetic(const std::vector<LayerGeometry>& net, const SyntheticSpec& s, int images, SimRun& run,
                        int threads, bool space_to_depth = true, const std::function<void()>& on_layer_done = {});

}  // namespace eff::sim
