// Every supported ONNX op: one line each, "ONNX op type" -> factory in src/engine/ops/<family>.cpp.
// Several op types may share a factory that dispatches on node.op (e.g. the binary arithmetic ops).
#include "engine/kernel.h"

namespace eff {

#define EFFECTUAL_OPS(X)                                                                \
  X("Identity", make_identity)                                                          \
  X("Conv", make_conv)                                                                  \
  X("ConvTranspose", make_conv_transpose)                                               \
  X("Gemm", make_gemm)                                                                  \
  X("MatMul", make_matmul)                                                              \
  X("MaxPool", make_max_pool)                                                           \
  X("AveragePool", make_average_pool)                                                   \
  X("GlobalAveragePool", make_global_average_pool)                                      \
  X("GlobalMaxPool", make_global_max_pool)                                              \
  X("BatchNormalization", make_batch_normalization)                                     \
  X("LRN", make_lrn)                                                                    \
  X("Softmax", make_softmax)                                                            \
  X("LogSoftmax", make_log_softmax)                                                     \
  X("Relu", make_relu)                                                                  \
  X("LeakyRelu", make_leaky_relu)                                                       \
  X("Sigmoid", make_sigmoid)                                                            \
  X("HardSigmoid", make_hard_sigmoid)                                                   \
  X("HardSwish", make_hard_swish)                                                       \
  X("Tanh", make_tanh)                                                                  \
  X("Clip", make_clip)                                                                  \
  X("Elu", make_elu)                                                                    \
  X("Add", make_add)                                                                    \
  X("Sub", make_sub)                                                                    \
  X("Mul", make_mul)                                                                    \
  X("Div", make_div)                                                                    \
  X("PRelu", make_prelu)                                                                \
  X("Concat", make_concat)                                                              \
  X("Split", make_split)                                                                \
  X("Slice", make_slice)                                                                \
  X("Transpose", make_transpose)                                                        \
  X("Gather", make_gather)                                                              \
  X("Flatten", make_flatten)                                                            \
  X("Reshape", make_reshape)                                                            \
  X("Squeeze", make_squeeze)                                                            \
  X("Unsqueeze", make_unsqueeze)                                                        \
  X("Shape", make_shape)                                                                \
  X("Size", make_size)                                                                  \
  X("Pad", make_pad)                                                                    \
  X("Resize", make_resize)                                                              \
  X("Upsample", make_upsample)                                                          \
  X("GridSample", make_grid_sample)                                                     \
  X("ReduceMean", make_reduce_mean)                                                     \
  X("ReduceSum", make_reduce_sum)                                                       \
  X("ReduceMax", make_reduce_max)                                                       \
  X("ReduceMin", make_reduce_min)                                                       \
  X("ReduceProd", make_reduce_prod)                                                     \
  X("ReduceL1", make_reduce_l1)                                                         \
  X("ReduceL2", make_reduce_l2)                                                         \
  X("ReduceSumSquare", make_reduce_sum_square)                                          \
  X("ReduceLogSum", make_reduce_log_sum)                                                \
  X("ReduceLogSumExp", make_reduce_log_sum_exp)                                         \
  X("Constant", make_constant)                                                          \
  X("Cast", make_cast)                                                                  \
  X("CastLike", make_cast_like)                                                         \
  X("Dropout", make_dropout)                                                            \
  X("Pow", make_pow)                                                                    \
  X("Mod", make_mod)                                                                    \
  X("Sqrt", make_sqrt)                                                                  \
  X("Exp", make_exp)                                                                    \
  X("Log", make_log)                                                                    \
  X("Softplus", make_softplus)                                                          \
  X("Mish", make_mish)                                                                  \
  X("Erf", make_erf)                                                                    \
  X("Neg", make_neg)                                                                    \
  X("Abs", make_abs)                                                                    \
  X("Reciprocal", make_reciprocal)                                                      \
  X("Floor", make_floor)                                                                \
  X("Ceil", make_ceil)                                                                  \
  X("Sign", make_sign)                                                                  \
  X("Selu", make_selu)                                                                  \
  X("Round", make_round)                                                                \
  X("Celu", make_celu)                                                                  \
  X("Softsign", make_softsign)                                                          \
  X("ThresholdedRelu", make_thresholded_relu)                                           \
  X("Shrink", make_shrink)                                                              \
  X("Sin", make_sin)                                                                    \
  X("Cos", make_cos)                                                                    \
  X("Tan", make_tan)                                                                    \
  X("Asin", make_asin)                                                                  \
  X("Acos", make_acos)                                                                  \
  X("Atan", make_atan)                                                                  \
  X("Sinh", make_sinh)                                                                  \
  X("Cosh", make_cosh)                                                                  \
  X("Asinh", make_asinh)                                                                \
  X("Acosh", make_acosh)                                                                \
  X("Atanh", make_atanh)                                                                \
  X("IsNaN", make_isnan)                                                                \
  X("IsInf", make_isinf)                                                                \
  X("Not", make_not)                                                                    \
  X("Equal", make_equal)                                                                \
  X("Less", make_less)                                                                  \
  X("Greater", make_greater)                                                            \
  X("LessOrEqual", make_less_or_equal)                                                  \
  X("GreaterOrEqual", make_greater_or_equal)                                            \
  X("And", make_and)                                                                    \
  X("Or", make_or)                                                                      \
  X("Xor", make_xor)                                                                    \
  X("Where", make_where)                                                                \
  X("Min", make_min)                                                                    \
  X("Max", make_max)                                                                    \
  X("Sum", make_sum)                                                                    \
  X("Mean", make_mean)                                                                  \
  X("Expand", make_expand)                                                              \
  X("Tile", make_tile)                                                                  \
  X("Range", make_range)                                                                \
  X("ConstantOfShape", make_constant_of_shape)                                          \
  X("ArgMax", make_arg_max)                                                             \
  X("ArgMin", make_arg_min)                                                             \
  X("LayerNormalization", make_layer_normalization)                                     \
  X("InstanceNormalization", make_instance_normalization)                               \
  X("DepthToSpace", make_depth_to_space)                                                \
  X("SpaceToDepth", make_space_to_depth)                                                \
  X("Einsum", make_einsum)                                                              \
  X("Trilu", make_trilu)                                                                \
  X("CumSum", make_cum_sum)                                                             \
  X("GatherElements", make_gather_elements)                                             \
  X("Hardmax", make_hardmax)                                                            \
  X("TopK", make_top_k)                                                                 \
  X("NonZero", make_non_zero)                                                           \
  X("GatherND", make_gather_nd)                                                         \
  X("ScatterND", make_scatter_nd)                                                       \
  X("ScatterElements", make_scatter_elements)                                           \
  X("Scatter", make_scatter_elements)                                                   \
  X("OneHot", make_one_hot)                                                             \
  X("EyeLike", make_eye_like)                                                           \
  X("NonMaxSuppression", make_non_max_suppression)                                      \
  X("RNN", make_rnn)                                                                    \
  X("GRU", make_gru)                                                                    \
  X("LSTM", make_lstm)                                                                  \
  X("QuantizeLinear", make_quantize_linear)                                             \
  X("DequantizeLinear", make_dequantize_linear)                                         \
  X("DynamicQuantizeLinear", make_dynamic_quant)                                        \
  X("MatMulInteger", make_matmul_integer)                                               \
  X("QLinearMatMul", make_qlinear_matmul)                                               \
  X("ConvInteger", make_conv_integer)                                                   \
  X("QLinearConv", make_qlinear_conv)                                                   \
  X("QLinearAdd", make_qlinear_add) /* QDQ Add as ORT fuses it (qlinear_ops.cpp) */     \
  X("QLinearGlobalAveragePool", make_qlinear_global_average_pool)                       \
  X("DeftLayer", make_deft_layer) /* src/deft/deft_layer.h: packed conv/FC, not ONNX */ \
  X("GatedConv", make_gated_conv) /* src/gating/gated_conv.h: channel/precision gating, not ONNX */

#define EFF_DECLARE_FACTORY(op, factory) std::unique_ptr<Kernel> factory(const Node&, const Graph&);
#define EFF_ENTRY(op, factory) {op, &factory},

EFFECTUAL_OPS(EFF_DECLARE_FACTORY)

namespace {
const OpEntry kOps[] = {EFFECTUAL_OPS(EFF_ENTRY)};
}

std::span<const OpEntry> op_registry() {
  return kOps;
}

const OpEntry* find_op(const std::string& op) {
  for (const OpEntry& e : kOps) {
    if (op == e.op) return &e;
  }
  return nullptr;
}

}  // namespace eff
