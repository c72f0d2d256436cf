// Data-free post-training quantization of a float model into standard ONNX QDQ (docs/quantize.md):
// every Conv, Gemm and MatMul layer with constant weights gets
//   weights      DequantizeLinear(int8/uint8 codes, scale, zero point[, axis]) (OCS-expanded)
//   activations  [Gather (+ Mul) of the split channels] -> [Clip] -> QuantizeLinear ->
//                DequantizeLinear, per tensor, when activation bits are given
// with thresholds from the clipping methods (quant/clipping.h) and outlier channel splitting
// (quant/ocs.h). The result is what effectual's QDQ path (engine/quantized_layers.h) and ONNX
// Runtime both run; codes of fewer than 8 bits are stored in 8-bit types, their range bounded by
// the codes themselves (weights) or by the Clip in front of QuantizeLinear (activations).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/ir.h"
#include "quant/clipping.h"
#include "quant/ocs.h"

namespace eff::quant {

struct QuantOptions {
  int weight_bits = 8;  // 2..8
  int act_bits = 0;     // 0: weights only; else 2..8
  bool per_channel = false;
  bool asymmetric = false;
  ClipMethod weight_clip = ClipMethod::kNone;
  ClipMethod act_clip = ClipMethod::kNone;
  double ocs_ratio = 0;  // fraction of each layer's input channels split (weights; activations too with act_bits)
};
// UsageError for bits outside 2..8, a ratio outside [0, 1].
void validate(const QuantOptions& o);

// The float model prepared for quantization: loaded without the engine's fusions and layouts,
// constants folded, BatchNormalization folded into its conv, Identity/Dropout removed: still
// standard ONNX. Refuses (one line) models already quantized, float16 models, opsets below 10
// (13 with per-channel scales), non-default domains.
Graph load_float_graph(const std::string& path);

// How a layer is quantized and split: its weight's axes and what calibration found.
struct LayerSite {
  std::string name;
  std::string op;
  int node = 0;
  int in_axis = 1;     // weight axis of input channels
  int out_axis = 0;    // weight axis of output channels (per-channel scales)
  int act_axis = 1;    // activation axis of input channels (-1: last)
  int64_t groups = 1;  // grouped (transposed) convolutions: each group splits its own channels
};
// Every conv/FC layer of `g` (Conv, ConvTranspose, Gemm, MatMul); one-line UnsupportedError for
// layers it cannot quantize (Gemm with transA, MatMul with weights of rank > 2).
std::vector<LayerSite> layer_sites(const Graph& g);

// Per layer, the input activations over a calibration set: per-channel |x| maxima and moments,
// the smallest value, and (second pass) the histogram of the expanded input.
struct ActCalibration {
  std::vector<float> channel_max;
  std::vector<double> channel_sum_abs, channel_sum_sq;
  std::vector<int64_t> channel_count;
  float min_value = 0;
  MagnitudeStats expanded;  // of the input after splitting (max, moments, histogram)
  bool has_histogram = false;
};
using Calibration = std::map<std::string, ActCalibration>;

// First pass: per-channel statistics of every layer's input on `batches` (graph-input order).
Calibration calibrate_channels(const Graph& g, const std::vector<LayerSite>& sites,
                               const std::vector<std::vector<Tensor>>& batches, int threads);
// Second pass (MSE and KL need it): histograms of the inputs as the splits expand them.
void calibrate_histograms(const Graph& g, const std::vector<LayerSite>& sites,
                          const std::map<std::string, ChannelSplit>& splits,
                          const std::vector<std::vector<Tensor>>& batches, int threads, Calibration& cal);
// Moments and max of the expanded input from the first pass (no histogram).
void expanded_moments(const ChannelSplit& split, ActCalibration& c);

// The splits OCS makes on every layer for `o` (identity splits for ratio 0 or layers that
// cannot be split); activation splits need `cal` when o.act_bits > 0.
std::map<std::string, ChannelSplit> plan_splits(const Graph& g, const std::vector<LayerSite>& sites,
                                                const QuantOptions& o, const Calibration* cal);

// What was done to one layer, for reports.
struct LayerQuantReport {
  std::string name, op;
  int64_t in_channels = 0, expanded_channels = 0;
  int weight_splits = 0, act_splits = 0;
  double weight_max = 0;        // max |w| before splitting
  double weight_p999 = 0;       // 99.9th percentile of |w|
  double weight_max_split = 0;  // max |w| after splitting
  double weight_alpha = 0;      // the clipping threshold (largest over channels when per-channel)
  double weight_mse = 0;        // mean squared error of the quantized weights (against W')
  double act_max = 0, act_p999 = 0, act_alpha = 0, act_scale = 0;  // act_p999: from the histogram
  int act_zero = 0;
  // How far one activation step on every input moves an output at most: act_scale x the largest
  // sum of |dequantized w| over an output (0 without activation quantization). Two runtimes that
  // round some input codes differently stay within it.
  double output_step = 0;
  int64_t weights = 0, weights_added = 0;  // parameter counts
};

struct QuantizedModel {
  Graph graph;  // the QDQ graph
  std::vector<LayerQuantReport> layers;
  int64_t parameters = 0;        // all float parameters of the prepared model
  int64_t added_parameters = 0;  // by OCS
};

// Rewrites `g` (the prepared float graph) into the QDQ graph. `cal` (with histograms for MSE/KL
// activation clipping) is required when o.act_bits > 0.
QuantizedModel quantize_graph(const Graph& g, const std::vector<LayerSite>& sites, const QuantOptions& o,
                              const std::map<std::string, ChannelSplit>& splits, const Calibration* cal);

// Largest |value| of an fp32 tensor.
double max_abs(const Tensor& w);

// fp32 constants in the graph: the parameters OCS adds to.
int64_t count_parameters(const Graph& g);

// The float graph with OCS applied and no quantization (the split model, for equivalence checks).
Graph split_graph(const Graph& g, const std::vector<LayerSite>& sites,
                  const std::map<std::string, ChannelSplit>& splits);

}  // namespace eff::quant
