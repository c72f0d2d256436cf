// effectual's graph IR: a flat list of values and topologically ordered nodes.
// Built by the ONNX loader (src/onnx), rewritten by passes (src/graph/passes.h),
// executed by the engine (src/engine). Every node remembers the ONNX node names it came from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace eff {

using ValueId = int32_t;
constexpr ValueId kNoValue = -1;  // an omitted optional input

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;
};

struct Value {
  std::string name;
  // Static type and shape as far as known (from the model or ONNX shape inference);
  // -1 marks a dimension only known at run time. Empty `shape` with has_shape=false: unknown rank.
  DType dtype = DType::kFloat32;
  bool has_type = false;
  Shape shape;
  bool has_shape = false;
  std::vector<std::string> dim_names;  // symbolic names of dynamic dims ("batch"), "" otherwise
  std::optional<Tensor> constant;      // initializers and folded constants

  // Becomes the constant `t`: its dtype and static shape are the tensor's.
  void hold_constant(Tensor t) {
    dtype = t.dtype();
    has_type = true;
    shape = t.shape();
    has_shape = true;
    dim_names.assign(shape.size(), "");
    constant = std::move(t);
  }
};

struct Node {
  std::string op;    // ONNX op type, e.g. "Conv"
  std::string name;  // unique; the ONNX node name, or a generated one if the model left it empty
  std::string domain;
  std::vector<ValueId> inputs;   // kNoValue for omitted optional inputs
  std::vector<ValueId> outputs;  // kNoValue for omitted optional outputs
  std::map<std::string, Attribute> attrs;
  std::vector<std::string> origin;  // ONNX node names folded into this node (itself first)

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t attr_int(const std::string& key, int64_t dflt) const;
  float attr_float(const std::string& key, float dflt) const;
  std::string attr_string(const std::string& key, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& key, const std::vector<int64_t>& dflt = {}) const;
  std::vector<float> attr_floats(const std::string& key, const std::vector<float>& dflt = {}) const;
  // Number of inputs actually given (trailing omitted ones not counted).
  int num_inputs() const;
  ValueId input(int i) const { return i < static_cast<int>(inputs.size()) ? inputs[i] : kNoValue; }
};

class Graph {
 public:
  std::string source;  // the file it was loaded from, for error messages
  int64_t opset = 0;
  std::string producer;  // producer_name + version from the model
  std::vector<Value> values;
  std::vector<Node> nodes;      // topological order
  std::vector<ValueId> inputs;  // graph inputs that are not initializers
  std::vector<ValueId> outputs;

  ValueId add_value(const std::string& name);
  ValueId find_value(const std::string& name) const;  // kNoValue if absent
  Value& value(ValueId id) { return values.at(id); }
  const Value& value(ValueId id) const { return values.at(id); }
  bool is_constant(ValueId id) const { return id != kNoValue && values.at(id).constant.has_value(); }
  const Tensor& constant(ValueId id) const;  // throws ModelError if not constant
  const Node* find_node(const std::string& name) const;

  // "model.onnx: node 'conv1' (Conv)": the prefix every node-related message starts with.
  std::string where(const Node& n) const;

  // Removes values no node or graph output refers to and renumbers; keeps order.
  void compact();
  // Checks that every node input is produced earlier, is a graph input or a constant.
  void check_topological() const;
};

}  // namespace eff
