#include "onnx/inference_guards.h"

#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>

#include <cstddef>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "core/error.h"

namespace eff {

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

const onnx::TensorShapeProto* input_shape(onnx::InferenceContext& ctx, size_t i) {
  if (i == kNone || i >= ctx.getNumInputs()) return nullptr;
  const onnx::TypeProto* t = ctx.getInputType(i);
  if (!t || !t->has_tensor_type() || !t->tensor_type().has_shape()) return nullptr;
  return &t->tensor_type().shape();
}

// Length of an INTS attribute, or -1 when absent.
int64_t ints_length(onnx::InferenceContext& ctx, const char* name) {
  const onnx::AttributeProto* a = ctx.getAttribute(name);
  return a ? a->ints_size() : -1;
}

// Conv, ConvTranspose, the pools: ranks of data and weights agree and every geometry attribute
// has one entry per spatial axis (pads two), as the inference functions assume.
void check_conv_pool(onnx::InferenceContext& ctx, const std::string& op, size_t x_index, size_t w_index, bool global) {
  const onnx::TensorShapeProto* x = input_shape(ctx, x_index);
  const onnx::TensorShapeProto* w = input_shape(ctx, w_index);
  const int min_rank = global ? 2 : 3;
  if (x && x->dim_size() < min_rank) {
    fail<ModelError>("{}: input has rank {}, at least {} needed", op, x->dim_size(), min_rank);
  }
  if (w && w->dim_size() < 3) fail<ModelError>("{}: weights have rank {}, at least 3 needed", op, w->dim_size());
  if (x && w && x->dim_size() != w->dim_size()) {
    fail<ModelError>("{}: input rank {} and weight rank {} differ", op, x->dim_size(), w->dim_size());
  }
  if (global) return;
  int64_t spatial = x ? x->dim_size() - 2 : (w ? w->dim_size() - 2 : -1);
  for (const char* name : {"kernel_shape", "strides", "dilations", "output_padding", "output_shape", "pads"}) {
    int64_t n = ints_length(ctx, name);
    if (n < 0) continue;
    const bool pads = std::string(name) == "pads";
    if (pads) {
      if (n % 2 != 0) fail<ModelError>("{}: attribute 'pads' has an odd length {}", op, n);
      n /= 2;
    }
    if (spatial < 0) spatial = n;  // rank unknown: the attributes must at least agree
    if (n != spatial) {
      fail<ModelError>("{}: attribute '{}' has {} entries for {} spatial axes", op, name, pads ? 2 * n : n, spatial);
    }
  }
}

using Check = void (*)(onnx::InferenceContext&, const std::string&);

struct Guarded {
  const char* op;
  Check check;
};

const Guarded kGuarded[] = {
    {"Conv", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, 1, false); }},
    {"ConvInteger", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, 1, false); }},
    {"QLinearConv", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, 3, false); }},
    {"ConvTranspose", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, 1, false); }},
    {"AveragePool", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, false); }},
    {"MaxPool", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, false); }},
    {"LpPool", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, false); }},
    {"MaxUnpool", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, false); }},
    {"GlobalAveragePool",
     [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, true); }},
    {"GlobalMaxPool", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, true); }},
    {"GlobalLpPool", [](onnx::InferenceContext& c, const std::string& op) { check_conv_pool(c, op, 0, kNone, true); }},
};

void install() {
  // get_all_schemas_with_history() returns copies; they only tell which versions exist. Schema()
  // returns the registry's own objects, whose inference functions the shape inference calls.
  std::set<std::pair<std::string, int>> versions;
  for (const onnx::OpSchema& s : onnx::OpSchemaRegistry::get_all_schemas_with_history()) {
    if (s.domain().empty()) versions.emplace(s.Name(), s.SinceVersion());
  }
  for (const Guarded& g : kGuarded) {
    for (const auto& [name, version] : versions) {
      if (name != g.op) continue;
      auto* schema = const_cast<onnx::OpSchema*>(onnx::OpSchemaRegistry::Schema(name, version, ""));
      if (!schema || !schema->has_type_and_shape_inference_function()) continue;
      onnx::InferenceFunction original = schema->GetTypeAndShapeInferenceFunction();
      Check check = g.check;
      std::string op = name;
      schema->TypeAndShapeInferenceFunction([original, check, op](onnx::InferenceContext& ctx) {
        check(ctx, op);
        original(ctx);
      });
    }
  }
}

}  // namespace

void install_onnx_inference_guards() {
  static std::once_flag once;
  std::call_once(once, install);
}

}  // namespace eff
