// Every supported ONNX op: one line each, "ONNX op type" -> factory in src/engine/ops/<family>.cpp.
// Several op types may share a factory that dispatches on node.op (e.g. the binary arithmetic ops).
#include "engine/kernel.h"

namespace eff {

#define EFFECTUAL_OPS(X)                            \
  X("Identity", make_identity)                      \
  X("Conv", make_conv)                              \
  X("ConvTranspose", make_conv_transpose)           \
  X("Gemm", make_gemm)                              \
  X("MatMul", make_matmul)                          \
  X("MaxPool", make_max_pool)                       \
  X("AveragePool", make_average_pool)               \
  X("GlobalAveragePool", make_global_average_pool)  \
  X("GlobalMaxPool", make_global_max_pool)          \
  X("BatchNormalization", make_batch_normalization) \
  X("LRN", make_lrn)                                \
  X("Softmax", make_softmax)                        \
  X("LogSoftmax", make_log_softmax)                 \
  X("Relu", make_relu)                              \
  X("LeakyRelu", make_leaky_relu)                   \
  X("Sigmoid", make_sigmoid)                        \
  X("HardSigmoid", make_hard_sigmoid)               \
  X("HardSwish", make_hard_swish)                   \
  X("Tanh", make_tanh)                              \
  X("Clip", make_clip)                              \
  X("Elu", make_elu)                                \
  X("Add", make_add)                                \
  X("Sub", make_sub)                                \
  X("Mul", make_mul)                                \
  X("Div", make_div)                                \
  X("PRelu", make_prelu)                            \
  X("Concat", make_concat)                          \
  X("Split", make_split)                            \
  X("Slice", make_slice)                            \
  X("Transpose", make_transpose)                    \
  X("Gather", make_gather)                          \
  X("Flatten", make_flatten)                        \
  X("Reshape", make_reshape)                        \
  X("Squeeze", make_squeeze)                        \
  X("Unsqueeze", make_unsqueeze)                    \
  X("Shape", make_shape)                            \
  X("Pad", make_pad)                                \
  X("Resize", make_resize)                          \
  X("Upsample", make_upsample)                      \
  X("ReduceMean", make_reduce_mean)                 \
  X("ReduceSum", make_reduce_sum)                   \
  X("ReduceMax", make_reduce_max)                   \
  X("ReduceMin", make_reduce_min)                   \
  X("Constant", make_constant)                      \
  X("Cast", make_cast)                              \
  X("Dropout", make_dropout)                        \
  X("QuantizeLinear", make_quantize_linear)         \
  X("DequantizeLinear", make_dequantize_linear)     \
  X("DynamicQuantizeLinear", make_dynamic_quant)    \
  X("MatMulInteger", make_matmul_integer)           \
  X("QLinearMatMul", make_qlinear_matmul)           \
  X("ConvInteger", make_conv_integer)               \
  X("QLinearConv", make_qlinear_conv)

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
