#include "sweep/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/progress.h"
#include "sim/simulator.h"
#include "sim/sources.h"

namespace eff::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

json totals_json(const sim::SimResults& r, const sim::Totals& t) {
  return {{"speedup", t.speedup()},
          {"speedup_with_memory", t.speedup_with_memory()},
          {"ideal_speedup", t.ideal_speedup()},
          {"utilisation", t.utilisation()},
          {"cycles", t.stats.cycles},
          {"baseline_cycles", t.baseline_cycles},
          {"energy_pj", t.energy.on_chip()},
          {"baseline_energy_pj", t.baseline_energy.on_chip()},
          {"energy_efficiency", t.energy_efficiency()},
          {"system_energy_efficiency", t.system_energy_efficiency()},
          {"power_w", r.power_w(t)}};
}

}  // namespace

PointRunner::PointRunner(const Spec& spec, const RunOptions& o)
    : spec_(spec), o_(o), store_(o.out), cache_(o.cache.empty() ? (fs::path(o.out) / "cache").string() : o.cache) {}

json PointRunner::compute(const Point& p, std::map<std::string, std::string>& files, json& timing) {
  CaptureRequest req;
  req.model = p.model();
  req.data = p.data();
  req.precision = p.precision();
  if (const json search = p.precision_search(); !search.is_null()) {
    const auto t0 = std::chrono::steady_clock::now();
    req.precision = cache_.searched_profile(req.model, req.data.set, search, o_.threads);
    timing["search_seconds"] = seconds_since(t0);
  }
  req.thresholds = p.thresholds();
  req.threads = o_.threads;
  json results = json::object();
  const bool need_capture = spec_.computes("simulate") || spec_.computes("eval");
  if (need_capture) {
    const auto t0 = std::chrono::steady_clock::now();
    const Capture c = cache_.get(req);
    timing["capture_seconds"] = seconds_since(t0);
    timing["capture_built"] = c.built;
    if (spec_.computes("eval")) results["eval"] = c.eval;
    if (spec_.computes("simulate")) {
      const auto t1 = std::chrono::steady_clock::now();
      const sim::DesignSet set = sim::build_designs(p.design(), p.design_config_yaml(),
                                                    fmt::format("{}: config '{}'", spec_.file, p.config_name()));
      const sim::cost::Technology tech = sim::cost::load_technology(p.technology());
      const int threads = resolve_threads(o_.threads);
      sim::SimRun run(set, sim::SimContext{threads, false}, &tech);
      sim::TraceOptions to;
      to.threads = threads;
      sim::simulate_trace_dir(c.dir, run, to);
      sim::SimResults r = run.results();
      r.notes["source"] = fmt::format("sweep point {}: {}", p.id, p.label);
      // Totals only: `simulate`'s results.json holds a record per image, layer and design (7 MB
      // per 1,000 LeNet-5 images), too much to keep for every point of a large sweep. The
      // per-layer records come back from the point's capture (docs/sweep.md).
      files["totals.csv"] = sim::totals_csv(r);
      json s = totals_json(r, r.all.at(0));
      s["conv_speedup"] = r.conv.at(0).speedup();
      s["fc_speedup"] = r.fc.at(0).speedup();
      s["relative_area"] = r.relative_area(0);
      s["area_mm2"] = r.areas.at(0).total_mm2;
      results["simulate"] = s;
      timing["simulate_seconds"] = seconds_since(t1);
    }
  }
  if (spec_.computes("profile")) {
    const auto t2 = std::chrono::steady_clock::now();
    results["profile"] = cache_.profile(req);
    timing["profile_seconds"] = seconds_since(t2);
  }
  return results;
}

void PointRunner::run(const Point& p) {
  if (o_.resume && store_.finished(p, spec_)) {
    std::lock_guard lock(mu_);
    ++counts_.skipped;
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, std::string> files;
  json timing = json::object();
  json point = {{"id", p.id}, {"index", p.index}, {"label", p.label}, {"values", p.values}};
  point["compute"] = spec_.compute;
  std::string error;
  try {
    point["results"] = compute(p, files, timing);
    point["status"] = "ok";
  } catch (const std::exception& e) {
    error = e.what();
    point["status"] = "failed";
    point["error"] = error;
    files.clear();
  }
  const double seconds = seconds_since(t0);
  timing["seconds"] = seconds;
  timing["process"] = process_tag();
  point["timing"] = timing;  // left out of merged tables: it depends on the machine and the split
  store_.write_point(p.id, files, point);
  std::lock_guard lock(mu_);
  counts_.work_seconds += seconds;
  if (error.empty()) {
    ++counts_.done;
  } else {
    if (counts_.failed++ == 0) counts_.first_failure = fmt::format("{} ({}): {}", p.id, p.label, error);
  }
}

RunCounts PointRunner::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void prepare_out(const Spec& spec, const RunOptions& o) {
  SweepStore store(o.out);
  store.write_spec(spec);
  store.remove_stale_temporaries();
}

std::vector<const Point*> capture_interleaved(const std::vector<const Point*>& points) {
  std::vector<std::string> keys;
  std::vector<std::vector<const Point*>> groups;
  for (const Point* p : points) {
    const nlohmann::json& v = p->values;
    const std::string key = nlohmann::json::array({v["model"], v["data"], v["precision"], v["thresholds"]}).dump();
    const auto at = std::find(keys.begin(), keys.end(), key);
    if (at == keys.end()) {
      keys.push_back(key);
      groups.push_back({p});
    } else {
      groups[static_cast<size_t>(at - keys.begin())].push_back(p);
    }
  }
  std::vector<const Point*> out;
  out.reserve(points.size());
  for (size_t k = 0; out.size() < points.size(); ++k) {
    for (const auto& g : groups) {
      if (k < g.size()) out.push_back(g[k]);
    }
  }
  return out;
}

RunCounts run_local(const Spec& spec, const RunOptions& o) {
  const SweepLock lock(o.out, o.shard, o.shards);
  prepare_out(spec, o);
  PointRunner runner(spec, o);
  const std::vector<const Point*> mine =
      o.jobs > 1 ? capture_interleaved(shard_points(spec, o.shard, o.shards)) : shard_points(spec, o.shard, o.shards);
  Progress bar("sweep", static_cast<int64_t>(mine.size()));
  std::mutex bar_mu;
  // --jobs: workers take the next point (capture_interleaved) until none is left (points differ a lot in
  // cost); a failure of the sweep folder itself stops every worker and is rethrown.
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  auto work = [&] {
    for (size_t i = next++; i < mine.size() && !stop; i = next++) {
      try {
        runner.run(*mine[i]);
      } catch (...) {
        std::lock_guard lock(bar_mu);
        if (!error) error = std::current_exception();
        stop = true;
      }
      std::lock_guard lock(bar_mu);
      bar.advance();
    }
  };
  std::vector<std::thread> workers;
  for (int j = 1; j < std::max(1, o.jobs); ++j) workers.emplace_back(work);
  work();
  for (std::thread& t : workers) t.join();
  if (error) std::rethrow_exception(error);
  bar.finish();
  return runner.counts();
}

void fail_on_failures(const RunCounts& c) {
  if (c.failed > 0) fail("{} point(s) failed; first: {}", c.failed, c.first_failure);
}

}  // namespace eff::sweep
