#include "deft/optimize.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>

#include "core/error.h"
#include "core/progress.h"
#include "deft/conv_amx.h"
#include "deft/conv_small.h"
#include "search/checkpoint.h"
#include "search/evaluator.h"

namespace eff::deft {

std::string Candidate::name() const {
  if (engine) return "engine";
  return alpha > 1.0 ? format_name(format) : fmt::format("{}@{:g}", format_name(format), alpha);
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Wall time per run of each executor and per-node times, rounds interleaved so that the machine's
// load drifts over all of them alike; medians over the rounds.
struct Timing {
  std::vector<double> total_ms;                        // per executor
  std::vector<std::map<std::string, double>> node_ms;  // per executor, by node name
};

// `per_node` off: end-to-end times only, without the per-node clock reads.
Timing time_executors(std::vector<std::unique_ptr<Executor>>& execs, const std::vector<Tensor>& inputs, int rounds,
                      int runs, bool per_node, bool progress) {
  const size_t n = execs.size();
  std::vector<std::vector<double>> totals(n);
  std::vector<std::map<std::string, std::vector<double>>> nodes(n);
  Progress bar("timing", static_cast<int64_t>(rounds) * static_cast<int64_t>(n));
  if (!progress) bar.finish();
  for (auto& e : execs) e->run(inputs);  // warm-up: kernels planned, buffers allocated
  // Medians of single runs: on a shared machine a run that lost the core is an outlier, which a
  // mean would carry.
  for (int r = 0; r < rounds; ++r) {
    // Each round starts at another executor, so that none always runs first after a switch.
    for (size_t step = 0; step < n; ++step) {
      const size_t i = (step + static_cast<size_t>(r)) % n;
      Executor& e = *execs[i];
      e.set_node_timing(per_node);
      std::map<std::string, double> before;
      for (const auto& t : e.node_times()) before[t.name] = t.ms;
      for (int k = 0; k < runs; ++k) {
        const auto start = std::chrono::steady_clock::now();
        e.run(inputs);
        totals[i].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        for (const auto& t : per_node ? e.node_times() : std::vector<Executor::NodeTime>{}) {
          nodes[i][t.name].push_back(t.ms - before[t.name]);
          before[t.name] = t.ms;
        }
      }
      e.set_node_timing(false);
      if (progress) bar.advance();
    }
  }
  bar.finish();
  Timing t;
  for (size_t i = 0; i < n; ++i) {
    t.total_ms.push_back(median(totals[i]));
    t.node_ms.emplace_back();
    for (auto& [name, v] : nodes[i]) t.node_ms.back()[name] = median(v);
  }
  return t;
}

class Optimizer {
 public:
  Optimizer(const Graph& g, const search::EvalSet& search, const search::EvalSet& report, const OptimizeOptions& o)
      : g_(g), search_(search), report_(report), o_(o), evaluator_(g, o.threads, o.batch) {
    if (!o.load_with_plan) fail<UsageError>("optimize: no model loader given");
    search::validate_target(o.target);
    r_.search_ref = evaluator_.reference(search);
    judge_ = std::make_unique<search::Judge>(o.target, r_.search_ref, search.has_labels());
    if (o.resume) recorded_.resume(o.log);
  }

  OptimizeResult run() {
    plan_layers();
    time_candidates();
    sensitivity();
    greedy();
    frontier();
    finish();
    choose_threads();
    return std::move(r_);
  }

 private:
  void log(const std::string& m) const {
    if (o_.log) o_.log(m);
  }

  // Eligible layers, calibration, every (layer, alpha) elimination.
  void plan_layers() {
    std::vector<std::string> names;
    for (const LayerInfo& l : find_layers(g_)) {
      std::string why;
      if (!deft_eligible(g_, g_.nodes[l.node], &why)) {
        r_.skipped.push_back(l.name + ": " + why);
        continue;
      }
      names.push_back(l.name);
    }
    if (names.empty()) fail<UsageError>("{}: no conv/FC layer the DeftNN kernels cover", g_.source);
    candidates_.push_back({});  // the engine
    std::vector<double> alphas{2.0};
    for (double a : o_.alphas) alphas.push_back(a);
    for (double a : alphas)
      for (Format f : o_.formats)
        if (f != Format::kInt8 || a > 1.0) candidates_.push_back({false, f, a});
    CalibrationSamples samples;
    const bool int8 = std::find(o_.formats.begin(), o_.formats.end(), Format::kInt8) != o_.formats.end();
    if (!o_.alphas.empty() || int8) {
      const auto calib = search::as_dataset(search_);
      r_.calibration_images = std::min(o_.calibration_images, search_.size());
      log(fmt::format("calibration: {} search images", r_.calibration_images));
      if (!o_.alphas.empty())
        samples = collect_calibration_samples(g_, names, *calib, r_.calibration_images, o_.threads);
      if (int8) {
        for (const auto& [name, range] : collect_input_ranges(g_, names, *calib, r_.calibration_images, o_.threads))
          int8_inputs_[name] = choose_int8_input(range.first, range.second);
      }
    }
    Progress bar("eliminating", static_cast<int64_t>(names.size() * alphas.size()));
    if (!o_.progress) bar.finish();
    for (const std::string& name : names) {
      OptimizedLayer l;
      l.name = name;
      const Node& n = *g_.find_node(name);
      l.conv = n.op == "Conv";
      for (double a : alphas) {
        sve_[{name, a}] = plan_sve(g_, name, a, &samples, o_.threads);
        if (o_.progress) bar.advance();
      }
      l.depth = sve_.at({name, 2.0}).depth;
      const Tensor& w = g_.constant(n.input(1));
      l.rows = l.conv ? w.shape()[0] : w.numel() / l.depth;
      for (const Candidate& c : candidates_)
        l.options.push_back({c, c.engine ? l.depth : sve_.at({name, c.alpha}).kept(), 0, -1, false});
      r_.layers.push_back(std::move(l));
    }
    bar.finish();
  }

  // Without pairs (deft_model.h): every layer's node time is its own. The written plan has them.
  DeftModelPlan plan_of(const std::vector<int>& choice) const {
    DeftModelPlan p;
    p.calibration_images = r_.calibration_images;
    p.pair_layers = false;
    for (size_t i = 0; i < r_.layers.size(); ++i) {
      const OptimizedLayer& l = r_.layers[i];
      const Candidate& c = l.options[choice[i]].candidate;
      if (c.engine) continue;
      const auto q = int8_inputs_.find(l.name);
      p.layers.push_back(plan_layer(g_, l.name, c.format, sve_.at({l.name, c.alpha}), o_.compensation,
                                    q == int8_inputs_.end() ? nullptr : &q->second));
    }
    return p;
  }

  std::vector<int> uniform(int option) const { return std::vector<int>(r_.layers.size(), option); }

  // Node times of every candidate on every layer (one graph per candidate).
  void time_candidates() {
    log(fmt::format("timing {} candidates x {} layers at batch {}", candidates_.size(), r_.layers.size(),
                    o_.speed_batch));
    std::vector<std::unique_ptr<Executor>> execs;
    for (size_t c = 0; c < candidates_.size(); ++c) {
      ExecutorOptions eo;
      eo.threads = o_.threads;
      execs.push_back(std::make_unique<Executor>(o_.load_with_plan(plan_of(uniform(static_cast<int>(c)))), eo));
    }
    const std::vector<Tensor> inputs = search_.batch(0, std::min(o_.speed_batch, search_.size()));
    const Timing t = time_executors(execs, inputs, o_.speed_rounds, o_.speed_runs, true, o_.progress);
    r_.engine_ms = 0;
    for (const auto& [name, ms] : t.node_ms[0]) r_.engine_ms += ms;
    // A DeftLayer that took a following node into its epilogue (a fused MaxPool: the node is gone
    // from the candidate's graph, its ONNX name in the layer's origin) does that node's work too:
    // the engine option's time then includes that node's engine time, so moves compare like with
    // like (and predicted_ms, the engine total less the savings, stays right).
    auto credit = [&](size_t c, const std::string& layer) {
      const Node* n = execs[c]->graph().find_node(layer);
      double ms = 0;
      if (n)
        for (const std::string& o : n->origin)
          if (o != layer && t.node_ms[0].count(o) && !t.node_ms[c].count(o)) ms += t.node_ms[0].at(o);
      return ms;
    };
    const std::map<std::string, double> engine_in_context = time_engine_in_context(t.total_ms, inputs);
    for (OptimizedLayer& l : r_.layers) {
      // bf16dot convs on the AMX tile unit read every tap (SVE only zeroes weights there), so
      // every alpha runs the same kernel as no SVE.
      // (Any stride: the AMX conv runs strided convs on phase planes.) Convs with few input
      // channels run the direct conv of deft/conv_small.h instead, which skips dropped synapses.
      bool amx = l.conv && amx_available();
      if (amx) {
        const Node& n = *g_.find_node(l.name);
        ConvShape s;
        s.c = g_.constant(n.input(1)).shape()[1];
        const auto strides = n.attr_ints("strides", {1, 1});
        s.sh = strides.empty() ? 1 : strides[0], s.sw = strides.size() < 2 ? 1 : strides[1];
        amx = !small_conv_fits(s);
      }
      for (size_t c = 0; c < candidates_.size(); ++c) {
        auto it = t.node_ms[c].find(l.name);
        l.options[c].ms = it == t.node_ms[c].end() ? 0 : it->second;
      }
      if (auto it = engine_in_context.find(l.name); it != engine_in_context.end()) {
        l.engine_blocked_ms = l.options[0].ms;
        l.options[0].ms = it->second;
      }
      std::vector<double> fused(candidates_.size(), 0.0);
      for (size_t c = 1; c < candidates_.size(); ++c) fused[c] = credit(c, l.name);
      const double most = *std::max_element(fused.begin(), fused.end());
      l.options[0].ms += most;
      if (l.engine_blocked_ms > 0) l.engine_blocked_ms += most;
      for (size_t c = 1; c < candidates_.size(); ++c) l.options[c].ms += most - fused[c];
      for (size_t c = 1; c < candidates_.size(); ++c) {
        // An alpha that eliminates nothing more than a milder one is the same layer: same time, and
        // not a move of its own (else timing noise picks between identical kernels).
        for (size_t e = 1; e < c; ++e) {
          const Candidate &a = l.options[e].candidate, &b = l.options[c].candidate;
          const bool same_kernel = amx && a.format == Format::kBf16Dot;
          if (a.format == b.format &&
              (same_kernel || sve_.at({l.name, a.alpha}).order == sve_.at({l.name, b.alpha}).order)) {
            l.options[c].ms = l.options[e].ms;
            l.options[c].duplicate = true;
            break;
          }
        }
      }
    }
  }

  // The engine's conv between DeftLayers reads and writes plain NCHW (what DeftLayers write and
  // read), where the all-engine graph passes oneDNN's blocked layout from conv to conv: resnet's
  // 1x1 shortcuts took twice as long there (batch 32: 0.72 -> 1.51 ms), so timing them in the
  // all-engine graph kept them on the engine where their DeftNN candidate was faster. Each layer's
  // engine option is timed again where the moves lead: the fastest candidate's graph (by total)
  // with only that layer left on the engine. Layer name -> its node time there.
  std::map<std::string, double> time_engine_in_context(const std::vector<double>& totals,
                                                       const std::vector<Tensor>& inputs) {
    std::map<std::string, double> ms;
    if (r_.layers.size() < 2 || candidates_.size() < 2) return ms;
    int best = 1;
    for (size_t c = 2; c < candidates_.size(); ++c)
      if (totals[c] < totals[best]) best = static_cast<int>(c);
    std::vector<std::unique_ptr<Executor>> execs;
    for (size_t i = 0; i < r_.layers.size(); ++i) {
      std::vector<int> choice = uniform(best);
      choice[i] = 0;
      ExecutorOptions eo;
      eo.threads = o_.threads;
      execs.push_back(std::make_unique<Executor>(o_.load_with_plan(plan_of(choice)), eo));
    }
    log(fmt::format("timing each layer's engine kernel among {} layers", candidates_[best].name()));
    const Timing t = time_executors(execs, inputs, o_.speed_rounds, o_.speed_runs, true, o_.progress);
    for (size_t i = 0; i < r_.layers.size(); ++i)
      if (auto it = t.node_ms[i].find(r_.layers[i].name); it != t.node_ms[i].end()) ms[r_.layers[i].name] = it->second;
    return ms;
  }

  std::string key_of(const std::vector<int>& choice) const {
    std::string k;
    for (size_t i = 0; i < choice.size(); ++i)
      if (choice[i]) k += fmt::format("{}={};", r_.layers[i].name, r_.layers[i].options[choice[i]].candidate.name());
    return k.empty() ? "engine" : k;
  }

  search::Tally evaluate(const std::vector<int>& choice) {
    const std::string key = key_of(choice);
    if (std::optional<search::Tally> t = recorded_.recall(key, *judge_, false)) return *t;
    const Graph graph = o_.load_with_plan(plan_of(choice));  // the evaluator keeps a reference
    search::Evaluator ev(graph, o_.threads, o_.batch);
    const search::Tally t = ev.run(search_, r_.search_ref, *judge_, {}, false);
    ++r_.evaluations;
    recorded_.record(key, t);
    return t;
  }

  // The engine total less each layer's all-engine time plus its time in the choice: a layer left on
  // the engine counts its time among DeftLayers once any layer moved (its neighbours' layout).
  double predicted_ms(const std::vector<int>& choice) const {
    const bool moved = std::any_of(choice.begin(), choice.end(), [](int c) { return c != 0; });
    double ms = r_.engine_ms;
    for (size_t i = 0; i < choice.size(); ++i) {
      const OptimizedLayer& l = r_.layers[i];
      const double all_engine = l.engine_blocked_ms > 0 ? l.engine_blocked_ms : l.options[0].ms;
      ms -= all_engine - (choice[i] == 0 && !moved ? all_engine : l.options[choice[i]].ms);
    }
    return ms;
  }

  void add_point(const std::vector<int>& choice, const search::Tally& t) {
    OptimizePoint p;
    p.choice = choice;
    p.predicted_ms = predicted_ms(choice);
    p.search = t;
    p.meets = t.met;
    r_.points.push_back(std::move(p));
  }

  // Each layer alone, for every candidate faster there than the engine.
  void sensitivity() {
    add_point(uniform(0), evaluate(uniform(0)));
    int64_t pending = 0;
    for (const OptimizedLayer& l : r_.layers)
      for (size_t c = 1; c < l.options.size(); ++c)
        pending += l.options[c].ms < l.options[0].ms && !l.options[c].duplicate;
    log(fmt::format("sensitivity: {} single-layer evaluations on {} search images", pending, search_.size()));
    Progress bar("sensitivity", pending);
    if (!o_.progress) bar.finish();
    for (size_t i = 0; i < r_.layers.size(); ++i) {
      OptimizedLayer& l = r_.layers[i];
      for (size_t c = 1; c < l.options.size(); ++c) {
        if (!(l.options[c].ms < l.options[0].ms) || l.options[c].duplicate) continue;
        std::vector<int> choice = uniform(0);
        choice[i] = static_cast<int>(c);
        const search::Tally t = evaluate(choice);
        l.options[c].lost = t.lost;
        l.options[c].alone_meets = t.met;
        if (o_.progress) bar.advance();
      }
    }
    bar.finish();
  }

  struct Move {
    size_t layer;
    int option;
    double score;
  };

  // The moves from `state`: a faster option of a layer; time saved per (1 + images it loses alone).
  std::vector<Move> moves(const std::vector<int>& state, bool within_target) const {
    std::vector<Move> m;
    for (size_t i = 0; i < r_.layers.size(); ++i) {
      const OptimizedLayer& l = r_.layers[i];
      const double now = l.options[state[i]].ms;
      for (size_t c = 1; c < l.options.size(); ++c) {
        const LayerOption& o = l.options[c];
        if (o.lost < 0 || !(o.ms < now) || (within_target && !o.alone_meets)) continue;
        m.push_back({i, static_cast<int>(c), (now - o.ms) / (1.0 + double(o.lost))});
      }
    }
    std::stable_sort(m.begin(), m.end(), [](const Move& a, const Move& b) { return a.score > b.score; });
    return m;
  }

  void greedy() {
    std::vector<int> state = uniform(0);
    std::set<std::pair<size_t, int>> rejected;
    log("greedy: moves kept while the whole model meets the target");
    for (;;) {
      bool accepted = false;
      for (const Move& m : moves(state, true)) {
        if (rejected.count({m.layer, m.option})) continue;
        std::vector<int> next = state;
        next[m.layer] = m.option;
        const search::Tally t = evaluate(next);
        if (t.met) {
          state = next;
          add_point(state, t);
          log(fmt::format("  {} -> {}: {} lost, {:.3f} ms predicted", r_.layers[m.layer].name,
                          r_.layers[m.layer].options[m.option].candidate.name(), t.lost,
                          r_.points.back().predicted_ms));
          accepted = true;
          break;
        }
        rejected.insert({m.layer, m.option});
      }
      if (!accepted) break;
    }
    r_.chosen = static_cast<int>(r_.points.size()) - 1;
    // Past the target: the fastest-per-loss moves regardless, for the frontier's lossy end.
    for (int step = 0; step < o_.beyond_target; ++step) {
      const std::vector<Move> m = moves(state, false);
      if (m.empty()) break;
      state[m[0].layer] = m[0].option;
      add_point(state, evaluate(state));
    }
  }

  // Pareto points (faster and no less accurate dominates), timed end to end and on the report set.
  void frontier() {
    // Accuracy here: the images fp32 gets right that the model keeps (what the target judges).
    auto retained = [&](const OptimizePoint& p) { return r_.search_ref.correct - p.search.lost; };
    std::vector<size_t> front;
    for (size_t i = 0; i < r_.points.size(); ++i) {
      const OptimizePoint& b = r_.points[i];
      bool dominated = false;
      for (size_t j = 0; j < r_.points.size() && !dominated; ++j) {
        const OptimizePoint& a = r_.points[j];
        const bool no_worse = a.predicted_ms <= b.predicted_ms && retained(a) >= retained(b);
        const bool better = a.predicted_ms < b.predicted_ms || retained(a) > retained(b);
        dominated = j != i && no_worse && (better || j < i);
      }
      if (!dominated || i == 0 || static_cast<int>(i) == r_.chosen) front.push_back(i);
    }
    // At most max_frontier, spread over the list, keeping the engine and the chosen point.
    std::vector<size_t> keep;
    const size_t cap = static_cast<size_t>(std::max(2, o_.max_frontier));
    for (size_t k = 0; k < front.size(); ++k) {
      const bool must = front[k] == 0 || static_cast<int>(front[k]) == r_.chosen;
      if (must || front.size() <= cap || (k * (cap - 1)) % (front.size() - 1) < cap - 1) keep.push_back(front[k]);
    }
    log(fmt::format("frontier: {} points timed end to end and evaluated on {} report images", keep.size(),
                    report_.size()));
    r_.report_ref = evaluator_.reference(report_);
    const search::Judge report_judge(o_.target, r_.report_ref, report_.has_labels(), true);
    std::vector<std::unique_ptr<Executor>> execs;
    for (size_t i : keep) {
      ExecutorOptions eo;
      eo.threads = o_.threads;
      execs.push_back(std::make_unique<Executor>(o_.load_with_plan(plan_of(r_.points[i].choice)), eo));
    }
    const std::vector<Tensor> inputs = search_.batch(0, std::min(o_.speed_batch, search_.size()));
    const Timing t = time_executors(execs, inputs, o_.speed_rounds, o_.speed_runs, false, o_.progress);
    Progress bar("report subset", static_cast<int64_t>(keep.size()));
    if (!o_.progress) bar.finish();
    for (size_t k = 0; k < keep.size(); ++k) {
      OptimizePoint& p = r_.points[keep[k]];
      p.frontier = true;
      p.measured = true;
      p.measured_ms = t.total_ms[k];
      p.engine_ms = t.total_ms[0];  // keep[0] is the engine point
      const Graph graph = o_.load_with_plan(plan_of(p.choice));
      search::Evaluator ev(graph, o_.threads, o_.batch);
      p.report = ev.run(report_, r_.report_ref, report_judge, {}, false);
      if (o_.progress) bar.advance();
    }
    bar.finish();
  }

  void finish() {
    // Layer times cannot see what a plan costs between layers (each DeftLayer's plain layout in and
    // out among the engine's channel-blocked convs): resnet's chosen plan on a Zen 5 without AMX ran
    // 0.84-0.98x the engine end to end. The frontier timed both in one run; a chosen plan slower
    // than the engine there is not written: optimize never makes a model slower.
    const int written = point_to_write(r_.points, r_.chosen);
    if (written != r_.chosen) {
      const OptimizePoint& slower = r_.points[r_.chosen];
      log(fmt::format("the chosen plan ran {:.4f} ms end to end, the engine {:.4f} ms: keeping the engine",
                      slower.measured_ms, slower.engine_ms));
      r_.chosen = written;
      r_.engine_kept = true;
    }
    const OptimizePoint& p = r_.points[r_.chosen];
    for (size_t i = 0; i < r_.layers.size(); ++i) r_.layers[i].chosen = p.choice[i];
    r_.plan = plan_of(p.choice);
    r_.plan.pair_layers = true;
    r_.report_met = p.report.met;
    r_.resumed = recorded_.resumed();
  }

  // On a team (threads > 1): which DeftLayers of the chosen plan run on one thread. A small layer at
  // batch 1 pays for a team (its start, the barriers, and the other core's share of the input and
  // output moving between the cores' caches, also for the next layer) more than it saves: resnet's
  // AMX convs (7-25 us each) ran faster end to end with every layer on one thread than with the
  // team. Timed end to end (node times cannot see what a layer costs its neighbours), interleaved:
  // the plan with the team everywhere, with every DeftLayer on one thread, and with one layer at a
  // time given the team back; the layers whose team run beat all-one-thread by 1% get it (mixed),
  // and the fastest of team, one thread and mixed, timed again together, is written. Results do not
  // depend on it (every kernel's sums are the same on any thread count), only speed.
  void choose_threads() {
    if (o_.threads <= 1 || r_.plan.layers.empty()) return;
    const std::vector<Tensor> inputs = search_.batch(0, std::min(o_.speed_batch, search_.size()));
    auto time = [&](const std::vector<DeftModelPlan>& plans) {
      std::vector<std::unique_ptr<Executor>> execs;
      for (const DeftModelPlan& p : plans) {
        ExecutorOptions eo;
        eo.threads = o_.threads;
        execs.push_back(std::make_unique<Executor>(o_.load_with_plan(p), eo));
      }
      return time_executors(execs, inputs, o_.speed_rounds, o_.speed_runs, false, o_.progress).total_ms;
    };
    const DeftModelPlan team = r_.plan;
    DeftModelPlan one = r_.plan;
    for (DeftLayerPlan& l : one.layers) l.threads = 1;
    std::vector<DeftModelPlan> plans{team, one};
    const size_t n = one.layers.size();
    if (n > 1)
      for (size_t i = 0; i < n; ++i) {
        plans.push_back(one);
        plans.back().layers[i].threads = 0;
      }
    log(fmt::format("timing the chosen plan on {} threads and on one thread per DeftLayer", o_.threads));
    const std::vector<double> t = time(plans);
    DeftModelPlan mixed = one;
    size_t teams = 0;
    for (size_t i = 0; n > 1 && i < n; ++i)
      if (t[2 + i] < 0.99 * t[1]) mixed.layers[i].threads = 0, ++teams;
    OptimizeResult::ThreadChoice& c = r_.thread_choice;
    std::vector<double> u = t;
    if (teams > 0 && teams < n) u = time({team, one, mixed});
    c.team_ms = u[0], c.one_ms = u[1], c.mixed_ms = teams > 0 && teams < n ? u[2] : 0;
    const DeftModelPlan* pick = &team;
    c.chosen = "team";
    if (u[1] < u[0]) pick = &one, c.chosen = "one";
    if (c.mixed_ms > 0 && c.mixed_ms < std::min(u[0], u[1])) pick = &mixed, c.chosen = "mixed";
    r_.plan = *pick;
    // A batch of 2 or more: each thread's share of the images through the whole network on its own
    // (no team start or barrier per layer; resnet at batch 32 on two threads: see docs/deft.md),
    // timed against the plan just chosen; only where the executor would split (no engine conv or FC
    // left: kBatchSplitAttr), else the two runs are the same and noise would choose.
    DeftModelPlan split = r_.plan;
    split.batch_split = true;
    const Graph split_graph = o_.speed_batch >= 2 ? o_.load_with_plan(split) : Graph();
    if (o_.speed_batch >= 2 && std::all_of(split_graph.nodes.begin(), split_graph.nodes.end(), computes_images_apart)) {
      const std::vector<double> s = time({r_.plan, split});
      c.split_ms = s[1];
      if (s[1] < s[0]) r_.plan = split, c.chosen = "split";
    }
    for (const DeftLayerPlan& l : r_.plan.layers)
      for (OptimizedLayer& o : r_.layers)
        if (o.name == l.name) o.threads = l.threads;
    log(fmt::format("threads: team {:.4f} ms, one thread per layer {:.4f} ms{}{}; writing {}", c.team_ms, c.one_ms,
                    c.mixed_ms > 0 ? fmt::format(", mixed {:.4f} ms", c.mixed_ms) : "",
                    c.split_ms > 0 ? fmt::format(", batch split {:.4f} ms", c.split_ms) : "", c.chosen));
  }

  const Graph& g_;
  const search::EvalSet& search_;
  const search::EvalSet& report_;
  const OptimizeOptions& o_;
  search::Evaluator evaluator_;
  std::unique_ptr<search::Judge> judge_;
  search::RecordedEvaluations recorded_{nullptr, o_.checkpoint, o_.fingerprint};
  std::vector<Candidate> candidates_;
  std::map<std::pair<std::string, double>, SvePlan> sve_;
  std::map<std::string, Int8Input> int8_inputs_;  // per layer, from the calibration images
  OptimizeResult r_;
};

}  // namespace

int point_to_write(const std::vector<OptimizePoint>& points, int chosen) {
  const OptimizePoint& c = points.at(static_cast<size_t>(chosen));
  return chosen != 0 && c.measured && c.measured_ms > c.engine_ms ? 0 : chosen;
}

OptimizeResult optimize(const Graph& graph, const search::EvalSet& search, const search::EvalSet& report,
                        const OptimizeOptions& o) {
  if (search.size() < 1 || report.size() < 1) fail<UsageError>("the search and report subsets must not be empty");
  if (o.formats.empty()) fail<UsageError>("optimize: no format to try");
  for (double a : o.alphas)
    if (!(a > 0 && a <= 1)) fail<UsageError>("optimize: alpha {} is not in (0, 1]", a);
  Optimizer opt(graph, search, report, o);
  return opt.run();
}

}  // namespace eff::deft
