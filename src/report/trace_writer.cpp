#include "report/trace_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "core/fs.h"
#include "data/npy.h"

namespace eff {

using nlohmann::json;

namespace {
Tensor codes_tensor(const std::vector<int16_t>& codes, const Shape& shape) {
  Tensor t(DType::kInt16, shape);
  std::copy(codes.begin(), codes.end(), t.data<int16_t>());
  return t;
}

}  // namespace

void TraceRecorder::on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                             const Tensor& output) {
  LayerCapture& c = captures_[layer.index];
  const LayerQuantization q = graph_ ? layer_quantization(*graph_, layer) : LayerQuantization{};
  if (q.present) {
    c.quant = q;
    c.activations.push_back(codes_tensor(activation_codes(q, activations), activations.shape()));
    if (!c.weights.defined()) c.weights = codes_tensor(weight_codes(q, weights), weights.shape());
    const int64_t images = activations.rank() >= 2 ? activations.dim(0) : 1;
    c.act_scales.insert(c.act_scales.end(), static_cast<size_t>(images), q.act_scale);
    c.act_zeros.insert(c.act_zeros.end(), static_cast<size_t>(images), q.act_zero);
  } else {
    // The executor reuses its buffers, so keep copies.
    c.activations.push_back(activations.clone());
    if (!c.weights.defined()) c.weights = weights.clone();
  }
  c.outputs.push_back(output.clone());
}

Tensor concat_batches(const std::vector<Tensor>& parts) {
  EFF_ASSERT(!parts.empty());
  if (parts.size() == 1) return parts[0];
  Shape s = parts[0].shape();
  EFF_ASSERT(!s.empty());
  int64_t n = 0;
  for (const Tensor& p : parts) n += p.dim(0);
  s[0] = n;
  Tensor out(parts[0].dtype(), s);
  auto* dst = static_cast<std::byte*>(out.raw());
  for (const Tensor& p : parts) {
    std::memcpy(dst, p.raw(), p.nbytes());
    dst += p.nbytes();
  }
  return out;
}

namespace {
// Per image scale / zero point lists collapse to one value when the model's are constants.
template <typename T>
json one_or_list(const std::vector<T>& v) {
  const bool same = std::all_of(v.begin(), v.end(), [&](const T& x) { return x == v.front(); });
  return same && !v.empty() ? json(v.front()) : json(v);
}

json quantization_json(const TraceRecorder::LayerCapture& c) {
  const LayerQuantization& q = c.quant;
  return json{{"format", "code-zero_point"},
              {"dynamic", q.dynamic},
              {"act_bits", q.act_bits},
              {"act_scale", q.act_scale_known ? one_or_list(c.act_scales) : json(nullptr)},
              {"act_zero_point", one_or_list(c.act_zeros)},
              {"wgt_bits", q.wgt_bits},
              {"wgt_scale", q.wgt_scale_known ? json(q.wgt_scale) : json(nullptr)},
              {"wgt_zero_point", q.wgt_zero},
              {"wgt_axis", q.wgt_axis}};
}

json operand_json(const OperandSpec& s) {
  switch (s.kind) {
    case OperandTransform::kNone:
      return nullptr;
    case OperandTransform::kUniform8:
      return "uniform8";
    case OperandTransform::kFixedPoint:
      json j{{"int_bits", s.fixed.int_bits}, {"frac_bits", s.fixed.frac_bits}};
      if (s.sign_stated) j["signed"] = s.fixed.is_signed;
      return j;
  }
  return nullptr;
}

json file_entry(const std::string& rel, const Tensor& t) {
  return json{{"file", rel}, {"shape", t.shape()}, {"dtype", dtype_name(t.dtype())}};
}

// DNNsim sanitises layer names by replacing '/' with '-'.
std::string dnnsim_name(std::string n) {
  for (char& c : n) {
    if (c == '/') c = '-';
  }
  return safe_file_name(n);
}
}  // namespace

json transform_to_json(const LayerTransform& t) {
  return json{{"activations", operand_json(t.activations)},
              {"weights", operand_json(t.weights)},
              {"prune_threshold", t.prune_threshold}};
}

json write_trace(const TraceWriteOptions& opts, const std::vector<LayerGeometry>& geometry,
                 const std::vector<LayerInfo>& layers, const std::map<std::string, LayerTransform>& xforms,
                 const TraceRecorder& rec) {
  make_dirs(opts.dir);
  json manifest = {{"format", "effectual-trace"}, {"version", 1}};
  for (auto it = opts.manifest_extra.begin(); it != opts.manifest_extra.end(); ++it) manifest[it.key()] = it.value();
  json jl = json::array();
  std::string dnnsim_csv;
  for (const LayerInfo& l : layers) {
    auto cit = rec.captures().find(l.index);
    if (cit == rec.captures().end()) continue;
    const auto& cap = cit->second;
    Tensor act = concat_batches(cap.activations);
    Tensor out = concat_batches(cap.outputs);
    json e;
    if (static_cast<size_t>(l.index) < geometry.size()) e = geometry[l.index];
    e["name"] = l.name;
    auto xt = xforms.find(l.name);
    e["transform"] = transform_to_json(xt == xforms.end() ? LayerTransform{} : xt->second);
    if (cap.quant.present) e["quantization"] = quantization_json(cap);
    if (opts.effectual_layout) {
      const std::string sub = fmt::format("layers/{:03d}_{}", l.index, safe_file_name(l.name));
      make_dirs(opts.dir + "/" + sub);
      write_npy(opts.dir + "/" + sub + "/input.npy", act);
      write_npy(opts.dir + "/" + sub + "/weights.npy", cap.weights);
      write_npy(opts.dir + "/" + sub + "/output.npy", out);
      e["input"] = file_entry(sub + "/input.npy", act);
      e["weights"] = file_entry(sub + "/weights.npy", cap.weights);
      e["output"] = file_entry(sub + "/output.npy", out);
    }
    if (opts.dnnsim_layout) {
      const std::string n = dnnsim_name(l.name);
      write_npy(opts.dir + "/wgt-" + n + ".npy", cap.weights);
      write_npy(opts.dir + "/act-" + n + "-0.npy", act);
      e["dnnsim"] = {{"weights", "wgt-" + n + ".npy"}, {"activations", "act-" + n + "-0.npy"}};
      const bool fc = l.op == "Gemm" || l.op == "MatMul" || l.op == "QLinearMatMul" || l.op == "MatMulInteger";
      const LayerGeometry* g = static_cast<size_t>(l.index) < geometry.size() ? &geometry[l.index] : nullptr;
      dnnsim_csv += fmt::format("{},{},{},{}\n", n, fc ? "fc" : "conv", g ? g->stride_x : 1, g ? g->pad_left : 0);
    }
    jl.push_back(std::move(e));
  }
  manifest["layers"] = jl;
  if (opts.dnnsim_layout) write_file_atomic(opts.dir + "/model.csv", dnnsim_csv);
  write_file_atomic(opts.dir + "/manifest.json", manifest.dump(2) + "\n");
  return manifest;
}

}  // namespace eff
