#include "onnx/loader.h"

#include <fcntl.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "engine/kernel.h"
#include "graph/passes.h"
#include "onnx/inference_guards.h"
#include "onnx/node_order.h"
#include "onnx/tensor_proto.h"

namespace eff {

namespace fs = std::filesystem;

namespace {

// libonnx messages span several lines ("...\n\n==> Context: ..."); ours are one line.
std::string one_line(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  constexpr size_t kMaxLength = 400;
  if (out.size() > kMaxLength) out = out.substr(0, kMaxLength) + "...";
  return out;
}

bool is_default_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

bool has_subgraph(const onnx::AttributeProto& a) {
  return a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS || a.has_g() ||
         a.graphs_size() > 0;
}

class Converter {
 public:
  Converter(std::string source, std::string model_dir, const LoadOptions& options)
      : source_(std::move(source)), model_dir_(std::move(model_dir)), options_(options) {
    graph_.source = source_;
  }

  Graph run(const void* data, size_t size) {
    parse(data, size);
    read_opset();
    sort_nodes_topologically(*model_.mutable_graph(), source_);
    name_nodes();
    read_initializers();
    prescan_nodes();
    fix_input_shapes();
    convert();
    if (graph_.opset <= kMaxCheckedOpset) {
      check_and_infer();
    } else if (options_.verbose) {
      std::fprintf(stderr,
                   "%s: note: opset %lld is newer than libonnx's checker and shape inference know (%lld); "
                   "skipping them\n",
                   source_.c_str(), static_cast<long long>(graph_.opset), static_cast<long long>(kMaxCheckedOpset));
    }
    apply_types();
    return std::move(graph_);
  }

 private:
  std::string node_where(int i) const {
    return fmt::format("{}: node '{}' ({})", source_, names_[i], model_.graph().node(i).op_type());
  }

  void parse(const void* data, size_t size) {
    const size_t limit = std::min<size_t>(options_.max_file_bytes, std::numeric_limits<int>::max());
    if (size > limit) {
      fail<ModelError>("{}: not a valid ONNX model (file of {} bytes is over the {} byte limit)", source_, size, limit);
    }
    if (!model_.ParseFromArray(data, static_cast<int>(size))) {
      fail<ModelError>("{}: not a valid ONNX model (protobuf parsing failed)", source_);
    }
    if (model_.ir_version() <= 0) fail<ModelError>("{}: not a valid ONNX model (no ir_version)", source_);
    if (!model_.has_graph()) fail<ModelError>("{}: not a valid ONNX model (no graph)", source_);
    graph_.producer = model_.producer_name();
    if (!model_.producer_version().empty()) graph_.producer += " " + model_.producer_version();
  }

  void read_opset() {
    std::set<std::string> seen;
    int64_t opset = 0;
    for (const auto& imp : model_.opset_import()) {
      const std::string domain = imp.domain() == "ai.onnx" ? "" : imp.domain();
      if (!seen.insert(domain).second) {
        fail<ModelError>("{}: not a valid ONNX model (opset_import lists domain '{}' twice)", source_, imp.domain());
      }
      if (domain.empty()) opset = imp.version();
    }
    // Before IR version 3 a model without opset_import meant opset 1.
    if (seen.count("") == 0) {
      if (model_.ir_version() >= 3) {
        fail<UnsupportedError>(
            "{}: the model imports no default-domain (ai.onnx) opset; effectual loads opsets {} to {}", source_,
            kMinOpset, kMaxOpset);
      }
      opset = 1;
    }
    if (opset < kMinOpset || opset > kMaxOpset) {
      fail<UnsupportedError>("{}: opset {} is not supported (effectual loads opsets {} to {})", source_, opset,
                             kMinOpset, kMaxOpset);
    }
    graph_.opset = opset;
  }

  // Final node names: the model's, else "<op>_<index>"; made unique because reports key on them.
  void name_nodes() {
    const auto& nodes = model_.graph().node();
    std::unordered_set<std::string> taken;
    for (const auto& n : nodes) {
      if (!n.name().empty()) taken.insert(n.name());
    }
    std::unordered_set<std::string> used;
    std::unordered_map<std::string, int> next_suffix;  // keeps many duplicates linear
    names_.resize(nodes.size());
    for (int i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      std::string name = n.name().empty() ? fmt::format("{}_{}", n.op_type(), i) : n.name();
      if (used.count(name) || (n.name().empty() && taken.count(name))) {
        const std::string base = name;
        int& k = next_suffix[base];
        do {
          name = fmt::format("{}_{}", base, ++k);
        } while (used.count(name) || taken.count(name));
      }
      used.insert(name);
      names_[i] = std::move(name);
    }
  }

  // Converted (and so size-checked) before libonnx looks at them: its shape inference reads
  // initializer data and trusts the sizes.
  void read_initializers() {
    const auto& g = model_.graph();
    if (g.sparse_initializer_size() > 0) {
      fail<UnsupportedError>("{}: sparse initializer '{}' is not supported", source_,
                             g.sparse_initializer(0).values().name());
    }
    for (const auto& init : g.initializer()) {
      if (init.name().empty()) fail<ModelError>("{}: an initializer has no name", source_);
      Tensor t = tensor_from_proto(init, source_, model_dir_, model_holder_);
      if (!initializers_.emplace(init.name(), std::move(t)).second) {
        fail<ModelError>("{}: initializer '{}' is given twice", source_, init.name());
      }
    }
  }

  Tensor constant_node_value(int i) {
    const auto& n = model_.graph().node(i);
    if (n.attribute_size() != 1) {
      fail<ModelError>("{}: a Constant needs exactly one value attribute, got {}", node_where(i), n.attribute_size());
    }
    const auto& a = n.attribute(0);
    const std::string& key = a.name();
    if (key == "value") {
      if (!a.has_t()) fail<ModelError>("{}: attribute 'value' holds no tensor", node_where(i));
      return tensor_from_proto(a.t(), node_where(i), model_dir_);
    }
    if (key == "value_float") return Tensor::scalar<float>(a.f());
    if (key == "value_int") return Tensor::scalar<int64_t>(a.i());
    if (key == "value_floats") {
      return Tensor::from<float>({a.floats_size()}, std::vector<float>(a.floats().begin(), a.floats().end()));
    }
    if (key == "value_ints") {
      return Tensor::from<int64_t>({a.ints_size()}, std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    }
    fail<UnsupportedError>("{}: Constant attribute '{}' is not supported", node_where(i), key);
  }

  // Checks that need no libonnx: subgraphs, ops ONNX itself does not know (better named here than
  // in the checker's words), and Constant nodes (converted now, like initializers).
  void prescan_nodes() {
    check_declared_shapes();
    const auto& nodes = model_.graph().node();
    const auto* registry = onnx::OpSchemaRegistry::Instance();
    for (int i = 0; i < nodes.size(); ++i) {
      const auto& n = nodes[i];
      for (const auto& a : n.attribute()) {
        if (has_subgraph(a)) {
          fail<UnsupportedError>("{}: control flow and subgraphs are not supported (attribute '{}')", node_where(i),
                                 a.name());
        }
      }
      // An op ONNX does not know (at this opset) can only run if we have a kernel for it: opset-18
      // ops are unknown to libonnx 1.12.
      if (is_default_domain(n.domain()) && !registry->GetSchema(n.op_type(), static_cast<int>(graph_.opset), "") &&
          !find_op(n.op_type())) {
        fail<UnsupportedError>("{}: op {} is not supported", node_where(i), n.op_type());
      }
      if (n.op_type() == "Constant" && is_default_domain(n.domain())) {
        constant_nodes_.emplace(i, constant_node_value(i));
      }
      if (is_default_domain(n.domain())) check_geometry_attributes(i);
    }
  }

  void fix_input_shapes() {
    if (options_.input_shapes.empty()) return;
    auto* g = model_.mutable_graph();
    std::set<std::string> found;
    for (auto& in : *g->mutable_input()) {
      auto it = options_.input_shapes.find(in.name());
      if (it == options_.input_shapes.end() || initializers_.count(in.name())) continue;
      found.insert(in.name());
      const Shape& want = it->second;
      auto* tt = in.mutable_type()->mutable_tensor_type();
      if (tt->has_shape()) {
        const auto& dims = tt->shape().dim();
        bool ok = dims.size() == static_cast<int>(want.size());
        for (int d = 0; ok && d < dims.size(); ++d) {
          if (dims[d].has_dim_value() && dims[d].dim_value() != want[d]) ok = false;
        }
        if (!ok) {
          std::string declared = "[";
          for (int d = 0; d < dims.size(); ++d) {
            if (d) declared += ", ";
            declared += dims[d].has_dim_value()       ? std::to_string(dims[d].dim_value())
                        : dims[d].dim_param().empty() ? std::string("?")
                                                      : dims[d].dim_param();
          }
          fail<ShapeError>("{}: input '{}' expects shape {}, got {}", source_, in.name(), declared + "]",
                           shape_str(want));
        }
      }
      auto* shape = tt->mutable_shape();
      shape->clear_dim();
      for (int64_t d : want) shape->add_dim()->set_dim_value(d);
    }
    for (const auto& [name, shape] : options_.input_shapes) {
      if (!found.count(name)) fail<ShapeError>("{}: the model has no input named '{}'", source_, name);
    }
  }

  // Declared shapes feed libonnx's shape arithmetic; negative sizes make no sense anywhere.
  void check_declared_shapes() {
    const auto& g = model_.graph();
    for (const auto* list : {&g.input(), &g.output(), &g.value_info()}) {
      for (const auto& vi : *list) {
        if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape()) continue;
        for (const auto& d : vi.type().tensor_type().shape().dim()) {
          if (d.has_dim_value() && d.dim_value() < 0) {
            fail<ModelError>("{}: value '{}' is declared with a negative dimension {}", source_, vi.name(),
                             d.dim_value());
          }
        }
      }
    }
  }

  // libonnx 1.12's shape inference divides by strides and dilations and indexes with pads without
  // checking them (found by fuzzing: SIGFPE on strides=0). Values ONNX forbids anyway are refused
  // here, before libonnx sees them.
  void check_geometry_attributes(int i) {
    const auto& n = model_.graph().node(i);
    for (const auto& a : n.attribute()) {
      const std::string& key = a.name();
      int64_t lowest = 0;
      if (key == "strides" || key == "dilations" || key == "kernel_shape") {
        lowest = 1;
      } else if ((key == "pads" && n.op_type() != "Pad") || key == "output_padding" || key == "output_shape") {
        lowest = 0;
      } else if (key == "group") {
        if (a.i() < 1) fail<ModelError>("{}: attribute 'group' must be positive, got {}", node_where(i), a.i());
        continue;
      } else {
        continue;
      }
      for (int64_t v : a.ints()) {
        if (v < lowest) {
          fail<ModelError>("{}: attribute '{}' must be {}, got {}", node_where(i), key,
                           lowest ? "positive" : "non-negative", v);
        }
      }
    }
  }

  // Shape inference reads initializer values (Reshape targets, Pad amounts) but not Constant
  // nodes' values; exporters that leave weights and shapes in Constant nodes lose static shapes
  // unless those become initializers. Runs after convert(): node indices change here.
  void constants_to_initializers() {
    if (model_.ir_version() < 4) return;  // then every initializer would also have to be an input
    auto* g = model_.mutable_graph();
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (auto& n : *g->mutable_node()) {
      onnx::TensorProto t;
      const bool single =
          n.op_type() == "Constant" && is_default_domain(n.domain()) && n.output_size() == 1 && n.attribute_size() == 1;
      const std::string key = single ? n.attribute(0).name() : "";
      if (key == "value") {
        t.Swap(n.mutable_attribute(0)->mutable_t());
      } else if (key == "value_float" || key == "value_floats") {
        t.set_data_type(onnx::TensorProto::FLOAT);
        const auto& a = n.attribute(0);
        if (key == "value_float") {
          t.add_float_data(a.f());
        } else {
          t.add_dims(a.floats_size());
          *t.mutable_float_data() = a.floats();
        }
      } else if (key == "value_int" || key == "value_ints") {
        t.set_data_type(onnx::TensorProto::INT64);
        const auto& a = n.attribute(0);
        if (key == "value_int") {
          t.add_int64_data(a.i());
        } else {
          t.add_dims(a.ints_size());
          *t.mutable_int64_data() = a.ints();
        }
      } else {
        kept.Add()->Swap(&n);
        continue;
      }
      t.set_name(n.output(0));
      g->add_initializer()->Swap(&t);
    }
    g->mutable_node()->Swap(&kept);
  }

  void check_and_infer() {
    constants_to_initializers();
    // A graph input with a type but no shape field (some converters and graph editors write them;
    // ONNX Runtime takes the shape from the tensor): libonnx's checker requires the field, so it
    // checks an empty one, cleared again before shape inference (rank unknown: the shapes come
    // from the tensors given, or --input-shape).
    std::vector<onnx::ValueInfoProto*> shapeless;
    for (auto& in : *model_.mutable_graph()->mutable_input()) {
      if (in.type().has_tensor_type() && !in.type().tensor_type().has_shape() && !initializers_.count(in.name())) {
        in.mutable_type()->mutable_tensor_type()->mutable_shape();
        shapeless.push_back(&in);
      }
    }
    try {
      onnx::checker::CheckerContext ctx;
      ctx.set_ir_version(static_cast<int>(model_.ir_version()));
      std::unordered_map<std::string, int> imports;
      for (const auto& imp : model_.opset_import()) imports[imp.domain()] = static_cast<int>(imp.version());
      ctx.set_opset_imports(imports);
      ctx.set_model_dir(model_dir_);
      onnx::checker::LexicalScopeContext lex;
      onnx::checker::check_graph(model_.graph(), ctx, lex);
    } catch (const std::exception& e) {
      fail<ModelError>("{}: the ONNX checker refuses the model: {}", source_, one_line(e.what()));
    }
    for (onnx::ValueInfoProto* in : shapeless) in->mutable_type()->mutable_tensor_type()->clear_shape();
    try {
      // Data propagation lets Reshape(x, Concat(Shape(x)...)) outputs keep a static shape.
      onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*error_mode=*/0, /*data_prop=*/true);
      std::unordered_map<std::string, onnx::TensorShapeProto> shape_data;
      install_onnx_inference_guards();
      onnx::shape_inference::InferShapes(model_, onnx::OpSchemaRegistry::Instance(), opts, &shape_data);
    } catch (const std::exception& e) {
      fail<ModelError>("{}: ONNX shape inference failed: {}", source_, one_line(e.what()));
    }
  }

  void apply_type(Value& v, const onnx::TypeProto& type) {
    if (!type.has_tensor_type()) return;
    const auto& tt = type.tensor_type();
    if (tt.elem_type() != onnx::TensorProto::UNDEFINED) {
      try {
        v.dtype = dtype_from_onnx(tt.elem_type(), source_);
        v.has_type = true;
      } catch (const UnsupportedError&) {
        v.has_type = false;  // only an error if a kernel has to handle it
      }
    }
    if (!tt.has_shape()) return;
    v.has_shape = true;
    v.shape.clear();
    v.dim_names.clear();
    for (const auto& d : tt.shape().dim()) {
      const bool known = d.has_dim_value() && d.dim_value() >= 0;
      v.shape.push_back(known ? d.dim_value() : -1);
      v.dim_names.push_back(known ? "" : d.dim_param());
    }
  }

  ValueId value_id(const std::string& name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    ValueId id = graph_.add_value(name);
    ids_.emplace(name, id);
    return id;
  }

  // Declared and inferred types; graph inputs and outputs win over value_info.
  void apply_types() {
    const auto& g = model_.graph();
    std::unordered_map<std::string, const onnx::TypeProto*> types;
    for (const auto& vi : g.input()) types[vi.name()] = &vi.type();
    for (const auto& vi : g.value_info()) types.emplace(vi.name(), &vi.type());
    for (const auto& vi : g.output()) types[vi.name()] = &vi.type();
    for (Value& v : graph_.values) {
      if (v.constant) continue;  // the tensor itself says
      auto t = types.find(v.name);
      if (t != types.end()) apply_type(v, *t->second);
    }
  }

  void set_constant(ValueId id, Tensor t) { graph_.value(id).hold_constant(std::move(t)); }

  Attribute convert_attribute(int node, const onnx::AttributeProto& a) {
    using AP = onnx::AttributeProto;
    Attribute out;
    auto type = a.type();
    if (type == AP::UNDEFINED) {
      // Files from before the type field existed: infer it from what is set.
      if (a.has_f())
        type = AP::FLOAT;
      else if (a.has_i())
        type = AP::INT;
      else if (a.has_s())
        type = AP::STRING;
      else if (a.has_t())
        type = AP::TENSOR;
      else if (a.floats_size())
        type = AP::FLOATS;
      else if (a.ints_size())
        type = AP::INTS;
      else if (a.strings_size())
        type = AP::STRINGS;
      else
        fail<ModelError>("{}: attribute '{}' has no value", node_where(node), a.name());
    }
    switch (type) {
      case AP::FLOAT:
        out.kind = Attribute::Kind::kFloat;
        out.f = a.f();
        break;
      case AP::INT:
        out.kind = Attribute::Kind::kInt;
        out.i = a.i();
        break;
      case AP::STRING:
        out.kind = Attribute::Kind::kString;
        out.s = a.s();
        break;
      case AP::TENSOR:
        out.kind = Attribute::Kind::kTensor;
        out.t = tensor_from_proto(a.t(), fmt::format("{}: attribute '{}'", node_where(node), a.name()), model_dir_);
        break;
      case AP::FLOATS:
        out.kind = Attribute::Kind::kFloats;
        out.floats.assign(a.floats().begin(), a.floats().end());
        break;
      case AP::INTS:
        out.kind = Attribute::Kind::kInts;
        out.ints.assign(a.ints().begin(), a.ints().end());
        break;
      case AP::STRINGS:
        out.kind = Attribute::Kind::kStrings;
        out.strings.assign(a.strings().begin(), a.strings().end());
        break;
      default:
        fail<UnsupportedError>("{}: attribute '{}' of type {} is not supported", node_where(node), a.name(),
                               AP::AttributeType_IsValid(type) ? AP::AttributeType_Name(type) : std::to_string(type));
    }
    return out;
  }

  // Sequences, optionals, maps and sparse tensors flow through some ONNX graphs; the engine holds
  // dense tensors only, so such a graph is refused by name rather than misread later.
  void require_tensor_type(const onnx::ValueInfoProto& vi, const char* role) const {
    if (!vi.has_type()) return;
    const auto& t = vi.type();
    const char* kind = t.has_sequence_type()        ? "sequence"
                       : t.has_optional_type()      ? "optional"
                       : t.has_map_type()           ? "map"
                       : t.has_sparse_tensor_type() ? "sparse tensor"
                                                    : nullptr;
    if (kind) {
      fail<UnsupportedError>("{}: graph {} '{}' is a {} value; only dense tensors are supported", source_, role,
                             vi.name(), kind);
    }
    // An input or output of a type the engine does not hold (bfloat16, string, uint16...) would
    // otherwise be read as float32 and give a float32 result for a bfloat16 model.
    const int32_t elem = t.has_tensor_type() ? t.tensor_type().elem_type() : onnx::TensorProto::UNDEFINED;
    if (elem != onnx::TensorProto::UNDEFINED)
      dtype_from_onnx(elem, fmt::format("{}: graph {} '{}'", source_, role, vi.name()));
  }

  void convert() {
    const auto& g = model_.graph();
    // Who produced each value, for "produced twice" messages.
    std::unordered_map<std::string, std::string> producer;
    for (const auto& in : g.input()) {
      if (in.name().empty()) fail<ModelError>("{}: a graph input has no name", source_);
      if (initializers_.count(in.name())) continue;  // old exporters list initializers as inputs too
      require_tensor_type(in, "input");
      if (!producer.emplace(in.name(), "a graph input").second) {
        fail<ModelError>("{}: graph input '{}' is listed twice", source_, in.name());
      }
      graph_.inputs.push_back(value_id(in.name()));
    }
    for (auto& [name, t] : initializers_) {
      producer.emplace(name, "an initializer");
      set_constant(value_id(name), std::move(t));
    }
    initializers_.clear();

    auto claim_output = [&](int i, const std::string& name) {
      auto [it, fresh] = producer.emplace(name, fmt::format("node '{}'", names_[i]));
      if (!fresh) fail<ModelError>("{}: output '{}' is already produced by {}", node_where(i), name, it->second);
      return value_id(name);
    };

    for (int i = 0; i < g.node_size(); ++i) {
      const auto& pn = g.node(i);
      auto c = constant_nodes_.find(i);
      if (c != constant_nodes_.end()) {
        if (pn.output_size() != 1 || pn.output(0).empty()) {
          fail<ModelError>("{}: a Constant needs exactly one output", node_where(i));
        }
        set_constant(claim_output(i, pn.output(0)), std::move(c->second));
        continue;
      }
      Node n;
      n.op = pn.op_type();
      n.name = names_[i];
      n.domain = pn.domain();
      n.origin = {n.name};
      for (const auto& in : pn.input()) n.inputs.push_back(in.empty() ? kNoValue : value_id(in));
      for (const auto& out : pn.output()) n.outputs.push_back(out.empty() ? kNoValue : claim_output(i, out));
      for (const auto& a : pn.attribute()) {
        if (!n.attrs.emplace(a.name(), convert_attribute(i, a)).second) {
          fail<ModelError>("{}: attribute '{}' is given twice", node_where(i), a.name());
        }
      }
      graph_.nodes.push_back(std::move(n));
    }
    for (const auto& out : g.output()) {
      if (out.name().empty()) fail<ModelError>("{}: a graph output has no name", source_);
      require_tensor_type(out, "output");
      graph_.outputs.push_back(value_id(out.name()));
    }
    if (graph_.outputs.empty()) fail<ModelError>("{}: the model has no outputs", source_);

    for (const Node& n : graph_.nodes) {
      for (ValueId v : n.inputs) {
        if (v != kNoValue && !producer.count(graph_.value(v).name)) {
          fail<ModelError>("{}: input '{}' is not produced by any node, initializer or graph input", graph_.where(n),
                           graph_.value(v).name);
        }
      }
    }
    graph_.check_topological();
  }

  std::string source_;
  std::string model_dir_;
  const LoadOptions& options_;
  // Shared: large initializers alias their raw_data bytes instead of copying them.
  std::shared_ptr<onnx::ModelProto> model_holder_ = std::make_shared<onnx::ModelProto>();
  onnx::ModelProto& model_ = *model_holder_;
  Graph graph_;
  std::vector<std::string> names_;
  std::map<std::string, Tensor> initializers_;
  std::map<int, Tensor> constant_nodes_;
  std::unordered_map<std::string, ValueId> ids_;
};

Graph load_unchecked(const void* data, size_t size, const std::string& name, const std::string& model_dir,
                     const LoadOptions& options) {
  Graph g = Converter(name, model_dir, options).run(data, size);
  if (options.run_passes) {
    PassOptions po;
    po.fuse_activations = options.fuse_activations;
    po.fuse_residual_adds = options.fuse_residual_adds;
    po.fold_constants = options.fold_constants;
    po.non_finite_inputs = options.non_finite_inputs;
    // EFF_QDQ=float keeps QDQ layers on the float kernels (to compare with the integer path).
    static const bool qdq_float = [] {
      const char* env = std::getenv("EFF_QDQ");
      return env != nullptr && std::string(env) == "float";
    }();
    po.fuse_qdq = options.fuse_qdq && !qdq_float;
    po.layer_rewrite = options.layer_rewrite;
    run_default_passes(g, po);
  }
  if (options.require_supported) {
    for (const Node& n : g.nodes) {
      if (!find_op(n.op) || !is_default_domain(n.domain)) {
        if (is_default_domain(n.domain)) fail<UnsupportedError>("{}: op {} is not supported", g.where(n), n.op);
        fail<UnsupportedError>("{}: op {} of domain '{}' is not supported", g.where(n), n.op, n.domain);
      }
    }
  }
  return g;
}

// Names in messages come from the file; control characters in them must not break the one-line
// message grammar (or a terminal).
std::string printable(const char* text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

bool needs_cleaning(const char* text) {
  for (const char* p = text; *p; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

Graph load_impl(const void* data, size_t size, const std::string& name, const std::string& model_dir,
                const LoadOptions& options) {
  try {
    return load_unchecked(data, size, name, model_dir, options);
  } catch (const UnsupportedError& e) {
    if (needs_cleaning(e.what())) throw UnsupportedError(printable(e.what()));
    throw;
  } catch (const ModelError& e) {
    if (needs_cleaning(e.what())) throw ModelError(printable(e.what()));
    throw;
  } catch (const ShapeError& e) {
    if (!options.input_shapes.empty()) throw ShapeError(printable(e.what()));  // the shapes asked for
    throw ModelError(printable(e.what()));
  } catch (const Error& e) {
    // Kernels creating or running during constant folding may throw any typed error; at load
    // time they all mean the model is unusable.
    throw ModelError(printable(e.what()));
  }
}

}  // namespace

Graph load_onnx_bytes(const void* data, size_t size, const std::string& name, const LoadOptions& options) {
  return load_impl(data, size, name, "", options);
}

Graph load_onnx(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail<ModelError>("{}: is a directory, not an ONNX model", path);
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail<ModelError>("{}: cannot read the model file ({})", path, ec.message());
  if (size > options.max_file_bytes) {
    fail<ModelError>("{}: not a valid ONNX model (file of {} bytes is over the {} byte limit)", path, size,
                     options.max_file_bytes);
  }
  // Mapped, not read: the parse copies what it keeps, so a buffer of the whole file (0.5 GB for
  // VGG-16) would only cost time and memory.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail<ModelError>("{}: cannot open the model file", path);
  void* map = size ? ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : nullptr;
  ::close(fd);
  if (map == MAP_FAILED) fail<ModelError>("{}: cannot map the model file", path);
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() {
      if (p) ::munmap(p, n);
    }
  } unmap{map, static_cast<size_t>(size)};
  const fs::path dir = fs::path(path).parent_path();
  return load_impl(map ? map : "", static_cast<size_t>(size), path, dir.empty() ? "." : dir.string(), options);
}

std::vector<std::string> unsupported_ops(const Graph& g) {
  std::vector<std::string> out;
  for (const Node& n : g.nodes) {
    if (find_op(n.op) && is_default_domain(n.domain)) continue;
    std::string op = is_default_domain(n.domain) ? n.op : n.domain + "::" + n.op;
    if (std::find(out.begin(), out.end(), op) == out.end()) out.push_back(op);
  }
  return out;
}

}  // namespace eff
