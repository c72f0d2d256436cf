#include "search/precision_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "core/fs.h"
#include "core/progress.h"
#include "search/checkpoint.h"
#include "sim/fc_rows.h"

namespace eff::search {

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
        c.shape.act_count = g.Ni * g.Nx * g.Ny * std::max<int64_t>(1, sim::fc_rows(g));  // FC over rows: all rows
        c.shape.wgt_count = g.Nf * (g.Ni / std::max<int64_t>(1, g.groups)) * g.Kx * g.Ky;
      }
      LayerRanges r = static_cast<size_t>(info.index) < ranges.size() ? ranges[info.index] : LayerRanges{};
      if (auto clipped = o.clipped_ranges.find(info.name); clipped != o.clipped_ranges.end()) r = clipped->second;
      c.activations.range = r.activations;
      c.weights.range = r.weights;
      c.activations.format = integer_format(r.activations.max_abs, r.activations.negative);
      c.weights.format = integer_format(r.weights.max_abs, r.weights.negative);
      layers_.push_back(c);
    }
    if (o.resume) recorded_.resume(o_.log);
  }

  SearchResult run() {
    const size_t n = layers_.size() * 2;
    SearchResult res;
    // Phase 2: each operand alone (every other layer fp32, so evaluations start at its layer).
    std::vector<int> minima(n);
    {
      log("sensitivity: {} operands, one at a time", n);
      Progress bar("sensitivity", static_cast<int64_t>(n));
      for (size_t t = 0; t < n; ++t) {
        reuse_from_ = layer_of(t);
        minima[t] = alone_minimum(t, res.evaluations.sensitivity);
        operand(t).sensitivity_frac_bits = minima[t];
        if (o_.progress) bar.advance();
      }
      bar.finish();
    }
    // Phase 3: together. The minima together usually miss (errors add up): every operand gets the
    // same number k of extra bits, the smallest k that meets the target (doubling, then bisection).
    // A uniform lift, unlike adding one operand's bit at a time by its measured gain, never piles
    // bits onto an operand because of noise: when no single bit measurably helps, the greedy step
    // picks one anyway, and that choice changes with the subset.
    reuse_from_ = -1;
    std::vector<int> frac = minima;
    const auto lifted = [&](int k) {
      std::vector<int> up = minima;
      for (size_t t = 0; t < n; ++t) up[t] = std::min(max_frac_bits(operand(t).format), minima[t] + k);
      return up;
    };
    if (!evaluate(frac, true, res.evaluations.ascent).met) {
      int missed = 0, met = 1;
      Progress bar("lift", 1);
      for (;; met *= 2) {
        if (evaluate(lifted(met), true, res.evaluations.ascent).met) break;
        missed = met;
        if (lifted(met) == lifted(met * 2)) {
          fail("the target ({}) is not met on the search set even with every operand at 16 bits",
               describe_target(o_.target));
        }
      }
      while (met - missed > 1) {
        const int mid = missed + (met - missed) / 2;
        (evaluate(lifted(mid), true, res.evaluations.ascent).met ? met : missed) = mid;
      }
      bar.finish();
      frac = lifted(met);
      log("lift: +{} bits to every operand", met);
    }
    // Phase 4: removing bits, the operand whose bit saves the most first; each operand takes the
    // fewest bits between its sensitivity minimum and its current bits that still meet the target
    // (bisection: a single bit whose rounding happens to lose an image does not stop the descent).
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
      reuse_from_ = layer_of(t);
      int lo = std::max(min_frac_bits(operand(t).format), minima[t]), hi = frac[t];
      while (lo < hi) {
        std::vector<int> down = frac;
        down[t] = lo + (hi - lo) / 2;
        if (evaluate(down, true, res.evaluations.descent).met) {
          hi = down[t];
        } else {
          lo = down[t] + 1;
        }
      }
      if (hi < frac[t]) {
        log("descent: {} {} {} -> {} fraction bits", layers_[layer_of(t)].name,
            is_activation(t) ? "activations" : "weights", frac[t], hi);
      }
      frac[t] = hi;
    }
    descent_bar.finish();
    reuse_from_ = -1;
    // Phase 5: the final check, in full.
    const Tally final_tally = evaluate(frac, false, res.evaluations.final_checks);
    for (size_t t = 0; t < n; ++t) operand(t).format.frac_bits = frac[t];
    res.layers = layers_;
    res.search = score_subset(ref_, *judge_, final_tally, set_.has_labels());
    res.cost = cost(frac);
    for (const LayerChoice& l : layers_) res.cost_at_16_bits += layer_cost(o_.objective, l.shape, 16, 16);
    res.evaluations.prefix_passes = prefix_passes_;
    return res;
  }

  // The operands of layers [from, until) that are not fp32.
  std::map<std::string, LayerTransform> transforms(const std::vector<int>& frac, int from = 0,
                                                   int until = 1 << 30) const {
    std::map<std::string, LayerTransform> m;
    for (size_t t = 0; t < frac.size(); ++t) {
      if (frac[t] == kFp32 || layer_of(t) < from || layer_of(t) >= until) continue;
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

  // Evaluations that change only layer `reuse_from_` and later ones run the graph from that layer
  // on, its inputs computed once under the earlier layers' formats (one pass up to the layer) and
  // kept while those formats stay; -1 (or a graph where values cross the cut): the whole graph.
  // Returns the evaluator to use; `from` is the first layer it runs.
  const Evaluator& evaluator_for(const std::vector<int>& frac, int& from, const EvalSet*& images) {
    from = 0;
    images = &set_;
    const int l = reuse_from_;
    if (l <= 0) return evaluator_;
    const std::vector<int> prefix(frac.begin(), frac.begin() + 2 * l);
    if (suffix_layer_ != l) {
      suffix_evaluator_.reset();
      suffix_inputs_ = EvalSet{};
      suffix_layer_ = l;
      suffix_graph_ = graph_from_layer(graph_, evaluator_.layers()[l]);
      if (suffix_graph_) suffix_evaluator_ = std::make_unique<Evaluator>(*suffix_graph_, o_.threads, o_.batch);
      suffix_prefix_.clear();
    }
    if (!suffix_evaluator_) return evaluator_;
    if (suffix_prefix_ != prefix || suffix_inputs_.size() == 0) {
      suffix_inputs_ = evaluator_.layer_inputs(set_, evaluator_.layers()[l], transforms(frac, 0, l));
      suffix_prefix_ = prefix;
      images_run_ += set_.size();
      ++prefix_passes_;
    }
    from = l;
    images = &suffix_inputs_;
    return *suffix_evaluator_;
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
  Tally evaluate(const std::vector<int>& frac, bool early_stop, int& counter) {
    const std::string key = key_of(frac);
    if (std::optional<Tally> r = recorded_.recall(key, *judge_, early_stop)) return *r;
    ++counter;
    int from = 0;
    const EvalSet* images = nullptr;
    const Evaluator& ev = evaluator_for(frac, from, images);
    const Tally t = ev.run(*images, ref_, *judge_, transforms(frac, from), early_stop);
    images_run_ += t.images;
    recorded_.record(key, t);
    return t;
  }

 public:
  int resumed() const { return recorded_.resumed(); }
  int from_memory() const { return recorded_.from_memory(); }
  int64_t images_run() const { return images_run_; }

 private:
  const SearchOptions& o_;
  const Graph& graph_;
  const EvalSet& set_;
  Evaluator evaluator_;
  int reuse_from_ = -1;
  int suffix_layer_ = -1;
  std::optional<Graph> suffix_graph_;
  std::unique_ptr<Evaluator> suffix_evaluator_;
  EvalSet suffix_inputs_;
  std::vector<int> suffix_prefix_;  // the earlier layers' fraction bits suffix_inputs_ were computed with
  int prefix_passes_ = 0;
  Reference ref_;
  std::unique_ptr<Judge> judge_;
  std::vector<LayerChoice> layers_;
  RecordedEvaluations recorded_{o_.memory, o_.checkpoint, o_.fingerprint};
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
  s.lost = t.lost;
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
  const Judge report_judge(options.target, report_ref, report.has_labels(), true);  // as stated
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
