#include "quant/onnx_export.h"

#include <onnx/onnx_pb.h>

#include <set>

#include "core/error.h"
#include "core/fs.h"

namespace eff::quant {

namespace {

int32_t onnx_type(DType t) {
  using TP = onnx::TensorProto;
  switch (t) {
    case DType::kFloat32:
      return TP::FLOAT;
    case DType::kFloat16:
      return TP::FLOAT16;
    case DType::kFloat64:
      return TP::DOUBLE;
    case DType::kInt64:
      return TP::INT64;
    case DType::kInt32:
      return TP::INT32;
    case DType::kInt16:
      return TP::INT16;
    case DType::kInt8:
      return TP::INT8;
    case DType::kUInt8:
      return TP::UINT8;
    case DType::kBool:
      return TP::BOOL;
  }
  return TP::UNDEFINED;
}

void fill_tensor(onnx::TensorProto& p, const std::string& name, const Tensor& t) {
  p.set_name(name);
  p.set_data_type(onnx_type(t.dtype()));
  for (int64_t d : t.shape()) p.add_dims(d);
  // Tensors are little-endian in memory here, as raw_data wants them.
  p.set_raw_data(static_cast<const char*>(t.raw()), t.nbytes());
}

void fill_value_info(onnx::ValueInfoProto& p, const Value& v) {
  p.set_name(v.name);
  auto* tt = p.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_type(v.has_type ? v.dtype : DType::kFloat32));
  if (!v.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < v.shape.size(); ++i) {
    auto* d = shape->add_dim();
    const std::string sym = i < v.dim_names.size() ? v.dim_names[i] : "";
    if (v.shape[i] >= 0) {
      d->set_dim_value(v.shape[i]);
    } else if (!sym.empty()) {
      d->set_dim_param(sym);
    }
  }
}

void fill_attribute(onnx::AttributeProto& p, const std::string& name, const Attribute& a) {
  using AP = onnx::AttributeProto;
  p.set_name(name);
  switch (a.kind) {
    case Attribute::Kind::kInt:
      p.set_type(AP::INT);
      p.set_i(a.i);
      break;
    case Attribute::Kind::kFloat:
      p.set_type(AP::FLOAT);
      p.set_f(a.f);
      break;
    case Attribute::Kind::kString:
      p.set_type(AP::STRING);
      p.set_s(a.s);
      break;
    case Attribute::Kind::kInts:
      p.set_type(AP::INTS);
      for (int64_t v : a.ints) p.add_ints(v);
      break;
    case Attribute::Kind::kFloats:
      p.set_type(AP::FLOATS);
      for (float v : a.floats) p.add_floats(v);
      break;
    case Attribute::Kind::kStrings:
      p.set_type(AP::STRINGS);
      for (const auto& v : a.strings) p.add_strings(v);
      break;
    case Attribute::Kind::kTensor:
      p.set_type(AP::TENSOR);
      fill_tensor(*p.mutable_t(), "", a.t);
      break;
  }
}

}  // namespace

std::string serialize_onnx(const Graph& g, const std::string& doc) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("effectual");
  m.set_producer_version("0.1.0");
  if (!doc.empty()) m.set_doc_string(doc);
  auto* imp = m.add_opset_import();
  imp->set_domain("");
  imp->set_version(g.opset);
  auto* gp = m.mutable_graph();
  gp->set_name("effectual_quantized");

  std::set<ValueId> initializers;
  for (const Node& n : g.nodes) {
    for (ValueId v : n.inputs) {
      if (v != kNoValue && g.is_constant(v)) initializers.insert(v);
    }
  }
  for (ValueId v : g.outputs) {
    if (g.is_constant(v)) initializers.insert(v);
  }
  for (ValueId v : initializers) fill_tensor(*gp->add_initializer(), g.value(v).name, *g.value(v).constant);
  for (ValueId v : g.inputs) fill_value_info(*gp->add_input(), g.value(v));
  for (ValueId v : g.outputs) fill_value_info(*gp->add_output(), g.value(v));
  for (const Node& n : g.nodes) {
    auto* np = gp->add_node();
    np->set_op_type(n.op);
    np->set_name(n.name);
    if (!n.domain.empty() && n.domain != "ai.onnx") np->set_domain(n.domain);
    // Trailing omitted inputs are dropped; omitted ones in between are "" as ONNX spells them.
    const int given = n.num_inputs();
    for (int i = 0; i < given; ++i) np->add_input(n.inputs[i] == kNoValue ? "" : g.value(n.inputs[i]).name);
    for (ValueId v : n.outputs) np->add_output(v == kNoValue ? "" : g.value(v).name);
    for (const auto& [key, a] : n.attrs) {
      if (key.rfind("eff.", 0) == 0) continue;
      fill_attribute(*np->add_attribute(), key, a);
    }
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    fail<ModelError>("{}: the quantized model does not serialize (over 2 GiB?)", g.source);
  return bytes;
}

void write_onnx(const Graph& g, const std::string& path, const std::string& doc) {
  write_file_atomic(path, serialize_onnx(g, doc));
}

}  // namespace eff::quant
