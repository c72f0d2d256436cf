// effectual run: inputs from image/.npy files, NAME=FILE.npy pairs (models with several inputs) or
// a data set; classifier outputs as top-k classes, any other output as its shape and statistics;
// NaN/Inf in inputs, layer outputs and model outputs reported, never hidden.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/fs.h"
#include "data/npy.h"
#include "engine/evaluate.h"
#include "engine/non_finite.h"
#include "report/trace_writer.h"

namespace eff::cli {

using nlohmann::json;

namespace {

// One inference's inputs: where they came from, the tensors (graph-input order), labels if known.
struct RunItem {
  std::string source;        // file name(s) or data set name
  int64_t first_index = -1;  // for a data set batch: the index of its first item
  std::vector<Tensor> inputs;
  Tensor labels;  // int64 [N] or undefined
};

// NAME=FILE arguments, one per graph input, make a single item.
RunItem named_inputs(const Model& m, const std::vector<std::string>& args) {
  RunItem item;
  for (auto& [arg, t] : load_named_inputs(m, args)) {
    item.source += (item.source.empty() ? "" : " ") + arg;
    item.inputs.push_back(std::move(t));
  }
  return item;
}

std::vector<RunItem> gather_run_inputs(const Model& m, const std::vector<std::string>& files, const Inputs& in,
                                       int64_t limit, bool limit_given, int64_t first, bool quiet) {
  const Graph& g = m.graph;
  std::vector<RunItem> items;
  if (names_inputs(g, files)) {
    items.push_back(named_inputs(m, files));
  } else if (!files.empty() && g.inputs.size() != 1) {
    fail<UsageError>("the model has {} inputs ({}); give each as NAME=FILE.npy", g.inputs.size(), input_names(g));
  } else {
    for (const std::string& path : files) items.push_back({path, -1, {load_input_file(m, path)}, Tensor()});
  }
  if (!in.data.empty() || !in.input.empty()) {
    auto data = open_inputs(m, in);
    if (first >= data->size()) {
      fail<UsageError>("--first {} is past the end of {} ({} items)", first, data->name(), data->size());
    }
    const int64_t count = items_to_use(*data, first, limit, "--limit", quiet || !limit_given);
    constexpr int64_t kBatch = 64;
    for (int64_t b = first; b < first + count; b += kBatch) {
      const int64_t n = std::min(kBatch, first + count - b);
      items.push_back({data->name(), b, data->inputs(b, n), data->has_labels() ? data->labels(b, n) : Tensor()});
    }
  } else if (!in.labels.empty()) {
    fail<UsageError>("--labels goes with --input");
  }
  if (items.empty()) fail<UsageError>("nothing to run: give INPUT files, --data SET or --input FILE.npy");
  return items;
}

const Node* producer_of(const Graph& g, ValueId v) {
  for (const Node& n : g.nodes) {
    if (std::find(n.outputs.begin(), n.outputs.end(), v) != n.outputs.end()) return &n;
  }
  return nullptr;
}

bool is_float_rows(const Tensor& t) {
  if (t.rank() != 2 || t.dim(1) < 2) return false;
  return t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64 || t.dtype() == DType::kFloat16;
}

// Class scores, as issue 8 words it: a float [N, C] output (C >= 2) made by Softmax/LogSoftmax, or
// logits with a class list (the sidecar's classes, C of them). Anything else (logits without a
// class list, an embedding, a probability map, boxes, a sequence) is summarised instead.
bool is_class_scores(const Model& m, size_t k, const Tensor& t) {
  if (!is_float_rows(t)) return false;
  if (!m.meta.classes.empty()) return static_cast<int64_t>(m.meta.classes.size()) == t.dim(1);
  const Node* n = producer_of(m.graph, m.graph.outputs[k]);
  return n && (n->op == "Softmax" || n->op == "LogSoftmax");
}

// Logits without a class list ([N, C] from a fully connected layer): their summary adds each row's
// arg-max index, labelled as an index, so that a torchvision export still says what it picked.
bool is_unnamed_logits(const Model& m, size_t k, const Tensor& t) {
  if (!is_float_rows(t) || !m.meta.classes.empty()) return false;
  const Node* n = producer_of(m.graph, m.graph.outputs[k]);
  return n && (n->op == "Gemm" || n->op == "MatMul");
}

// Each row's largest finite value's index (-1 for a row without one), first on ties.
std::vector<int64_t> row_argmax(const Tensor& t) {
  const std::vector<float> v = t.to_f32_vector();
  const int64_t rows = t.dim(0), cols = t.dim(1);
  std::vector<int64_t> out;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = -1;
    for (int64_t c = 0; c < cols; ++c) {
      const float x = v[r * cols + c];
      if (std::isfinite(x) && (best < 0 || x > v[r * cols + best])) best = c;
    }
    out.push_back(best);
  }
  return out;
}

struct Summary {
  double min = 0, max = 0, mean = 0, std = 0;
  NonFinite non_finite;
};

Summary summarize(const Tensor& t) {
  Summary s;
  s.non_finite = count_non_finite(t);
  const std::vector<float> v = t.to_f32_vector();
  double sum = 0, sq = 0;
  int64_t n = 0;
  bool first = true;
  for (float x : v) {
    if (!std::isfinite(x)) continue;
    s.min = first ? x : std::min<double>(s.min, x);
    s.max = first ? x : std::max<double>(s.max, x);
    first = false;
    sum += x;
    sq += static_cast<double>(x) * x;
    ++n;
  }
  if (n > 0) {
    s.mean = sum / n;
    s.std = std::sqrt(std::max(0.0, sq / n - s.mean * s.mean));
  }
  return s;
}

void cmd_run(const Common& o, const std::vector<std::string>& files, const Inputs& in, int64_t limit, bool limit_given,
             int64_t first, const std::string& out_dir, int top) {
  NonFiniteObserver layer_counts;
  Loaded l = load(o, &layer_counts);
  const Graph& g = l.model.graph;
  if (o.verbose) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      fmt::print(stderr, "node {:>3} {:<24} {:<20} {}\n", i, g.nodes[i].name, g.nodes[i].op, l.exec->kernel_impl(i));
    }
  }
  std::vector<std::vector<Tensor>> per_output(g.outputs.size());
  json results = json::array();
  json non_finite_inputs = json::array();
  int64_t labelled = 0, correct = 0;
  bool classes_noted = false;
  for (const RunItem& item : gather_run_inputs(l.model, files, in, limit, limit_given, first, o.json)) {
    for (size_t k = 0; k < item.inputs.size(); ++k) {
      const NonFinite nf = count_non_finite(item.inputs[k]);
      if (!nf.any()) continue;
      const std::string name = g.value(g.inputs[k]).name;
      non_finite_inputs.push_back({{"source", item.source}, {"input", name}, {"nan", nf.nan}, {"inf", nf.inf}});
      if (!o.json) fmt::print(stderr, "warning: {}: input '{}' holds {}\n", item.source, name, to_string(nf));
    }
    std::vector<Tensor> out = l.exec->run(item.inputs);
    for (size_t k = 0; k < out.size(); ++k) per_output[k].push_back(out[k]);
    const Tensor& scores = out.at(0);
    const int64_t n = scores.rank() >= 1 ? scores.dim(0) : 1;
    const std::string where0 =
        item.first_index >= 0 ? fmt::format("{}#{}", item.source, item.first_index) : fmt::format("{}", item.source);
    // What outputs other than class scores are (all of them, or those after the class scores),
    // per inference.
    auto summarize_outputs = [&](size_t from) {
      json outs = json::array();
      for (size_t k = from; k < out.size(); ++k) {
        const Summary s = summarize(out[k]);
        const std::string name = g.value(g.outputs[k]).name;
        json entry = {{"name", name},
                      {"shape", out[k].shape()},
                      {"dtype", dtype_name(out[k].dtype())},
                      {"min", s.min},
                      {"max", s.max},
                      {"mean", s.mean},
                      {"std", s.std},
                      {"nan", s.non_finite.nan},
                      {"inf", s.non_finite.inf}};
        std::string argmax_text;
        if (is_unnamed_logits(l.model, k, out[k])) {
          const std::vector<int64_t> idx = row_argmax(out[k]);
          entry["argmax_index"] = idx;  // indices, not classes: the model names none
          for (size_t r = 0; r < idx.size(); ++r) {
            argmax_text += (r ? ", " : "") + (idx[r] < 0 ? std::string("none") : std::to_string(idx[r]));
          }
          argmax_text = fmt::format(
              "; arg-max index {} (logits without a class list: --meta FILE.json with "
              "\"classes\" names them)",
              idx.size() == 1 ? argmax_text : "per row " + argmax_text);
        }
        outs.push_back(entry);
        if (!o.json) {
          fmt::print("{}: output '{}' {} {}: min {:.6g}, max {:.6g}, mean {:.6g}, std {:.6g}{}{}\n", where0, name,
                     dtype_name(out[k].dtype()), shape_str(out[k].shape()), s.min, s.max, s.mean, s.std,
                     s.non_finite.any() ? ", " + to_string(s.non_finite) : "", argmax_text);
        }
      }
      return outs;
    };
    const auto& classes = l.model.meta.classes;
    if (!classes_noted && !o.json && !classes.empty() && scores.rank() == 2 &&
        static_cast<int64_t>(classes.size()) != scores.dim(1)) {
      classes_noted = true;  // a sidecar for another model: said once, not taken as this one's classes
      fmt::print(stderr, "note: {}: {} class name(s), but output '{}' has {} values per item; not read as classes\n",
                 l.model.meta.path, classes.size(), g.value(g.outputs[0]).name, scores.dim(1));
    }
    if (!is_class_scores(l.model, 0, scores)) {
      json r = {{"input", item.source}, {"index", item.first_index >= 0 ? item.first_index : 0}};
      r["outputs"] = summarize_outputs(0);
      results.push_back(r);
      continue;
    }
    const int64_t c = scores.dim(1);
    std::vector<float> v = scores.to_f32_vector();
    for (int64_t i = 0; i < n; ++i) {
      auto best = top_k(scores, i, top);
      json r = {{"input", item.source}, {"index", item.first_index >= 0 ? item.first_index + i : i}};
      json tk = json::array();
      for (int64_t k : best) {
        tk.push_back({{"class", k}, {"name", l.model.class_name(k)}, {"score", v[i * c + k]}});
      }
      r["top"] = tk;
      std::string line = item.first_index >= 0 ? fmt::format("{}#{}:", item.source, item.first_index + i)
                                               : fmt::format("{}[{}]:", item.source, i);
      for (int64_t k : best) {
        // NaN prints as "nan" whatever its sign bit; without a class list (Softmax output) the
        // index is the name.
        const float score = std::isnan(v[i * c + k]) ? std::fabs(v[i * c + k]) : v[i * c + k];
        line += l.model.meta.classes.empty() ? fmt::format("  class {} {:.4f}", k, score)
                                             : fmt::format("  {} ({}) {:.4f}", l.model.class_name(k), k, score);
      }
      if (item.labels.defined()) {
        const int64_t label = item.labels.data<int64_t>()[i];
        r["label"] = label;
        ++labelled;
        if (!best.empty() && best[0] == label) ++correct;
        line += fmt::format("   [label: {}{}]", l.model.class_name(label),
                            !best.empty() && best[0] == label ? "" : ", wrong");
      }
      if (!o.json) fmt::print("{}\n", line);
      // Outputs beside the class scores (boxes, an auxiliary head) are summarised, not dropped.
      if (out.size() > 1 && i + 1 == n) r["outputs"] = summarize_outputs(1);
      results.push_back(r);
    }
  }
  if (labelled > 0 && !o.json) fmt::print("top-1 on the {} labelled input(s): {}/{}\n", labelled, correct, labelled);

  json non_finite_layers = json::array();
  for (const auto& e : layer_counts.layers_with_non_finite()) {
    non_finite_layers.push_back({{"layer", e.layer}, {"nan", e.counts.nan}, {"inf", e.counts.inf}});
    if (!o.json) fmt::print(stderr, "warning: layer '{}' output holds {}\n", e.layer, to_string(e.counts));
  }
  json written = json::array();
  if (!out_dir.empty()) {
    make_dirs(out_dir);
    for (size_t k = 0; k < g.outputs.size(); ++k) {
      std::string file = out_dir + "/" + safe_file_name(g.value(g.outputs[k]).name) + ".npy";
      write_npy(file, concat_batches(per_output[k]));
      written.push_back(file);
      if (!o.json) fmt::print("wrote {}\n", file);
    }
  }
  if (o.json) {
    print_json({{"model", o.model},
                {"results", results},
                {"outputs_written", written},
                {"non_finite", {{"inputs", non_finite_inputs}, {"layers", non_finite_layers}}}});
  }
}

}  // namespace

void register_run_command(CLI::App& app) {
  static Common common;
  static Inputs inputs;
  static std::vector<std::string> files;
  static std::string out_dir;
  static int top = 3;
  static int64_t limit = 10, first = 0;
  auto* run = app.add_subcommand("run", "classify inputs or summarise outputs (images, .npy, NAME=FILE.npy, data)");
  add_model_flags(run, common, true);
  run->add_option("INPUT", files,
                  "image files (PNG/JPEG) or .npy tensors; for a model with several inputs NAME=FILE.npy each");
  add_input_flags(run, inputs);
  auto* limit_opt = run->add_option("--limit", limit, "with --data/--input: run at most N items (0: all)")
                        ->check(non_negative_count());
  run->add_option("--first", first, "with --data/--input: index of the first item")->check(non_negative_count());
  run->add_option("--out", out_dir, "write every model output as DIR/<output name>.npy");
  run->add_option("--top", top, "classes to show per input")->check(positive_count());
  run->add_flag("-v,--verbose", common.verbose, "print the kernel chosen for each node");
  run->callback([limit_opt] { cmd_run(common, files, inputs, limit, limit_opt->count() > 0, first, out_dir, top); });
}

}  // namespace eff::cli
