#include "search/precision_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "core/fs.h"
#include "core/progress.h"

namespace eff::search {

using nlohmann::json;

namespace {

constexpr int kFp32 = -1;  // an operand left in fp32 (fraction bits of a configuration)

// Operand t of a configuration: layer t / 2, activations when t is even, weights when odd.
int layer_of(size_t t) {
  return static_cast<int>(t / 2);
}
bool is_activation(size_t t) {
  return t % 2 == 0;
}

class PrecisionSearch {
 public:
  PrecisionSearch(const Graph& graph, const std::vector<LayerGeometry>& geometry, const EvalSet& search,
                  const SearchOptions& o)
      : o_(o), graph_(graph), set_(search), evaluator_(graph, o.threads, o.batch) {
    const std::vector<LayerInfo>& infos = evaluator_.layers();
    if (infos.empty()) fail<UsageError>("{}: the model has no conv/FC layer to search", graph.source);
    std::vector<LayerRanges> ranges;
    log("fp32 reference on the search set ({} images)", search.size());
    ref_ = evaluator_.reference(search, &ranges);
    judge_ = std::make_unique<Judge>(o.target, ref_, search.has_labels());
    for (const LayerInfo& info : infos) {
      LayerChoice c;
      c.index = info.index;
      c.name = info.name;
      for (const LayerGeometry& g : geometry) {
        if (g.index != info.index) continue;
        c.kind = g.kind;
        c.shape.macs = g.macs;
        c.shape.act_count = g.Ni * g.Nx * g.Ny;
        c.shape.wgt_count = g.Nf * (g.Ni / std::max<int64_t>(1, g.groups)) * g.Kx * g.Ky;
      }
      const LayerRanges r = static_cast<size_t>(info.index) < ranges.size() ? ranges[info.index] : LayerRanges{};
      c.activations.range = r.activations;
      c.weights.range = r.weights;
      c.activations.format = integer_format(r.activations.max_abs, r.activations.negative);
      c.weights.format = integer_format(r.weights.max_abs, r.weights.negative);
      layers_.push_back(c);
    }
    if (o.resume) load_checkpoint();
  }

  SearchResult run() {
    const size_t n = layers_.size() * 2;
    SearchResult res;
    // Phase 2: each operand alone.
    std::vector<int> minima(n);
    {
      log("sensitivity: {} operands, one at a time", n);
      Progress bar("sensitivity", static_cast<int64_t>(n));
      for (size_t t = 0; t < n; ++t) {
        if (is_activation(t)) start_at_layer(layer_of(t));
        minima[t] = alone_minimum(t, res.evaluations.sensitivity);
        operand(t).sensitivity_frac_bits = minima[t];
        if (o_.progress) bar.advance();
      }
      bar.finish();
      stop_suffix();
    }
    // Phase 3: together, adding bits while the target is missed.
    std::vector<int> frac = minima;
    Tally current = evaluate(frac, false, res.evaluations.ascent);
    int ascent_steps = 0;
    while (!current.met) {
      // The bit that buys the most metric per unit of cost; but once a candidate meets the target
      // the ascent ends, and then the cheapest candidate that meets it is the better end.
      int best = -1, cheapest_met = -1;
      double best_gain = 0, cheapest_cost = 0;
      Tally best_tally, met_tally;
      Progress bar(fmt::format("ascent {}", ++ascent_steps), static_cast<int64_t>(n));
      for (size_t t = 0; t < n; ++t) {
        if (o_.progress) bar.advance();
        if (frac[t] >= max_frac_bits(operand(t).format)) continue;
        std::vector<int> up = frac;
        ++up[t];
        const double added = std::max(1e-12, cost(up) - cost(frac));
        // A candidate that can neither meet the target nor beat the best gain so far, whatever
        // its remaining images do, is dropped as soon as that is certain.
        const auto hopeless = [&](const Tally& partial) {
          return best >= 0 && judge_->surely_missed(partial) &&
                 (judge_->best_possible_score(partial) - judge_->score(current)) / added <= best_gain;
        };
        const Tally u = evaluate(up, false, res.evaluations.ascent, hopeless);
        if (!u.complete && !u.met && hopeless(u)) continue;
        const double gain = (judge_->score(u) - judge_->score(current)) / added;
        if (best < 0 || gain > best_gain) {
          best = static_cast<int>(t);
          best_gain = gain;
          best_tally = u;
        }
        if (u.met && (cheapest_met < 0 || added < cheapest_cost)) {
          cheapest_met = static_cast<int>(t);
          cheapest_cost = added;
          met_tally = u;
        }
      }
      bar.finish();
      if (cheapest_met >= 0) {
        best = cheapest_met;
        best_tally = met_tally;
      }
      if (best < 0) {
        fail("the target ({}) is not met on the search set even with every operand at 16 bits",
             describe_target(o_.target));
      }
      ++frac[best];
      current = best_tally;
      log("ascent: +1 bit to {} {} -> {:.4g}", layers_[layer_of(best)].name,
          is_activation(best) ? "activations" : "weights", judge_->score(current));
    }
    // Phase 4: removing bits, the largest saving first.
    std::vector<size_t> order(n);
    for (size_t t = 0; t < n; ++t) order[t] = t;
    auto saving = [&](size_t t) {
      std::vector<int> down = frac;
      --down[t];
      return cost(frac) - cost(down);
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return saving(a) > saving(b); });
    Progress descent_bar("descent", static_cast<int64_t>(n));
    for (size_t t : order) {
      if (o_.progress) descent_bar.advance();
      while (frac[t] > min_frac_bits(operand(t).format)) {
        std::vector<int> down = frac;
        --down[t];
        if (!evaluate(down, true, res.evaluations.descent).met) break;
        frac = down;
        log("descent: -1 bit from {} {}", layers_[layer_of(t)].name, is_activation(t) ? "activations" : "weights");
      }
    }
    descent_bar.finish();
    // Phase 5: the final check, in full.
    const Tally final_tally = evaluate(frac, false, res.evaluations.final_checks);
    for (size_t t = 0; t < n; ++t) operand(t).format.frac_bits = frac[t];
    res.layers = layers_;
    res.search = score_subset(ref_, *judge_, final_tally, set_.has_labels());
    res.cost = cost(frac);
    for (const LayerChoice& l : layers_) res.cost_at_16_bits += layer_cost(o_.objective, l.shape, 16, 16);
    return res;
  }

  std::map<std::string, LayerTransform> transforms(const std::vector<int>& frac) const {
    std::map<std::string, LayerTransform> m;
    for (size_t t = 0; t < frac.size(); ++t) {
      if (frac[t] == kFp32) continue;
      LayerTransform& x = m[layers_[layer_of(t)].name];
      OperandSpec& s = is_activation(t) ? x.activations : x.weights;
      s.kind = OperandTransform::kFixedPoint;
      s.fixed = operand(t).format;
      s.fixed.frac_bits = frac[t];
    }
    return m;
  }

  const Evaluator& evaluator() const { return evaluator_; }

 private:
  template <class... Args>
  void log(fmt::format_string<Args...> f, Args&&... args) {
    if (o_.log) o_.log(fmt::format(f, std::forward<Args>(args)...));
  }

  OperandChoice& operand(size_t t) {
    LayerChoice& l = layers_[layer_of(t)];
    return is_activation(t) ? l.activations : l.weights;
  }
  const OperandChoice& operand(size_t t) const {
    const LayerChoice& l = layers_[layer_of(t)];
    return is_activation(t) ? l.activations : l.weights;
  }

  int bits_of(size_t t, int frac) const { return operand(t).format.int_bits + frac; }

  double cost(const std::vector<int>& frac) const {
    double c = 0;
    for (size_t l = 0; l < layers_.size(); ++l) {
      c += layer_cost(o_.objective, layers_[l].shape, bits_of(2 * l, frac[2 * l]), bits_of(2 * l + 1, frac[2 * l + 1]));
    }
    return c;
  }

  // Phase 2 for operand t: the fewest fraction bits meeting the target with the rest in fp32
  // (binary search; the widest format when even that misses).
  int alone_minimum(size_t t, int& counter) {
    const FixedPointFormat& f = operand(t).format;
    int lo = min_frac_bits(f), hi = max_frac_bits(f);
    std::vector<int> frac(layers_.size() * 2, kFp32);
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      frac[t] = mid;
      if (evaluate(frac, true, counter).met) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  // Sensitivity of layer l: every earlier layer stays fp32, so their work is done once: the
  // layer's fp32 inputs are kept and evaluations run the graph from the layer on. Prepared at the
  // first evaluation that runs (a resumed search may answer them all from the checkpoint).
  void start_at_layer(int l) {
    suffix_evaluator_.reset();
    suffix_graph_.reset();
    pending_layer_ = l;
  }
  void stop_suffix() { start_at_layer(-1); }
  void prepare_suffix() {
    const int l = pending_layer_;
    pending_layer_ = -1;
    if (l < 0) return;
    suffix_graph_ = graph_from_layer(graph_, evaluator_.layers()[l]);
    if (!suffix_graph_) return;
    suffix_inputs_ = evaluator_.layer_inputs(set_, evaluator_.layers()[l]);
    images_run_ += set_.size();
    suffix_evaluator_ = std::make_unique<Evaluator>(*suffix_graph_, o_.threads, o_.batch);
  }

  static std::string key_of(const std::vector<int>& frac) {
    std::string k;
    for (size_t i = 0; i < frac.size(); ++i) {
      if (i) k += ',';
      k += std::to_string(frac[i]);
    }
    return k;
  }

  // One evaluation on the search set, answered from memory when this configuration was seen (an
  // early-stopped tally answers only questions that allow early stopping).
  Tally evaluate(const std::vector<int>& frac, bool early_stop, int& counter,
                 const std::function<bool(const Tally&)>& give_up = {}) {
    const std::string key = key_of(frac);
    if (auto it = memo_.find(key); it != memo_.end()) {
      // Re-judged: with a sweep's memory the tally may come from a search with another target.
      const std::optional<Tally> r = rejudge(it->second, *judge_);
      if (r && (early_stop || r->complete || (give_up && give_up(*r)))) {
        if (from_checkpoint_.erase(key)) {
          ++resumed_;
        } else if (!own_.count(key)) {
          ++from_memory_;
        }
        return *r;
      }
    }
    ++counter;
    prepare_suffix();
    // Only the layer being studied is reduced while a suffix is prepared (sensitivity phase).
    const bool suffix = suffix_evaluator_ != nullptr;
    const Tally t = suffix ? suffix_evaluator_->run(suffix_inputs_, ref_, *judge_, transforms(frac), early_stop)
                           : evaluator_.run(set_, ref_, *judge_, transforms(frac), early_stop, give_up);
    images_run_ += t.images;
    memo_[key] = t;
    own_.insert(key);
    save_checkpoint();
    return t;
  }

  void save_checkpoint() const {
    if (o_.checkpoint.empty()) return;
    json ev = json::object();
    for (const auto& [k, t] : memo_) ev[k] = {t.images, t.correct, t.agree, t.noise_energy, t.complete, t.met};
    const json doc = {{"format", "effectual-search-checkpoint"},
                      {"version", 1},
                      {"fingerprint", o_.fingerprint},
                      {"evaluations", ev}};
    write_file_atomic(o_.checkpoint, doc.dump() + "\n");
  }

  void load_checkpoint() {
    if (o_.checkpoint.empty() || !std::filesystem::exists(o_.checkpoint)) {
      log("--resume: no checkpoint at {}; starting afresh", o_.checkpoint);
      return;
    }
    json doc;
    try {
      doc = json::parse(read_file(o_.checkpoint, 256 << 20));
      if (doc.at("format") != "effectual-search-checkpoint" || doc.at("version") != 1) throw std::runtime_error("");
    } catch (const std::exception&) {
      fail<ConfigError>("{}: not a search checkpoint", o_.checkpoint);
    }
    if (doc["fingerprint"] != o_.fingerprint) {
      fail<UsageError>(
          "{}: the checkpoint belongs to a different search (model, data subsets, target or objective differ); "
          "remove it or drop --resume",
          o_.checkpoint);
    }
    try {
      for (auto it = doc["evaluations"].begin(); it != doc["evaluations"].end(); ++it) {
        const json& v = it.value();
        Tally t{v.at(0).get<int64_t>(), v.at(1).get<int64_t>(), v.at(2).get<int64_t>(),
                v.at(3).get<double>(),  v.at(4).get<bool>(),    v.at(5).get<bool>()};
        memo_[it.key()] = t;
        from_checkpoint_.insert(it.key());
      }
    } catch (const json::exception&) {
      fail<ConfigError>("{}: evaluations: malformed entry", o_.checkpoint);
    }
    log("resuming from {} ({} evaluations)", o_.checkpoint, memo_.size());
  }

 public:
  int resumed() const { return resumed_; }
  int from_memory() const { return from_memory_; }
  int64_t images_run() const { return images_run_; }

 private:
  const SearchOptions& o_;
  const Graph& graph_;
  const EvalSet& set_;
  Evaluator evaluator_;
  std::optional<Graph> suffix_graph_;
  EvalSet suffix_inputs_;
  std::unique_ptr<Evaluator> suffix_evaluator_;
  int pending_layer_ = -1;
  Reference ref_;
  std::unique_ptr<Judge> judge_;
  std::vector<LayerChoice> layers_;
  EvaluationMemory own_memo_;
  EvaluationMemory& memo_ = o_.memory ? *o_.memory : own_memo_;
  std::set<std::string> own_;  // keys this search ran (the rest of a shared memory is reuse)
  std::set<std::string> from_checkpoint_;
  int resumed_ = 0, from_memory_ = 0;
  int64_t images_run_ = 0;
};

}  // namespace

SubsetScore score_subset(const Reference& ref, const Judge& judge, const Tally& t, bool labelled) {
  SubsetScore s;
  s.images = t.images;
  s.labelled = labelled;
  s.fp32_top1 = ref.accuracy();
  s.top1 = t.images ? 100.0 * double(t.correct) / double(t.images) : 0;
  s.agreement = t.images ? 100.0 * double(t.agree) / double(t.images) : 0;
  s.snr_db = snr_db(ref.signal_energy, t.noise_energy);
  s.metric = judge.score(t);
  s.fp32_metric = judge.reference_score();
  s.met = t.met;
  return s;
}

std::map<std::string, LayerTransform> transforms_of(const std::vector<LayerChoice>& layers) {
  std::map<std::string, LayerTransform> m;
  for (const LayerChoice& l : layers) {
    LayerTransform& t = m[l.name];
    t.activations.kind = OperandTransform::kFixedPoint;
    t.activations.fixed = l.activations.format;
    t.weights.kind = OperandTransform::kFixedPoint;
    t.weights.fixed = l.weights.format;
  }
  return m;
}

SearchResult search_precision(const Graph& graph, const std::vector<LayerGeometry>& geometry, const EvalSet& search,
                              const EvalSet& report, const SearchOptions& options) {
  validate_target(options.target);
  if (search.size() < 1 || report.size() < 1) fail<UsageError>("the search and report subsets must not be empty");
  const auto start = std::chrono::steady_clock::now();
  PrecisionSearch s(graph, geometry, search, options);
  SearchResult res = s.run();
  // The report set: evaluated once, never searched on.
  if (options.log) options.log(fmt::format("report set ({} images)", report.size()));
  const Reference report_ref = s.evaluator().reference(report);
  const Judge report_judge(options.target, report_ref, report.has_labels());
  const Tally t = s.evaluator().run(report, report_ref, report_judge, transforms_of(res.layers), false);
  ++res.evaluations.final_checks;
  res.report = score_subset(report_ref, report_judge, t, report.has_labels());
  res.evaluations.from_checkpoint = s.resumed();
  res.evaluations.from_memory = s.from_memory();
  res.evaluations.images = s.images_run() + report.size();
  res.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace eff::search
