#include "gating/gate_search.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "core/error.h"
#include "gating/gated_conv.h"
#include "search/checkpoint.h"
#include "search/evaluator.h"
#include "search/level_search.h"

namespace eff::gating {

namespace {

using search::EvalSet;
using search::Judge;
using search::Reference;
using search::Tally;

constexpr float kInf = std::numeric_limits<float>::infinity();

// What the sampler needs of one gated layer.
struct SampledLayer {
  int index = 0;  // find_layers index in the fp32 graph
  int64_t base_channels = 0, cg = 0, group = 1;
  Grouping grouping = Grouping::kFirst;
  int64_t gate_groups = 1;
  int64_t sh = 1, sw = 1, pad_top = 0, pad_left = 0, dh = 1, dw = 1;
  std::vector<float> bias;
  bool precision = false;
  PrecisionSplit split;
  std::vector<float> samples;
  std::vector<int32_t> filters;  // the filter of each sample
};

// Samples each gated layer's gate values (bias + the base path's sum) as the fp32 model runs: a
// fixed number of output elements per image, spread evenly over the image's outputs.
class GateSampler final : public LayerObserver {
 public:
  GateSampler(std::vector<SampledLayer>& layers, int64_t per_image) : layers_(layers), per_image_(per_image) {
    for (size_t i = 0; i < layers_.size(); ++i) by_index_[layers_[i].index] = i;
  }
  void on_layer(const LayerInfo& info, const Tensor& x, const Tensor& w, const Tensor& out) override {
    auto it = by_index_.find(info.index);
    if (it == by_index_.end()) return;
    SampledLayer& l = layers_[it->second];
    if (x.rank() != 4 || w.rank() != 4 || out.rank() != 4) return;
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
    const int64_t m = w.dim(0), kh = w.dim(2), kw = w.dim(3), oh = out.dim(2), ow = out.dim(3);
    const int64_t total = m * oh * ow, mg = m / l.group, count = std::min(per_image_, total);
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    for (int64_t img = 0; img < n; ++img, ++image_) {
      const int64_t offset = (image_ * 7919) % std::max<int64_t>(1, total / count);
      for (int64_t s = 0; s < count; ++s) {
        const int64_t at = std::min(total - 1, s * total / count + offset);
        const int64_t f = at / (oh * ow), p = at % (oh * ow), oy = p / ow, ox = p % ow, g = f / mg;
        double v = l.bias[f];
        for (int64_t ci = 0; ci < l.cg; ++ci) {
          if (!on_base_path(l.grouping, l.gate_groups, l.base_channels, l.cg, mg, ci, f % mg)) continue;
          const float* plane = xp + (img * c + g * l.cg + ci) * h * wd;
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = oy * l.sh + ky * l.dh - l.pad_top;
            if (iy < 0 || iy >= h) continue;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = ox * l.sw + kx * l.dw - l.pad_left;
              if (ix < 0 || ix >= wd) continue;
              float a = plane[iy * wd + ix], low = 0;
              if (l.precision) a = l.split.split(a, low);
              v += double(wp[((f * l.cg + ci) * kh + ky) * kw + kx]) * double(a);
            }
          }
        }
        l.samples.push_back(static_cast<float>(v));
        l.filters.push_back(static_cast<int32_t>(f));
      }
    }
  }

 private:
  std::vector<SampledLayer>& layers_;
  std::map<int, size_t> by_index_;
  int64_t per_image_;
  int64_t image_ = 0;
};

// Grouped channel gating: G for a base fraction 1/G; UsageError for other fractions.
int64_t groups_of(double base_fraction) {
  const auto g = static_cast<int64_t>(std::lround(1.0 / base_fraction));
  if (g < 1 || std::fabs(double(g) * base_fraction - 1.0) > 1e-6)
    fail<UsageError>("--grouping contiguous/shuffle needs base fractions 1/G (1/2, 1/4, ...), not {:g}", base_fraction);
  return g;
}

class GateSearch {
 public:
  GateSearch(const Model& model, const std::vector<LayerGeometry>& geometry, const EvalSet& set,
             const GateSearchOptions& o)
      : o_(o), model_(model), set_(set), evaluator_(model.graph, o.threads, o.batch) {
    if (o.levels < 2 || o.levels > 64) fail<UsageError>("--levels must be in [2, 64]");
    if (o.kind == GateKind::kPrecision && !(o.high_bits >= 1 && o.high_bits < o.bits && o.bits <= 16))
      fail<UsageError>("--precision B/Bhb needs 1 <= Bhb < B <= 16");
    std::vector<search::LayerRanges> ranges;
    ref_ = evaluator_.reference(set, &ranges);
    judge_ = std::make_unique<Judge>(o.target, ref_, set.has_labels());
    const Coverage cov = gate_coverage(model.graph);
    res_.skipped = cov.skipped;
    res_.plan.kind = o.kind;
    res_.plan.base_fraction = o.kind == GateKind::kChannel ? o.base_fraction : 1.0;
    res_.plan.grouping = o.kind == GateKind::kChannel ? o.grouping : Grouping::kFirst;
    if (o.kind == GateKind::kPrecision && o.grouping != Grouping::kFirst)
      fail<UsageError>("--grouping applies to channel gating, not --precision");
    if (!o.fixed && o.kind == GateKind::kChannel && o.grouping != Grouping::kFirst) groups_of(o.base_fraction);
    for (const LayerGeometry& g : geometry) res_.network_macs += g.macs;
    std::vector<SampledLayer> sampled;
    for (const LayerInfo& info : evaluator_.layers()) {
      if (std::find(cov.gated.begin(), cov.gated.end(), info.name) == cov.gated.end()) continue;
      const LayerGate* fixed = o.fixed ? o.fixed->find(info.name) : nullptr;
      if (o.fixed && !fixed) {
        res_.skipped.push_back(fmt::format("{}: not in the gates file", info.name));
        continue;
      }
      auto geo =
          std::find_if(geometry.begin(), geometry.end(), [&](const LayerGeometry& g) { return g.name == info.name; });
      if (geo == geometry.end()) continue;
      const Node& node = model.graph.nodes[info.node];
      GateLayerResult r;
      r.name = info.name;
      r.channels_per_group = geo->Ni / std::max<int64_t>(1, geo->groups);
      r.outputs = geo->Nf * geo->Ox * geo->Oy;
      const int64_t taps = geo->Kx * geo->Ky;
      r.macs = r.outputs * r.channels_per_group * taps;
      SampledLayer s;
      s.index = info.index;
      s.cg = r.channels_per_group;
      s.group = geo->groups;
      s.sh = geo->stride_y, s.sw = geo->stride_x, s.pad_top = geo->pad_top, s.pad_left = geo->pad_left;
      s.dh = geo->dilation_y, s.dw = geo->dilation_x;
      s.bias.assign(static_cast<size_t>(geo->Nf), 0.f);
      if (node.input(2) != kNoValue) {
        const Tensor& b = model.graph.constant(node.input(2));
        std::copy(b.data<float>(), b.data<float>() + geo->Nf, s.bias.begin());
      }
      if (o.kind == GateKind::kChannel) {
        const int64_t mg = geo->Nf / std::max<int64_t>(1, geo->groups);
        if (o.grouping != Grouping::kFirst) {
          r.groups = fixed ? fixed->groups : std::gcd(std::gcd(groups_of(o.base_fraction), r.channels_per_group), mg);
          r.base_channels = r.channels_per_group / r.groups;
        } else {
          r.base_channels = fixed ? fixed->base_channels : base_channels_for(o.base_fraction, r.channels_per_group);
        }
        s.grouping = o.grouping;
        s.gate_groups = r.groups;
        if (r.base_channels >= r.channels_per_group) {
          res_.skipped.push_back(
              fmt::format("{}: {} channel(s) per group, all on the base path", r.name, r.channels_per_group));
          continue;
        }
        r.base_macs = r.outputs * r.base_channels * taps;
        r.conditional_macs_per_output = (r.channels_per_group - r.base_channels) * taps;
        s.base_channels = r.base_channels;
      } else {
        const search::OperandRange a =
            static_cast<size_t>(info.index) < ranges.size() ? ranges[info.index].activations : search::OperandRange{};
        r.is_signed = fixed ? fixed->is_signed : a.negative;
        const int int_bits = a.max_abs > 0 ? static_cast<int>(std::ceil(std::log2(a.max_abs))) : 0;
        r.frac_bits = fixed ? fixed->frac_bits : o.bits - (r.is_signed ? 1 : 0) - int_bits;
        r.base_channels = r.channels_per_group;
        r.base_macs = r.macs;
        r.conditional_macs_per_output = r.channels_per_group * taps;
        s.base_channels = r.channels_per_group;
        s.precision = true;
        s.split = {o.bits, o.high_bits, r.frac_bits, r.is_signed};
      }
      if (fixed) {
        // Per-channel thresholds have no one value to show (NaN: "per-channel" in the summary).
        r.threshold = fixed->thresholds.empty() ? fixed->threshold : std::numeric_limits<float>::quiet_NaN();
        fixed_.push_back(fixed->thresholds.empty() ? std::vector<float>(static_cast<size_t>(geo->Nf), fixed->threshold)
                                                   : fixed->thresholds);
        if (static_cast<int64_t>(fixed_.back().size()) != geo->Nf)
          fail<ConfigError>("{}: layer {} has {} thresholds for {} output channels", o.fixed->path, r.name,
                            fixed_.back().size(), geo->Nf);
      }
      layers_.push_back(r);
      sampled.push_back(std::move(s));
    }
    if (layers_.empty()) fail<UsageError>("{}: no conv layer can be gated", model.path);
    // Candidate thresholds from the gate values of the fp32 model on the search set.
    GateSampler sampler(sampled, o.samples_per_image);
    ExecutorOptions eo;
    eo.threads = o.threads;
    eo.observer = &sampler;
    Executor ex(model.graph, eo);
    for (int64_t b = 0; !o.fixed && b < set.size(); b += o.batch)
      ex.run({set.batch(b, std::min(o.batch, set.size() - b))});
    if (!o.fixed) images_ += set.size();
    for (size_t l = 0; !o.fixed && l < sampled.size(); ++l) {
      SampledLayer& s = sampled[l];
      if (o.per_channel) normalise(s, static_cast<int64_t>(s.bias.size()));
      std::sort(s.samples.begin(), s.samples.end());
      sorted_.push_back(std::move(s.samples));
    }
    // The gated graph, every gate on, counting gates; evaluations only change its thresholds.
    for (const GateLayerResult& r : layers_) {
      LayerGate g;
      g.layer = r.name;
      g.threshold = -kInf;
      g.base_channels = r.base_channels;
      g.groups = r.groups;
      g.bits = o.bits, g.high_bits = o.high_bits, g.frac_bits = r.frac_bits, g.is_signed = r.is_signed;
      res_.plan.layers.push_back(g);
      names_.push_back(r.name);
    }
    LoadOptions lo = model.load_options;
    const GatePlan plan = res_.plan;
    lo.layer_rewrite = [plan](Graph& g) { apply_gates(g, plan, true); };
    gated_ = load_onnx(model.path, lo);
    if (o.resume) recorded_.resume(o.log);
  }

  float threshold_at(size_t l, int level) const {
    if (level <= 0) return -kInf;
    if (level >= o_.levels) return kInf;
    const std::vector<float>& s = sorted_[l];
    if (s.empty()) return -kInf;
    const auto idx = static_cast<size_t>(std::ceil(double(level) / o_.levels * double(s.size()))) - 1;
    return s[std::min(idx, s.size() - 1)];
  }

  // Per channel: each channel's mean and deviation of its sampled gate values; the samples become
  // normalised values (v - mean) / deviation, whose quantiles are the layer's candidate levels.
  void normalise(SampledLayer& s, int64_t filters) {
    std::vector<double> sum(static_cast<size_t>(filters), 0.0), sq(sum), count(sum);
    for (size_t i = 0; i < s.samples.size(); ++i) {
      const auto f = static_cast<size_t>(s.filters[i]);
      sum[f] += s.samples[i], sq[f] += double(s.samples[i]) * s.samples[i], count[f] += 1;
    }
    std::vector<float> mean(static_cast<size_t>(filters), 0.f), dev(static_cast<size_t>(filters), 1.f);
    for (size_t f = 0; f < mean.size(); ++f) {
      if (count[f] == 0) continue;
      const double mu = sum[f] / count[f], var = std::max(0.0, sq[f] / count[f] - mu * mu);
      mean[f] = static_cast<float>(mu);
      dev[f] = var > 0 ? static_cast<float>(std::sqrt(var)) : 1.f;  // a constant channel: its own values
    }
    for (size_t i = 0; i < s.samples.size(); ++i) {
      const auto f = static_cast<size_t>(s.filters[i]);
      s.samples[i] = (s.samples[i] - mean[f]) / dev[f];
    }
    mean_.push_back(std::move(mean));
    dev_.push_back(std::move(dev));
  }

  // Layer l's per-channel thresholds for the normalised threshold z.
  std::vector<float> channel_thresholds(size_t l, float z) const {
    std::vector<float> t(mean_[l].size());
    for (size_t f = 0; f < t.size(); ++f) t[f] = std::isinf(z) ? z : mean_[l][f] + z * dev_[l][f];
    return t;
  }

  void set_levels(Graph& g, const std::vector<int>& level) const {
    if (o_.fixed) return set_thresholds(g, names_, fixed_);
    if (!o_.per_channel) return set_thresholds(g, names_, thresholds(level));
    std::vector<std::vector<float>> per(level.size());
    for (size_t l = 0; l < level.size(); ++l) per[l] = channel_thresholds(l, threshold_at(l, level[l]));
    set_thresholds(g, names_, per);
  }

  std::vector<float> thresholds(const std::vector<int>& level) const {
    std::vector<float> t(level.size());
    for (size_t l = 0; l < level.size(); ++l) t[l] = threshold_at(l, level[l]);
    return t;
  }

  // Conditional MACs the levels skip, estimated from the candidate fractions.
  double saving(const std::vector<int>& level) const {
    double s = 0;
    for (size_t l = 0; l < level.size(); ++l)
      s += double(layers_[l].outputs * layers_[l].conditional_macs_per_output) * double(level[l]) / o_.levels;
    return s;
  }

  // Runs the gated model on `set` with `level`; `on` (optional) gets per image and layer the gates
  // opened ([image][layer]).
  Tally run(const EvalSet& set, const Reference& ref, const Judge& judge, const std::vector<int>& level,
            bool early_stop, std::vector<std::vector<int64_t>>* on) {
    Graph g = gated_;
    set_levels(g, level);
    ExecutorOptions eo;
    eo.threads = o_.threads;
    Executor ex(std::move(g), eo);
    Tally t;
    for (int64_t b = 0; b < set.size(); b += o_.batch) {
      const int64_t n = std::min(o_.batch, set.size() - b);
      const std::vector<Tensor> out = ex.run({set.batch(b, n)});
      const Tensor& s = out.at(0);
      const int64_t per = s.numel() / n;
      if (per != ref.outputs_per_image) fail<ShapeError>("{}: output 0 changed shape under gating", model_.path);
      const float* v = s.data<float>();
      const float* r = ref.outputs.data() + b * per;
      for (int64_t i = 0; i < n * per; ++i) t.noise_energy += (double(v[i]) - r[i]) * (double(v[i]) - r[i]);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t top = search::argmax(v + i * per, per);
        if (set.has_labels()) {
          const int64_t label = set.labels[b + i];
          t.correct += top == label;
          t.lost += top != label && ref.top1[b + i] == label;
        }
        t.agree += top == ref.top1[b + i];
        if (on) {
          std::vector<int64_t> counts(layers_.size());
          const size_t first = out.size() - layers_.size();
          for (size_t l = 0; l < layers_.size(); ++l) counts[l] = out[first + l].data<int64_t>()[i];
          on->push_back(std::move(counts));
        }
      }
      t.images += n;
      images_ += n;
      if (early_stop && t.images < set.size() && (judge.surely_met(t) || judge.surely_missed(t))) {
        t.met = judge.surely_met(t);
        return t;
      }
    }
    t.complete = true;
    t.met = judge.met(t);
    return t;
  }

  bool met(const std::vector<int>& level, bool early_stop, int& counter) {
    std::string key;
    for (int x : level) key += std::to_string(x) + ",";
    if (std::optional<Tally> r = recorded_.recall(key, *judge_, early_stop)) return r->met;
    ++counter;
    const Tally t = run(set_, ref_, *judge_, level, early_stop, nullptr);
    recorded_.record(key, t);
    return t.met;
  }

  GateResult search(const EvalSet& report) {
    const auto start = std::chrono::steady_clock::now();
    search::LevelSearchCallbacks cb;
    cb.met = [this](const std::vector<int>& l, bool early, int& counter) { return met(l, early, counter); };
    cb.saving = [this](const std::vector<int>& l) { return saving(l); };
    cb.log = o_.log;
    cb.progress = o_.progress;
    std::vector<int> sensitivity(layers_.size(), 0);
    const std::vector<int> level =
        o_.fixed ? sensitivity
                 : search::search_levels(layers_.size(), o_.levels, cb, res_.evaluations, sensitivity,
                                         o_.kind == GateKind::kPrecision
                                             ? fmt::format("gating ({}-bit activations with every gate on)", o_.bits)
                                             : std::string("gating"));
    // Final: complete passes on both subsets, counting the gates the kernels opened.
    std::vector<std::vector<int64_t>> on_search, on_report;
    const Tally final_search = run(set_, ref_, *judge_, level, false, &on_search);
    ++res_.evaluations.final_checks;
    res_.search = search::score_subset(ref_, *judge_, final_search, set_.has_labels());
    const Reference report_ref = evaluator_.reference(report);
    const Judge report_judge(o_.target, report_ref, report.has_labels(), true);
    const Tally final_report = run(report, report_ref, report_judge, level, false, &on_report);
    ++res_.evaluations.final_checks;
    res_.report = search::score_subset(report_ref, report_judge, final_report, report.has_labels());
    for (size_t l = 0; l < layers_.size() && !o_.fixed; ++l) {
      const float thr = threshold_at(l, level[l]);
      layers_[l].level = level[l];
      layers_[l].sensitivity_level = sensitivity[l];
      layers_[l].threshold = thr;
      res_.plan.layers[l].threshold = thr;
      if (o_.per_channel) res_.plan.layers[l].thresholds = channel_thresholds(l, thr);
    }
    for (size_t l = 0; l < layers_.size() && o_.fixed; ++l) res_.plan.layers[l] = *o_.fixed->find(names_[l]);
    summarise(on_search, on_report, report, report_ref);
    res_.options = o_;
    res_.evaluations.images = images_ + report.size();
    res_.evaluations.from_memory = recorded_.from_memory();
    res_.evaluations.from_checkpoint = recorded_.resumed();
    res_.layers = layers_;
    res_.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return res_;
  }

 private:
  // Executed MACs of one image given its gates opened per layer.
  double executed(const std::vector<int64_t>& on) const {
    double macs = double(res_.network_macs);
    for (size_t l = 0; l < layers_.size(); ++l)
      macs += double(layers_[l].base_macs + on[l] * layers_[l].conditional_macs_per_output) - double(layers_[l].macs);
    return macs;
  }

  void summarise(const std::vector<std::vector<int64_t>>& on_search, const std::vector<std::vector<int64_t>>& on_report,
                 const EvalSet& report, const Reference& report_ref) {
    auto off_fraction = [&](const std::vector<std::vector<int64_t>>& on, size_t l) {
      double opened = 0;
      for (const auto& img : on) opened += double(img[l]);
      const double gates = double(layers_[l].outputs) * double(on.size());
      return gates > 0 ? 1.0 - opened / gates : 0.0;
    };
    double bavg_num = 0, bavg_den = 0;
    for (size_t l = 0; l < layers_.size(); ++l) {
      GateLayerResult& r = layers_[l];
      r.off_search = off_fraction(on_search, l);
      r.off_report = off_fraction(on_report, l);
      const double executed_macs =
          double(r.base_macs) + (1.0 - r.off_report) * double(r.outputs * r.conditional_macs_per_output);
      r.flop_reduction = executed_macs > 0 ? double(r.macs) / executed_macs : 1.0;
      if (o_.kind == GateKind::kPrecision) {
        r.b_avg = o_.high_bits + (1.0 - r.off_report) * (o_.bits - o_.high_bits);
        bavg_num += r.b_avg * double(r.macs);
        bavg_den += double(r.macs);
      }
    }
    res_.b_avg_report = bavg_den > 0 ? bavg_num / bavg_den : 0;
    auto reduction = [&](const std::vector<std::vector<int64_t>>& on) {
      double done = 0;
      for (const auto& img : on) done += executed(img);
      return done > 0 ? double(res_.network_macs) * double(on.size()) / done : 1.0;
    };
    res_.reduction_search = reduction(on_search);
    res_.reduction_report = reduction(on_report);
    if (!report.has_labels()) return;
    // Easy/hard per class on the report subset.
    std::map<int64_t, std::array<double, 6>> acc;  // easy n, easy executed, hard n, hard executed
    const int64_t per = report_ref.outputs_per_image;
    for (int64_t i = 0; i < report.size(); ++i) {
      const float* logits = report_ref.outputs.data() + i * per;
      const float top = *std::max_element(logits, logits + per);
      double z = 0;
      for (int64_t k = 0; k < per; ++k) z += std::exp(double(logits[k]) - double(top));
      const bool easy = report_ref.top1[i] == report.labels[i] && 1.0 / z >= 0.9;
      auto& a = acc[report.labels[i]];
      a[easy ? 0 : 2] += 1;
      a[easy ? 1 : 3] += executed(on_report[i]);
    }
    for (const auto& [label, a] : acc) {
      ClassView c;
      c.label = label;
      c.easy = static_cast<int64_t>(a[0]);
      c.hard = static_cast<int64_t>(a[2]);
      const double full = double(res_.network_macs);
      c.easy_reduction = a[1] > 0 ? full * a[0] / a[1] : 0;
      c.hard_reduction = a[3] > 0 ? full * a[2] / a[3] : 0;
      c.all_reduction = a[1] + a[3] > 0 ? full * (a[0] + a[2]) / (a[1] + a[3]) : 0;
      res_.classes.push_back(c);
    }
  }

  const GateSearchOptions& o_;
  const Model& model_;
  const EvalSet& set_;
  search::Evaluator evaluator_;
  Reference ref_;
  std::unique_ptr<Judge> judge_;
  std::vector<GateLayerResult> layers_;
  std::vector<std::string> names_;
  std::vector<std::vector<float>> sorted_;
  std::vector<std::vector<float>> mean_, dev_;  // per_channel: per layer and channel
  std::vector<std::vector<float>> fixed_;       // fixed plan: per layer and channel
  Graph gated_;
  GateResult res_;
  search::RecordedEvaluations recorded_{nullptr, o_.checkpoint, o_.fingerprint};
  int64_t images_ = 0;
};

}  // namespace

GateResult search_gates(const Model& model, const std::vector<LayerGeometry>& geometry, const EvalSet& search,
                        const EvalSet& report, const GateSearchOptions& options) {
  search::validate_target(options.target);
  if (!options.fixed) {
    GateSearch s(model, geometry, search, options);
    return s.search(report);
  }
  GateSearchOptions o = options;  // the plan decides what is gated and how
  const GatePlan& plan = *options.fixed;
  o.kind = plan.kind;
  o.base_fraction = plan.base_fraction;
  o.grouping = plan.grouping;
  o.per_channel = false;
  for (const LayerGate& g : plan.layers) {
    if (plan.kind != GateKind::kPrecision) break;
    if (&g != &plan.layers.front() && (g.bits != o.bits || g.high_bits != o.high_bits))
      fail<ConfigError>("{}: layer {} has B/B_hb {}/{}, the first layer {}/{} (give one per file)", plan.path, g.layer,
                        g.bits, g.high_bits, o.bits, o.high_bits);
    o.bits = g.bits, o.high_bits = g.high_bits;
  }
  GateSearch s(model, geometry, search, o);
  return s.search(report);
}

}  // namespace eff::gating
