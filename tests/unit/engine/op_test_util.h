// Helpers of the op kernel tests: attributes, small tensors, and running one node through the
// executor (inputs as graph inputs or, when listed in constant_inputs, as initializers).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/kernel.h"

namespace eff::op_test {

inline Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  return a;
}
inline Attribute ints_attr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute float_attr(float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
inline Attribute floats_attr(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
inline Attribute string_attr(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}

inline Tensor F(Shape s, std::vector<float> v) {
  return Tensor::from<float>(std::move(s), v);
}
inline Tensor U8(Shape s, std::vector<uint8_t> v) {
  return Tensor::from<uint8_t>(std::move(s), v);
}
inline Tensor I8(Shape s, std::vector<int8_t> v) {
  return Tensor::from<int8_t>(std::move(s), v);
}
inline Tensor I32(Shape s, std::vector<int32_t> v) {
  return Tensor::from<int32_t>(std::move(s), v);
}
inline Tensor iota_f(Shape shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return F(std::move(shape), v);
}

inline Tensor I64(Shape s, std::vector<int64_t> v) {
  return Tensor::from<int64_t>(std::move(s), v);
}
inline Tensor I64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from<int64_t>({n}, v);
}

struct OpSpec {
  OpSpec(std::string op_type, std::vector<std::optional<Tensor>> node_inputs,
         std::map<std::string, Attribute> node_attrs = {}, int outputs = 1, int64_t model_opset = 13)
      : op(std::move(op_type)),
        inputs(std::move(node_inputs)),
        attrs(std::move(node_attrs)),
        num_outputs(outputs),
        opset(model_opset) {}

  std::string op;
  std::vector<std::optional<Tensor>> inputs;  // nullopt: omitted optional input
  std::map<std::string, Attribute> attrs;
  int num_outputs;
  int64_t opset;
  std::vector<int> constant_inputs;  // indices given as initializers instead of graph inputs
};

// One node fed by the spec's inputs (graph inputs, or initializers for `constant_inputs`), every
// output a graph output. Any spec with op, inputs, attrs, num_outputs and constant_inputs (and
// optionally opset) works: the op test files each keep the spec shape that reads best for them.
template <class Spec>
Graph one_node_graph(const Spec& spec, std::vector<Tensor>& runtime_inputs) {
  Graph g;
  g.source = "test.onnx";
  if constexpr (requires { spec.opset; }) {
    g.opset = spec.opset;
  } else {
    g.opset = 13;
  }
  Node n;
  n.op = spec.op;
  n.name = "n0";
  n.origin = {"n0"};
  n.attrs = spec.attrs;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (!spec.inputs[i]) {
      n.inputs.push_back(kNoValue);
      continue;
    }
    const ValueId v = g.add_value("in" + std::to_string(i));
    const bool constant = std::find(spec.constant_inputs.begin(), spec.constant_inputs.end(), static_cast<int>(i)) !=
                          spec.constant_inputs.end();
    g.value(v).dtype = spec.inputs[i]->dtype();
    g.value(v).has_type = true;
    if (constant) {
      g.value(v).constant = *spec.inputs[i];
    } else {
      g.inputs.push_back(v);
      runtime_inputs.push_back(*spec.inputs[i]);
    }
    n.inputs.push_back(v);
  }
  for (int k = 0; k < spec.num_outputs; ++k) {
    const ValueId v = g.add_value("out" + std::to_string(k));
    n.outputs.push_back(v);
    g.outputs.push_back(v);
  }
  g.nodes.push_back(n);
  return g;
}

inline std::vector<Tensor> run_op(const OpSpec& spec) {
  std::vector<Tensor> runtime;
  Graph g = one_node_graph(spec, runtime);
  ExecutorOptions options;
  options.threads = 1;
  Executor ex(std::move(g), options);
  return ex.run(runtime);
}

inline Tensor run1(const OpSpec& spec) {
  return run_op(spec).at(0);
}

inline std::vector<float> floats(const Tensor& t) {
  return t.to_f32_vector();
}
inline std::vector<int64_t> ints(const Tensor& t) {
  return t.to_i64_vector();
}

inline void expect_near_all(const Tensor& t, const std::vector<float>& want, float tol = 1e-6f) {
  const std::vector<float> got = floats(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

template <class E>
std::string error_of(const OpSpec& spec) {
  try {
    run_op(spec);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

}  // namespace eff::op_test
