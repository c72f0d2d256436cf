#include "api/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/fs.h"
#include "engine/evaluate.h"

namespace eff::api {

using nlohmann::json;

namespace {

// Deterministic non-trivial values for graph input `k` at its resolved shape with batch `batch`,
// so that ReLU layers see a realistic mix of zeros; integer inputs get zeros.
Tensor generated_input(const Model& m, size_t k, int64_t batch) {
  Shape s = m.input_shapes().at(k);
  if (!s.empty()) s[0] = batch;
  const Value& v = m.graph.value(m.graph.inputs[k]);
  const DType type = v.has_type ? v.dtype : DType::kFloat32;
  Tensor x(DType::kFloat32, s);
  float* d = x.data<float>();
  uint32_t state = 12345;
  for (int64_t i = 0; i < x.numel(); ++i) {
    state = state * 1664525u + 1013904223u;
    d[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  if (type == DType::kFloat32) return x;
  const bool is_float = type == DType::kFloat64 || type == DType::kFloat16;
  if (!is_float) std::fill_n(d, x.numel(), 0.0f);
  return x.cast(type);
}

// Where the time goes: every node's share of an inference, slowest first.
void per_node(Executor& ex, const std::vector<Tensor>& inputs, int repeat, bool json_out, json& j, std::string& text) {
  ex.set_node_timing(true);
  for (int i = 0; i < repeat; ++i) ex.run(inputs);
  ex.set_node_timing(false);
  std::vector<Executor::NodeTime> t = ex.node_times();
  double total = 0;
  for (const auto& n : t) total += n.ms;
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.ms > b.ms; });
  json nodes = json::array();
  for (const auto& n : t) {
    const double per_run = n.runs ? n.ms / n.runs : 0.0;
    nodes.push_back({{"node", n.name}, {"op", n.op}, {"ms", per_run}, {"share", total > 0 ? n.ms / total : 0.0}});
  }
  j["per_node"] = nodes;
  if (json_out) return;
  std::map<std::string, double> by_op;
  for (const auto& n : t) by_op[n.op] += n.ms;
  // Exported names differ at their ends (/features.2/conv/conv.0/conv.0.0/Conv vs .../conv.1/Conv):
  // a long one keeps its start and its end, the middle elided.
  constexpr size_t kMaxName = 56;
  size_t width = 4;
  for (const auto& n : t) width = std::max(width, std::min(n.name.size(), kMaxName));
  auto shown = [&](const std::string& name) {
    if (name.size() <= kMaxName) return name;
    const size_t head = 16, tail = kMaxName - head - 1;
    return name.substr(0, head) + "~" + name.substr(name.size() - tail);
  };
  text += fmt::format("{:<{}} {:<20} {:>10} {:>7}\n", "node", width, "op", "ms/run", "share");
  for (const auto& n : t) {
    const double per_run = n.runs ? n.ms / n.runs : 0.0;
    text += fmt::format("{:<{}} {:<20} {:>10.4f} {:>6.1f}%\n", shown(n.name), width, n.op, per_run,
                        total > 0 ? 100 * n.ms / total : 0.0);
  }
  std::vector<std::pair<std::string, double>> ops(by_op.begin(), by_op.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string line;
  for (const auto& [op, ms] : ops) line += fmt::format("  {} {:.1f}%", op, total > 0 ? 100 * ms / total : 0.0);
  text += fmt::format("by op:{}\n", line);
}

// `x`'s rows tiled or cut to `n` along the first dimension (as bench_ort.js does), any element type.
Tensor rows_to(const Tensor& x, int64_t n, const std::string& source) {
  if (x.rank() == 0 || x.dim(0) == n) return x;
  if (x.dim(0) == 0) fail<DataError>("{}: no rows to make a batch of {} from", source, n);
  Shape s = x.shape();
  s[0] = n;
  Tensor out(x.dtype(), s);
  const size_t row = x.nbytes() / static_cast<size_t>(x.dim(0));
  const auto* from = static_cast<const std::byte*>(x.raw());
  auto* to = static_cast<std::byte*>(out.raw());
  for (int64_t i = 0; i < n && row > 0; ++i) std::memcpy(to + i * row, from + (i % x.dim(0)) * row, row);
  return out;
}

}  // namespace

void BenchOptions::check() const {
  if (batch < 0) fail<UsageError>("--batch must be at least 1");
  if (repeat < 1) fail<UsageError>("--repeat must be at least 1");
  if (warmup < 0) fail<UsageError>("--warmup must not be negative");
  if (!(max_seconds >= 0)) fail<UsageError>("--max-seconds must not be negative");
}

Output bench(cli::Loaded& l, const cli::Common& o, std::vector<std::pair<std::string, Tensor>> given,
             const BenchOptions& a) {
  a.check();
  const Graph& g = l.model.graph;
  std::vector<Tensor> inputs;
  // A batch or a shape past the tensor limit is the option's fault: say which before allocating.
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const Value& v = g.value(g.inputs[k]);
    const bool is_given = k < given.size();
    Shape s = is_given ? given[k].second.shape() : l.model.input_shapes().at(k);
    const DType type = is_given ? given[k].second.dtype() : (v.has_type ? v.dtype : DType::kFloat32);
    if (!s.empty() && (a.batch > 0 || !is_given)) s[0] = std::max<int64_t>(a.batch, 1);
    if (s.empty() ||
        static_cast<size_t>(s[0]) <=
            max_tensor_bytes() / dtype_size(type) / static_cast<size_t>(std::max<int64_t>(1, shape_numel(s) / s[0]))) {
      continue;
    }
    if (a.batch > 1)
      fail<UsageError>("--batch {}: input '{}' would exceed the {} byte limit", a.batch, v.name, max_tensor_bytes());
    fail<ShapeError>("{}: input '{}' of shape {} ({}) exceeds the {} byte limit", g.source, v.name, shape_str(s),
                     dtype_name(type), max_tensor_bytes());
  }
  if (!given.empty()) {
    // batch 0: --batch not given, the first input's rows as they are.
    const Tensor& x0 = given[0].second;
    const int64_t rows = a.batch > 0 ? a.batch : (x0.rank() > 0 ? x0.dim(0) : 1);
    for (const auto& [source, t] : given) inputs.push_back(rows_to(t, rows, source));
  } else {
    inputs.push_back(generated_input(l.model, 0, std::max<int64_t>(a.batch, 1)));
  }
  const int64_t rows = inputs[0].rank() > 0 ? inputs[0].dim(0) : 1;
  for (size_t k = inputs.size(); k < g.inputs.size(); ++k) inputs.push_back(generated_input(l.model, k, rows));
  LatencyStats s = measure_latency(*l.exec, inputs, a.repeat, a.warmup, a.max_seconds);
  if (s.repeat < a.repeat && !o.json) {
    fmt::print(stderr, "note: --repeat {}: stopped after {} timed run(s), --max-seconds {} reached\n", a.repeat,
               s.repeat, a.max_seconds);
  }
  json j = {{"model", o.model},
            {"batch", s.batch},
            {"threads", l.exec->threads()},
            {"repeat", s.repeat},
            {"latency_ms",
             {{"median", s.median_ms},
              {"min", s.min_ms},
              {"max", s.max_ms},
              {"mean", s.mean_ms},
              {"p99", s.p99_ms},
              {"p999", s.p999_ms}}},
            {"runs_over_20x_median", s.runs_over_20x_median},
            // The thread governor's interventions (default threads only): runs after which it fell
            // back to one thread, and runs that went over its stall budget and finished on one.
            {"thread_fallbacks", l.exec->thread_fallbacks()},
            {"runs_finished_on_one_thread", l.exec->runs_cut_to_one_thread()},
            // How long OpenMP threads spin at a barrier before sleeping (src/cli/openmp_defaults.cpp).
            {"gomp_spincount", std::getenv("GOMP_SPINCOUNT") ? json(std::getenv("GOMP_SPINCOUNT")) : json(nullptr)},
            {"throughput_per_s", s.throughput_per_s}};
  if (!a.runs_out.empty()) write_file_atomic(a.runs_out, runs_csv(s.runs));
  Output out;
  if (!o.json) {
    out.text = fmt::format(
        "{}: batch {}, {} thread(s), {} runs: latency median {:.3f} ms (min {:.3f}, max {:.3f}), {:.1f} images/s\n",
        o.model, s.batch, l.exec->threads(), s.repeat, s.median_ms, s.min_ms, s.max_ms, s.throughput_per_s);
  }
  if (a.per_layer) per_node(*l.exec, inputs, a.repeat, o.json, j, out.text);
  out.doc = std::move(j);
  return out;
}

}  // namespace eff::api
