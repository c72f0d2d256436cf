#include "search/threshold_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "core/progress.h"
#include "search/checkpoint.h"

namespace eff::search {

namespace {

// Sees each layer's input activations as the layer multiplies them (after the base profile's
// rounding and any thresholds, which the executor applies before its observers): counts the zeros
// exactly and, when sampling, keeps every `stride`-th magnitude (a deterministic sample: ranking
// candidate thresholds needs thousands of values per layer, not all of them).
class ActivationCounter final : public LayerObserver {
 public:
  ActivationCounter(size_t layers, bool sample) : samples_(layers), zeros_(layers), values_(layers), sample_(sample) {}
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor&, const Tensor&) override {
    if (activations.dtype() != DType::kFloat32 || static_cast<size_t>(layer.index) >= samples_.size()) return;
    const float* v = activations.data<float>();
    const int64_t n = activations.numel();
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; ++i) zeros += v[i] == 0.0f;
    zeros_[layer.index] += zeros;
    values_[layer.index] += n;
    if (!sample_) return;
    const int64_t stride = std::max<int64_t>(1, n / 4096);
    for (int64_t i = 0; i < n; i += stride) samples_[layer.index].push_back(std::fabs(v[i]));
  }
  std::vector<std::vector<float>>& samples() { return samples_; }
  double zero_fraction(size_t layer) const {
    return values_[layer] ? double(zeros_[layer]) / double(values_[layer]) : 0.0;
  }

 private:
  std::vector<std::vector<float>> samples_;
  std::vector<int64_t> zeros_, values_;
  bool sample_;
};

// The sampled fraction a threshold t skips: zeros whatever the threshold (rounded values included:
// the sample holds what the layer multiplies), and |a| < t. A rounded value stands for the inputs
// that round to it, so near t the estimate is off by at most the values of one rounding step; the
// reported fractions are counted exactly (measure_skipped).
double fraction_below(const std::vector<float>& sorted, float t) {
  if (sorted.empty()) return 0;
  const auto end =
      t > 0 ? std::lower_bound(sorted.begin(), sorted.end(), t) : std::upper_bound(sorted.begin(), sorted.end(), 0.0f);
  return double(end - sorted.begin()) / double(sorted.size());
}

class ThresholdSearch {
 public:
  ThresholdSearch(const Graph& graph, const std::vector<LayerGeometry>& geometry, const EvalSet& set,
                  const ThresholdOptions& o)
      : o_(o), graph_(graph), set_(set), evaluator_(graph, o.threads, o.batch) {
    const std::vector<LayerInfo>& infos = evaluator_.layers();
    if (infos.empty()) fail<UsageError>("{}: the model has no conv/FC layer to search", graph.source);
    if (o.levels < 1 || o.levels > 30) fail<UsageError>("--levels must be in [1, 30]");
    std::vector<LayerRanges> ranges;
    ref_ = evaluator_.reference(set, &ranges);
    judge_ = std::make_unique<Judge>(o.target, ref_, set.has_labels());
    // The activations as the layers multiply them without thresholds (after the base profile's
    // rounding), sampled on the search set; zeros counted exactly.
    ActivationCounter sampler(infos.size(), true);
    run_observed(o.base, sampler);
    for (const LayerInfo& info : infos) {
      ThresholdChoice c;
      c.index = info.index;
      c.name = info.name;
      for (const LayerGeometry& g : geometry) {
        if (g.index == info.index) c.macs = g.macs;
      }
      c.max_abs = static_cast<size_t>(info.index) < ranges.size() ? ranges[info.index].activations.max_abs : 0.0;
      std::vector<float>& s = sampler.samples()[info.index];
      std::sort(s.begin(), s.end());
      sorted_.push_back(std::move(s));
      layers_.push_back(c);
    }
    for (size_t l = 0; l < layers_.size(); ++l) layers_[l].zero_fraction = sampler.zero_fraction(layers_[l].index);
    if (o.resume) recorded_.resume(o.log);
  }

  // One pass over the search set with `transforms`, `observer` watching (not an evaluation).
  void run_observed(const std::map<std::string, LayerTransform>& transforms, LayerObserver& observer) {
    ExecutorOptions eo;
    eo.threads = o_.threads;
    eo.observer = &observer;
    eo.transforms = transforms;
    Executor ex(graph_, eo);
    for (int64_t b = 0; b < set_.size(); b += o_.batch) ex.run(set_.batch(b, std::min(o_.batch, set_.size() - b)));
    images_ += set_.size();
  }

  float threshold_at(size_t l, int level) const {
    if (level <= 0) return 0.0f;
    return static_cast<float>(layers_[l].max_abs * std::ldexp(1.0, level - o_.levels));
  }

  double skipped(const std::vector<int>& level) const {
    double num = 0, den = 0;
    for (size_t l = 0; l < layers_.size(); ++l) {
      num += double(layers_[l].macs) * fraction_below(sorted_[l], threshold_at(l, level[l]));
      den += double(layers_[l].macs);
    }
    return den > 0 ? num / den : 0;
  }

  std::map<std::string, LayerTransform> transforms(const std::vector<int>& level) const {
    std::map<std::string, LayerTransform> m = o_.base;
    for (size_t l = 0; l < level.size(); ++l) {
      if (level[l] > 0) m[layers_[l].name].prune_threshold = threshold_at(l, level[l]);
    }
    return m;
  }

  Tally evaluate(const std::vector<int>& level, bool early_stop, int& counter) {
    std::string key;
    for (int x : level) key += std::to_string(x) + ",";
    if (std::optional<Tally> r = recorded_.recall(key, *judge_, early_stop)) return *r;
    ++counter;
    const Tally t = evaluator_.run(set_, ref_, *judge_, transforms(level), early_stop);
    images_ += t.images;
    recorded_.record(key, t);
    return t;
  }

  ThresholdResult run() {
    ThresholdResult res;
    const size_t n = layers_.size();
    std::vector<int> level(n, 0);
    {
      Progress bar("sensitivity", static_cast<int64_t>(n));
      for (size_t l = 0; l < n; ++l) {
        // The largest level meeting the target alone (level 0 prunes nothing: met by definition
        // for targets the fp32 model meets).
        int lo = 0, hi = o_.levels;
        std::vector<int> alone(n, 0);
        while (lo < hi) {
          const int mid = lo + (hi - lo + 1) / 2;
          alone[l] = mid;
          if (evaluate(alone, true, res.evaluations.sensitivity).met) {
            lo = mid;
          } else {
            hi = mid - 1;
          }
        }
        level[l] = layers_[l].sensitivity_level = lo;
        if (o_.progress) bar.advance();
      }
      bar.finish();
    }
    // Together: the sensitivity levels together usually miss (pruning errors add up). Every layer
    // gives up the same number k of levels (floored at 0), the smallest k that meets the target
    // (doubling, then bisection). A uniform step, unlike lowering one layer at a time by its
    // measured gain, leaves no per-layer choice for noise to steer: when no single step
    // measurably helps, a greedy step picks one anyway, and that choice changes with the subset.
    const std::vector<int> sensitivity = level;
    const auto lowered = [&](int k) {
      std::vector<int> down = sensitivity;
      for (int& x : down) x = std::max(0, x - k);
      return down;
    };
    if (!evaluate(level, true, res.evaluations.ascent).met) {
      const std::vector<int> none(n, 0);
      int missed = 0, met = 1;
      for (;; met *= 2) {
        if (evaluate(lowered(met), true, res.evaluations.ascent).met) break;
        missed = met;
        if (lowered(met) == none)
          fail("the target ({}) is not met on the search set even without pruning", describe_target(o_.target));
      }
      while (met - missed > 1) {
        const int mid = missed + (met - missed) / 2;
        (evaluate(lowered(mid), true, res.evaluations.ascent).met ? met : missed) = mid;
      }
      level = lowered(met);
      if (o_.log) o_.log(fmt::format("lift: every threshold {} levels down", met));
    }
    // Raising thresholds again, the layer with the most MAC-weighted skipped fraction to regain
    // (back up to its sensitivity level) first; each takes the largest level between its current
    // one and its sensitivity level (above which it missed even alone) that still meets the
    // target, by bisection: one level whose pruning happens to lose an image does not stop it.
    std::vector<size_t> order(n);
    for (size_t l = 0; l < n; ++l) order[l] = l;
    auto regain = [&](size_t l) {
      std::vector<int> up = level;
      up[l] = sensitivity[l];
      return skipped(up) - skipped(level);
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return regain(a) > regain(b); });
    for (size_t l : order) {
      int lo = level[l], hi = sensitivity[l];
      while (lo < hi) {
        std::vector<int> up = level;
        up[l] = lo + (hi - lo + 1) / 2;
        if (evaluate(up, true, res.evaluations.descent).met) {
          lo = up[l];
        } else {
          hi = up[l] - 1;
        }
      }
      level[l] = lo;
    }
    const Tally final_tally = evaluate(level, false, res.evaluations.final_checks);
    // What the layers skip with the thresholds found, counted exactly (one more pass): zeros of
    // the values they multiply, after pruning and the base profile's rounding.
    ActivationCounter skipped_counter(layers_.size(), false);
    run_observed(transforms(level), skipped_counter);
    double macs = 0;
    for (size_t l = 0; l < n; ++l) {
      layers_[l].level = level[l];
      layers_[l].threshold = threshold_at(l, level[l]);
      layers_[l].skipped_fraction = skipped_counter.zero_fraction(layers_[l].index);
      macs += double(layers_[l].macs);
      res.zero_mac_weighted += double(layers_[l].macs) * layers_[l].zero_fraction;
      res.skipped_mac_weighted += double(layers_[l].macs) * layers_[l].skipped_fraction;
    }
    if (macs > 0) {
      res.zero_mac_weighted /= macs;
      res.skipped_mac_weighted /= macs;
    }
    res.layers = layers_;
    res.search = score_subset(ref_, *judge_, final_tally, set_.has_labels());
    return res;
  }

  const Evaluator& evaluator() const { return evaluator_; }
  int64_t images_run() const { return images_; }
  int from_memory() const { return recorded_.from_memory(); }
  int resumed() const { return recorded_.resumed(); }

 private:
  const ThresholdOptions& o_;
  const Graph& graph_;
  const EvalSet& set_;
  Evaluator evaluator_;
  Reference ref_;
  std::unique_ptr<Judge> judge_;
  std::vector<ThresholdChoice> layers_;
  std::vector<std::vector<float>> sorted_;
  RecordedEvaluations recorded_{o_.memory, o_.checkpoint, o_.fingerprint};
  int64_t images_ = 0;
};

}  // namespace

std::map<std::string, LayerTransform> threshold_transforms(const ThresholdResult& r) {
  std::map<std::string, LayerTransform> m;
  for (const ThresholdChoice& c : r.layers) {
    if (c.threshold > 0) m[c.name].prune_threshold = c.threshold;
  }
  return m;
}

std::map<std::string, LayerTransform> with_thresholds(std::map<std::string, LayerTransform> base,
                                                      const ThresholdResult& r) {
  for (const ThresholdChoice& c : r.layers) {
    if (c.threshold > 0) base[c.name].prune_threshold = c.threshold;
  }
  return base;
}

nlohmann::json thresholds_file_json(const ThresholdResult& r) {
  nlohmann::json layers = nlohmann::json::object();
  for (const ThresholdChoice& c : r.layers) layers[c.name] = c.threshold;
  return {{"format", "effectual-thresholds"},
          {"version", 1},
          {"description", "found by effectual search thresholds (docs/search.md)"},
          {"layers", layers}};
}

ThresholdResult search_thresholds(const Graph& graph, const std::vector<LayerGeometry>& geometry, const EvalSet& search,
                                  const EvalSet& report, const ThresholdOptions& options) {
  validate_target(options.target);
  const auto start = std::chrono::steady_clock::now();
  ThresholdSearch s(graph, geometry, search, options);
  ThresholdResult res = s.run();
  const Reference report_ref = s.evaluator().reference(report);
  const Judge report_judge(options.target, report_ref, report.has_labels(), true);  // as stated
  const Tally t = s.evaluator().run(report, report_ref, report_judge, with_thresholds(options.base, res), false);
  ++res.evaluations.final_checks;
  res.report = score_subset(report_ref, report_judge, t, report.has_labels());
  res.evaluations.images = s.images_run() + report.size();
  res.evaluations.from_memory = s.from_memory();
  res.evaluations.from_checkpoint = s.resumed();
  res.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace eff::search
