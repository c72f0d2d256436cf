// Graph rewrites run after loading. Each keeps Node::origin up to date (the ONNX node names merged
// into a node) so that reports can still name layers the way the model file does.
#pragma once

#include "graph/ir.h"

namespace eff {

struct PassOptions {
  bool fold_constants = true;
  bool fold_batchnorm = true;
  bool fuse_hardswish = true;
  bool fuse_activations = true;  // Relu into Conv/Gemm/MatMul as attribute activation="Relu"
};

// Drops Identity nodes and inference-mode Dropout, rewiring consumers to the input.
void remove_identity_and_dropout(Graph& g);

// fp16 storage, fp32 arithmetic: float16 constants and intermediate values become float32 (exact),
// Cast(to=FLOAT16) inside the graph rounds to float16 precision and widens again, float16 graph
// inputs are widened on entry and float16 graph outputs narrowed on exit (their declared types
// stay). Every kernel then runs in float32 unchanged.
void lower_float16(Graph& g);

// Conv/Gemm/MatMul fed by DequantizeLinear of 8-bit codes on both operands (activations per-tensor,
// constant weights per-tensor or per-axis) get the quantization as internal attributes
// (engine/quantized_layers.h), so that profile and simulate see the integer codes after constant
// folding has dequantized the weights.
void mark_quantized_layers(Graph& g);

// Evaluates, with the registered kernels, every deterministic node whose inputs are all constant,
// and Shape of values whose static shape is fully known (dynamic dims stay dynamic).
void fold_constants(Graph& g);

// Conv/ConvTranspose/Gemm followed by BatchNormalization with constant parameters -> one node with
// rescaled weights and bias.
void fold_batchnorm(Graph& g);

// x * Clip(x + 3, 0, 6) / 6 and x * HardSigmoid(x; 1/6, 0.5) -> HardSwish(x).
void fuse_hardswish(Graph& g);

// Relu that is the sole consumer of a Conv/Gemm/MatMul output -> attribute
// activation="Relu" on that node (kind kString); the kernels apply it as a post-op.
void fuse_activations(Graph& g);

// All of the above in a sensible order, then graph.compact().
void run_default_passes(Graph& g, const PassOptions& options = {});

}  // namespace eff
