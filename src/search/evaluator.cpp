#include "search/evaluator.h"

#include <algorithm>
#include <cmath>

#include "engine/blocked_layout.h"
#include "graph/passes.h"

namespace eff::search {

namespace {

class RangeObserver final : public LayerObserver {
 public:
  explicit RangeObserver(std::vector<LayerRanges>& r) : ranges_(r) {}
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights, const Tensor&) override {
    if (static_cast<size_t>(layer.index) >= ranges_.size()) ranges_.resize(layer.index + 1);
    LayerRanges& r = ranges_[layer.index];
    update(r.activations, activations);
    update(r.weights, weights);
  }

 private:
  static void update(OperandRange& r, const Tensor& t) {
    if (!t.defined() || t.dtype() != DType::kFloat32) return;
    const float* v = t.data<float>();
    float m = 0;
    bool neg = false;
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(v[i])) continue;
      m = std::max(m, std::fabs(v[i]));
      neg = neg || v[i] < 0;
    }
    r.max_abs = std::max(r.max_abs, double(m));
    r.negative = r.negative || neg;
  }
  std::vector<LayerRanges>& ranges_;
};

// Copies one layer's input activations, batch by batch, into one tensor of every image.
class InputCapture final : public LayerObserver {
 public:
  InputCapture(int layer, int64_t images) : layer_(layer), images_(images) {}
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor&, const Tensor&) override {
    if (layer.index != layer_) return;
    if (activations.dtype() != DType::kFloat32 || activations.rank() < 1) {
      fail<ShapeError>("layer '{}': float activations with a batch dimension expected", layer.name);
    }
    const int64_t n = activations.dim(0);
    if (!all_.defined()) {
      Shape s = activations.shape();
      s[0] = images_;
      all_ = Tensor(DType::kFloat32, s);
    }
    const int64_t per = activations.numel() / std::max<int64_t>(1, n);
    std::copy(activations.data<float>(), activations.data<float>() + n * per, all_.data<float>() + next_ * per);
    next_ += n;
  }
  Tensor take() { return std::move(all_); }

 private:
  int layer_;
  int64_t images_;
  int64_t next_ = 0;
  Tensor all_;
};

const Tensor& scores_of(const std::vector<Tensor>& out, int64_t n, const Graph& g) {
  const Tensor& s = out.at(0);
  if (s.rank() < 1 || s.dim(0) != n || s.dtype() != DType::kFloat32) {
    fail<ShapeError>("{}: output 0 has shape {}, expected float [{}, classes]", g.source, shape_str(s.shape()), n);
  }
  return s;
}

}  // namespace

int64_t argmax(const float* scores, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (scores[i] > scores[best]) best = i;
  }
  return best;
}

Evaluator::Evaluator(const Graph& graph, int threads, int64_t batch)
    : graph_(graph), threads_(threads), batch_(std::max<int64_t>(1, batch)), layers_(find_layers(graph)) {
  if (threads_ <= 0 && resolve_threads(0) > 1) governor_ = std::make_shared<ThreadGovernor>(resolve_threads(0));
}

Reference Evaluator::reference(const EvalSet& set, std::vector<LayerRanges>* ranges) const {
  std::vector<LayerRanges> seen(layers_.size());
  RangeObserver observer(seen);
  ExecutorOptions eo;
  eo.threads = threads_;
  eo.governor = governor_;
  eo.observer = ranges ? &observer : nullptr;
  Executor ex(graph_, eo);
  Reference ref;
  for (int64_t b = 0; b < set.size(); b += batch_) {
    const int64_t n = std::min(batch_, set.size() - b);
    const std::vector<Tensor> out = ex.run(set.batch(b, n));
    const Tensor& s = scores_of(out, n, graph_);
    const int64_t per = s.numel() / n;
    ref.outputs_per_image = per;
    const float* v = s.data<float>();
    ref.outputs.insert(ref.outputs.end(), v, v + n * per);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t top = argmax(v + i * per, per);
      ref.top1.push_back(top);
      if (set.has_labels() && top == set.labels[b + i]) ++ref.correct;
    }
  }
  for (float x : ref.outputs) ref.signal_energy += double(x) * double(x);
  ref.images = set.size();
  if (ranges) *ranges = std::move(seen);
  return ref;
}

EvalSet Evaluator::layer_inputs(const EvalSet& set, const LayerInfo& layer,
                                const std::map<std::string, LayerTransform>& before) const {
  // Only the graph up to the layer's node runs (the observer sees the layer's plain input there).
  Graph prefix = graph_;
  prefix.nodes.erase(prefix.nodes.begin() + layer.node + 1, prefix.nodes.end());
  prefix.outputs = {prefix.nodes.back().outputs.at(0)};
  const std::vector<LayerInfo> kept = find_layers(prefix);
  InputCapture capture(layer.index, set.size());
  ExecutorOptions eo;
  eo.threads = threads_;
  eo.governor = governor_;
  eo.observer = &capture;
  for (const auto& [name, t] : before) {
    for (const LayerInfo& l : kept) {
      if (l.name == name && l.index < layer.index) eo.transforms[name] = t;
    }
  }
  Executor ex(prefix, eo);
  for (int64_t b = 0; b < set.size(); b += batch_) ex.run(set.batch(b, std::min(batch_, set.size() - b)));
  EvalSet out;
  out.source = set.source;
  out.indices = set.indices;
  out.labels = set.labels;
  out.inputs = {capture.take()};
  return out;
}

std::optional<Graph> graph_from_layer(const Graph& graph, const LayerInfo& layer) {
  const size_t cut = static_cast<size_t>(layer.node);
  if (cut == 0 || layer.index == 0) return std::nullopt;
  std::vector<int> producer(graph.values.size(), -1);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (ValueId v : graph.nodes[i].outputs) {
      if (v != kNoValue) producer[v] = static_cast<int>(i);
    }
  }
  auto from_suffix = [&](ValueId v) { return producer[v] >= static_cast<int>(cut); };
  for (size_t i = cut; i < graph.nodes.size(); ++i) {
    for (ValueId v : graph.nodes[i].inputs) {
      if (v == kNoValue || v == layer.activations || graph.is_constant(v) || from_suffix(v)) continue;
      return std::nullopt;
    }
  }
  for (ValueId v : graph.outputs) {
    if (!from_suffix(v)) return std::nullopt;
  }
  // The cut value arrives plain: convs that read it channel-blocked read it plain instead; any
  // other reader of a blocked value (an Add of two blocked values) would mix layouts.
  const int cut_producer = producer[layer.activations];
  const bool blocked = cut_producer >= 0 && writes_blocked(graph.nodes[cut_producer]);
  Graph g = graph;
  for (size_t i = cut; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (std::find(n.inputs.begin(), n.inputs.end(), layer.activations) == n.inputs.end()) continue;
    // Convs and a GlobalAveragePool read plain input without the attribute; the other blocked
    // readers (Add, MaxPool, Resize, the gate's Mul, Concat) write blocked from blocked input only.
    if (reads_blocked(n) && n.inputs[0] == layer.activations && (n.op == "Conv" || n.op == "GlobalAveragePool")) {
      n.attrs.erase(kBlockedInputAttr);
    } else if (blocked) {
      return std::nullopt;
    }
  }
  g.nodes.erase(g.nodes.begin(), g.nodes.begin() + static_cast<std::ptrdiff_t>(cut));
  g.inputs = {layer.activations};
  g.value(layer.activations).has_shape = false;  // any batch size
  return g;
}

Tally Evaluator::run(const EvalSet& set, const Reference& ref, const Judge& judge,
                     const std::map<std::string, LayerTransform>& transforms, bool early_stop) const {
  ExecutorOptions eo;
  eo.threads = threads_;
  eo.governor = governor_;
  eo.transforms = transforms;
  Executor ex(graph_, eo);
  Tally t;
  for (int64_t b = 0; b < set.size(); b += batch_) {
    const int64_t n = std::min(batch_, set.size() - b);
    const std::vector<Tensor> out = ex.run(set.batch(b, n));
    const Tensor& s = scores_of(out, n, graph_);
    const int64_t per = s.numel() / n;
    if (per != ref.outputs_per_image)
      fail<ShapeError>("{}: output 0 changed shape under the transforms", graph_.source);
    const float* v = s.data<float>();
    const float* r = ref.outputs.data() + b * per;
    for (int64_t i = 0; i < n * per; ++i) {
      const double d = double(v[i]) - double(r[i]);
      t.noise_energy += d * d;
    }
    for (int64_t i = 0; i < n; ++i) {
      const int64_t top = argmax(v + i * per, per);
      if (set.has_labels()) {
        const int64_t label = set.labels[b + i];
        if (top == label) ++t.correct;
        if (top != label && ref.top1[b + i] == label) ++t.lost;
      }
      if (top == ref.top1[b + i]) ++t.agree;
    }
    t.images += n;
    if (early_stop && t.images < set.size() && (judge.surely_met(t) || judge.surely_missed(t))) {
      t.met = judge.surely_met(t);
      return t;
    }
  }
  t.complete = true;
  t.met = judge.met(t);
  return t;
}

std::optional<Tally> rejudge(const Tally& t, const Judge& judge) {
  Tally r = t;
  if (t.complete) {
    r.met = judge.met(t);
  } else if (judge.surely_met(t)) {
    r.met = true;
  } else if (judge.surely_missed(t)) {
    r.met = false;
  } else {
    return std::nullopt;
  }
  return r;
}

}  // namespace eff::search
