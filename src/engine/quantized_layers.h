// Conv/FC layers of quantized (QDQ) models as value-based accelerators see them: integer codes.
// A Conv, Gemm or MatMul whose activations come through DequantizeLinear (per-tensor) and whose
// constant weights come through DequantizeLinear (per-tensor or per output channel) of int8/uint8
// codes is marked by mark_quantized_layers() (src/graph/passes.h) before constant folding turns
// the weights into floats. The layer still runs on the float oneDNN kernels; the profiler and the
// simulator recover the codes exactly from the float operands: a float operand is
// (code - zero_point) * scale, so round(value / scale) = code - zero_point for 8-bit codes (the
// rounding error of the product is far below half a step).
//
// Designs see code - zero_point: what the multiplier of an integer datapath consumes once the
// zero point is subtracted (ORT's integer kernels and the usual 8-bit accelerators do the same).
// With symmetric int8 weights (zero point 0) that is the stored code itself; uint8 activations
// after ReLU are usually quantized with zero point 0 and keep their codes 0..255.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "engine/executor.h"
#include "engine/value_transform.h"

namespace eff {

struct LayerQuantization {
  bool present = false;
  // QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger: the operands are the 8-bit codes
  // themselves (code - zero point); QDQ layers: float operands (code - zero point) * scale.
  bool integer_operands = false;
  // Dynamically quantized layers: the activation scale and zero point are computed per input at
  // run time (DynamicQuantizeLinear); act_scale / act_zero are those of the run observed.
  bool dynamic = false;
  float act_scale = 1.0f;
  int32_t act_zero = 0;
  int act_bits = 16;             // two's-complement width (sign included) that holds every code - zero point
  std::vector<float> wgt_scale;  // one value, or one per index along wgt_axis
  std::vector<int32_t> wgt_zero;
  int wgt_axis = 0;
  int wgt_bits = 16;
  // Whether the layer itself knows its scales: ConvInteger and MatMulInteger take none (the model
  // rescales their int32 sums afterwards); a dynamically quantized input's scale is known from
  // its DynamicQuantizeLinear. Unknown scales stay 1.
  bool act_scale_known = true, wgt_scale_known = true;
};

// Node attribute names mark_quantized_layers() writes (internal; never read from model files).
inline constexpr const char* kQuantActScale = "eff.quant.act_scale";
inline constexpr const char* kQuantActZero = "eff.quant.act_zero";
inline constexpr const char* kQuantActBits = "eff.quant.act_bits";
inline constexpr const char* kQuantWgtScale = "eff.quant.wgt_scale";
inline constexpr const char* kQuantWgtZero = "eff.quant.wgt_zero";
inline constexpr const char* kQuantWgtAxis = "eff.quant.wgt_axis";
inline constexpr const char* kQuantWgtBits = "eff.quant.wgt_bits";

// The quantization of a layer found by find_layers(); `present` false for float layers.
LayerQuantization layer_quantization(const Graph& g, const LayerInfo& layer);

// Where QLinearConv, ConvInteger, QLinearMatMul and MatMulInteger keep their operands and
// quantization parameters (-1: the op has no such input).
struct IntegerLayerInputs {
  int weights = 1, act_scale = -1, act_zero = 2, wgt_scale = -1, wgt_zero = 3, bias = -1;
  bool conv = false;
};
// For those ops with constant 8-bit weights and per-tensor activation parameters (the layers
// find_layers() reports); false otherwise. Fills `q` when given. The activation parameters are
// constants, or run-time scalars (dynamic quantization): then `q` holds the widest format the
// code type allows (every zero point) and the scale and zero point come from the observed layer.
bool integer_layer_inputs(const Graph& g, const Node& n, IntegerLayerInputs& in, LayerQuantization* q = nullptr);

// The run-time values holding a dynamically quantized layer's activation zero point and scale
// (kNoValue: constant or absent). The scale of ConvInteger/MatMulInteger, which take none, is the
// one DynamicQuantizeLinear computed with their input codes.
void runtime_act_values(const Graph& g, const Node& n, const IntegerLayerInputs& in, ValueId& zero, ValueId& scale);

// Whether some layer is dynamically quantized (its activation zero point or scale is a run-time
// value). DynamicQuantizeLinear takes one range per tensor, so such a model's values for an image
// depend on the other images of its batch: profile and trace then run one image per inference, as
// the live simulator does, so that each image is quantized on its own.
bool has_dynamic_layers(const std::vector<LayerInfo>& layers);

// Smallest two's-complement width holding [lo, hi].
int bits_for_range(int64_t lo, int64_t hi);

// The widths a QDQ layer's codes really use (mark_quantized_layers records them): exports of
// fewer than 8 bits keep their codes in int8/uint8, and this is the precision they were made with.
// Weights: the range of code - zero point over every stored code (`zeros` one per index along
// `axis`, or one).
int used_weight_bits(const Tensor& codes, const std::vector<int64_t>& zeros, int64_t axis);
// Activations: when a constant Clip bounds the input of the QuantizeLinear feeding `dq` (Clip ->
// QuantizeLinear -> DequantizeLinear, as `effectual quantize` writes them), the width of the codes
// of the Clip's bounds minus the zero point; `fallback` (the code type's width) otherwise.
int used_activation_bits(const Graph& g, const Node& dq, DType code_type, int64_t zero, int fallback);

// code - zero_point of `count` operand values from element `first` (count < 0: to the end): float
// operands divided by their scale (exact for values the layer's DequantizeLinear produced),
// 8-bit operands minus their zero point. Activations are per-tensor; weights per-axis.
std::vector<int16_t> activation_codes(const LayerQuantization& q, const Tensor& acts, int64_t first = 0,
                                      int64_t count = -1);
std::vector<int16_t> weight_codes(const LayerQuantization& q, const Tensor& weights);

}  // namespace eff
