#include "graph/ir.h"

#include <fmt/format.h>

#include <unordered_map>

namespace eff {

namespace {
const Attribute* find_attr(const Node& n, const std::string& key, Attribute::Kind kind) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  if (it->second.kind != kind) {
    fail<ModelError>("node '{}' ({}): attribute '{}' has the wrong type", n.name, n.op, key);
  }
  return &it->second;
}
}  // namespace

int64_t Node::attr_int(const std::string& key, int64_t dflt) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::kInt);
  return a ? a->i : dflt;
}

float Node::attr_float(const std::string& key, float dflt) const {
  auto it = attrs.find(key);
  if (it != attrs.end() && it->second.kind == Attribute::Kind::kInt) return static_cast<float>(it->second.i);
  const Attribute* a = find_attr(*this, key, Attribute::Kind::kFloat);
  return a ? a->f : dflt;
}

std::string Node::attr_string(const std::string& key, const std::string& dflt) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::kString);
  return a ? a->s : dflt;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, const std::vector<int64_t>& dflt) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::kInts);
  return a ? a->ints : dflt;
}

std::vector<float> Node::attr_floats(const std::string& key, const std::vector<float>& dflt) const {
  const Attribute* a = find_attr(*this, key, Attribute::Kind::kFloats);
  return a ? a->floats : dflt;
}

int Node::num_inputs() const {
  int n = static_cast<int>(inputs.size());
  while (n > 0 && inputs[n - 1] == kNoValue) --n;
  return n;
}

ValueId Graph::add_value(const std::string& name) {
  values.push_back(Value{});
  values.back().name = name;
  return static_cast<ValueId>(values.size() - 1);
}

ValueId Graph::find_value(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) return static_cast<ValueId>(i);
  }
  return kNoValue;
}

const Tensor& Graph::constant(ValueId id) const {
  if (!is_constant(id)) {
    fail<ModelError>("{}: value '{}' must be a constant", source, id == kNoValue ? "<none>" : values.at(id).name);
  }
  return *values.at(id).constant;
}

const Node* Graph::find_node(const std::string& name) const {
  for (const Node& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::string Graph::where(const Node& n) const {
  return fmt::format("{}: node '{}' ({})", source, n.name, n.op);
}

void Graph::compact() {
  std::vector<char> used(values.size(), 0);
  for (const Node& n : nodes) {
    for (ValueId v : n.inputs) {
      if (v != kNoValue) used[v] = 1;
    }
    for (ValueId v : n.outputs) {
      if (v != kNoValue) used[v] = 1;
    }
  }
  for (ValueId v : inputs) used[v] = 1;
  for (ValueId v : outputs) used[v] = 1;
  std::vector<ValueId> remap(values.size(), kNoValue);
  std::vector<Value> kept;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<ValueId>(kept.size());
    kept.push_back(std::move(values[i]));
  }
  values = std::move(kept);
  auto fix = [&](std::vector<ValueId>& ids) {
    for (ValueId& v : ids) {
      if (v != kNoValue) v = remap[v];
    }
  };
  for (Node& n : nodes) {
    fix(n.inputs);
    fix(n.outputs);
  }
  fix(inputs);
  fix(outputs);
}

void Graph::check_topological() const {
  std::vector<char> ready(values.size(), 0);
  for (size_t i = 0; i < values.size(); ++i) ready[i] = values[i].constant.has_value();
  for (ValueId v : inputs) ready[v] = 1;
  for (const Node& n : nodes) {
    for (ValueId v : n.inputs) {
      if (v != kNoValue && !ready[v]) {
        fail<ModelError>("{}: input '{}' is not produced before it is used", where(n), values[v].name);
      }
    }
    for (ValueId v : n.outputs) {
      if (v != kNoValue) ready[v] = 1;
    }
  }
  for (ValueId v : outputs) {
    if (!ready[v]) fail<ModelError>("{}: graph output '{}' is never produced", source, values[v].name);
  }
}

}  // namespace eff
