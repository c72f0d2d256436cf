// Graph rewrites run after loading. Each keeps Node::origin up to date (the ONNX node names merged
// into a node) so that reports can still name layers the way the model file does.
#pragma once

#include <functional>

#include "graph/ir.h"

namespace eff {

struct PassOptions {
  bool fold_constants = true;
  // QDQ node groups -> integer ops as ONNX Runtime fuses them (fuse_qdq_to_integer_ops); off when
  // value hooks must act on a QDQ layer's dequantized floats.
  bool fuse_qdq = true;
  bool fold_batchnorm = true;
  bool fuse_hardswish = true;
  bool blocked_layout = true;
  bool fuse_activations = true;    // Relu into Conv/Gemm/MatMul, Clip and HardSwish into Conv
  bool fuse_residual_adds = true;  // with fuse_activations: a residual Add (+ Relu) into its Conv
  // The graph runs inputs holding NaN/Inf: ops whose result then depends on the kernel's order
  // take ONNX Runtime's (mark_non_finite_orders).
  bool non_finite_inputs = false;
  // Replaces layers after activation fusion and before the blocked layouts are assigned (so that
  // the layout pass sees the replacements): DeftNN's packed layers (src/deft/deft_model.h).
  std::function<void(Graph&)> layer_rewrite;
};

// Drops Identity nodes and inference-mode Dropout, rewiring consumers to the input.
void remove_identity_and_dropout(Graph& g);

// fp16 storage, fp32 arithmetic: float16 constants and intermediate values become float32 (exact),
// Cast(to=FLOAT16) inside the graph rounds to float16 precision and widens again, float16 graph
// inputs are widened on entry and float16 graph outputs narrowed on exit (their declared types
// stay). Every kernel then runs in float32 unchanged.
void lower_float16(Graph& g);
// Then each such Cast(to=FLOAT16) read only by a Cast back to float becomes one Cast(to=FLOAT)
// with attribute via_float16=1: round to float16 and widen in one pass (float16_round_pass.cpp);
// after a linear or cubic Resize read only by it, the Resize itself rounds (via_float16 on it).
inline constexpr const char* kViaFloat16Attr = "via_float16";
void fold_float16_round_trips(Graph& g);

// Conv/Gemm/MatMul fed by DequantizeLinear of 8-bit codes on both operands (activations per-tensor,
// constant weights per-tensor or per-axis) get the quantization as internal attributes
// (engine/quantized_layers.h), so that profile and simulate see the integer codes after constant
// folding has dequantized the weights.
void mark_quantized_layers(Graph& g);

// DequantizeLinear -> Conv/MatMul/Gemm/Add/GlobalAveragePool -> QuantizeLinear groups become
// QLinearConv, QLinearMatMul (Gemm: weights transposed, int32 bias as a 9th input), QLinearAdd and
// QLinearGlobalAveragePool, and Q/DQ pairs around Reshape-like ops vanish, as ONNX Runtime's CPU
// provider rewrites them (qdq_fusion_pass.cpp; docs/quantization.md), so that QDQ models compute
// ORT's codes exactly. Runs after mark_quantized_layers (the fused nodes keep its attributes).
void fuse_qdq_to_integer_ops(Graph& g);

// Evaluates, with the registered kernels, every deterministic node whose inputs are all constant,
// and Shape of values whose static shape is fully known (dynamic dims stay dynamic).
void fold_constants(Graph& g);

// Conv/ConvTranspose/Gemm followed by BatchNormalization with constant parameters -> one node with
// rescaled weights and bias.
void fold_batchnorm(Graph& g);

// x * Clip(x + 3, 0, 6) / 6 and x * HardSigmoid(x; 1/6, 0.5) -> HardSwish(x).
void fuse_hardswish(Graph& g);

// Relu that is the sole consumer of a Conv/ConvTranspose/Gemm/MatMul output -> activation="Relu" on
// that node (kind kString); likewise Clip with constant bounds (activation="Clip" plus float
// attributes activation_min/activation_max), HardSwish (activation="HardSwish") and SiLU spelled
// Mul(x, Sigmoid(x)) (activation="Swish", both nodes fused) after a Conv.
// The kernels apply it as a post-op.
void fuse_activations(Graph& g);

// Activations kept in oneDNN's channel-blocked layout (nChw16c: 16 channels innermost) from one
// conv to the next, instead of a reorder to plain NCHW after every conv and back before the next
// (half the time of a MobileNet went into those). A value is blocked when every reader handles
// it: convs (attribute blocked_input=1 on the reader, blocked_output=1 on the writer), Adds
// of two blocked values of one shape and Relus (elementwise, so layout-blind; a residual
// block's Add then Relu) and nearest upsampling by
// whole factors (a feature pyramid's Resize; both attributes), and a squeeze-and-excitation
// block's GlobalAveragePool (blocked_input) and Mul by the per-channel gate (both, plus
// blocked_operand: which input is the blocked one), a 2-D MaxPool (both attributes); a channel
// Concat may write its result blocked (blocked_output), reading each input plain or, where it
// starts on a block boundary, blocked (blocked_inputs). Such tensors keep their
// logical NCHW shape; their bytes are in blocked order, with the channels padded to a whole
// number of blocks (zeros) in storage beyond the logical size, so the Adds and Relus, which see
// only the logical size, take whole blocks only. Graph outputs stay plain; observers and value transforms
// get plain copies (executor, engine/blocked_layout.h).
constexpr int64_t kBlockedChannels = 16;
inline constexpr const char* kBlockedInputAttr = "blocked_input";
inline constexpr const char* kBlockedOutputAttr = "blocked_output";
inline constexpr const char* kBlockedOperandAttr = "blocked_operand";  // which input of a Mul
// A blocked Concat's inputs: 1 for each one that arrives blocked (copied as whole blocks).
inline constexpr const char* kBlockedInputsAttr = "blocked_inputs";
void assign_blocked_layouts(Graph& g);

// A residual block's Add(Conv(x), shortcut), and a Relu read only from it, -> one Conv node with
// the shortcut as input 3 (inputs: x, w, bias or none, shortcut), attribute residual_add=1 and,
// with the Relu, activation="Relu" (applied after the sum). The fused node takes the Add's place
// in the node order. Runs after assign_blocked_layouts: the shortcut is in the layout the conv
// writes. The layer's output (for observers: LayerInfo::output) is then the block's output, not
// the conv's; the simulator does not check such a layer's output.
inline constexpr const char* kResidualAddAttr = "residual_add";
void fuse_residual_adds(Graph& g);

// For inputs holding NaN/Inf: each 2-D float MaxPool (no Indices output, no dilation) gets the
// fold order ONNX Runtime's kernel would use on it (engine/ops/max_pool_ort_order.h), measured on
// an AVX-512 machine: its channel-blocked kernel (taps in order) where the channels fill blocks of
// 16 and the pool is float32 or reads a node's output, else MLAS's plain kernel (columns, then
// rows); and the fold's starting value (-inf for a float16 pool, which ONNX Runtime runs in float32
// and casts). Runs before lower_float16. Such pools stay in the plain layout. Each Conv gets
// direct_conv=1: Winograd's tile transforms spread a NaN over its whole 4 x 4 output tile, where a
// direct convolution (and ONNX Runtime) make NaN only within the 3 x 3 window.
inline constexpr const char* kMaxPoolFoldAttr = "ort_max_fold";      // 1: taps, 2: columns
inline constexpr const char* kMaxPoolLowestAttr = "ort_max_lowest";  // the fold's start and pad value
inline constexpr const char* kDirectConvAttr = "direct_conv";
void mark_non_finite_orders(Graph& g);

// All of the above in a sensible order, then graph.compact().
void run_default_passes(Graph& g, const PassOptions& options = {});

}  // namespace eff
