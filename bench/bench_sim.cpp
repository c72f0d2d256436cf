// Simulator speed on a synthetic VGG-16-shaped network (the 13 conv layers at 224x224, one
// image, 15.3 G MACs): one benchmark per registered design, single thread, values generated
// once outside the timing. Reports simulated MACs per second; the peer figures to beat (spec,
// same network, single thread, incl. ~1.4 s of trace loading) are Stripes 1.8 s, Dynamic Stripes
// 2.0 s, Bit-Pragmatic 21 s, Loom 21 s. `SimAllDesigns/threads:2` is the "all designs, one image,
// this 2-core machine" goal, value generation included.
#include <benchmark/benchmark.h>

#include <chrono>

#include "sim/cost/energy.h"
#include "sim/cost/memory.h"
#include "sim/design.h"
#include "sim/simulator.h"
#include "sim/sources.h"

namespace {

using namespace eff;
using namespace eff::sim;

SyntheticSpec vgg_spec() {
  SyntheticSpec s;
  s.zero_fraction = 0.44;  // seed 001 Figure 4
  s.magnitude = "half-normal";
  s.act_bits = 12;  // in the range of seed 001 Table 2's VGG_19 profile (10-13 bits)
  s.wgt_bits = 12;
  s.seed = 1;
  return s;
}

const std::vector<SimLayer>& vgg_layers() {
  static const std::vector<SimLayer> layers = [] {
    std::vector<SimLayer> out;
    const auto net = network_preset("vgg16-conv");
    for (size_t i = 0; i < net.size(); ++i) out.push_back(synthetic_layer(net[i], vgg_spec(), 0, i == 0));
    return out;
  }();
  return layers;
}

void BM_SimDesign(benchmark::State& state, std::string id) {
  const auto& layers = vgg_layers();
  Params p;
  const std::unique_ptr<Design> d = find_design(id)->make(p);
  int64_t macs = 0;
  for (const SimLayer& l : layers) macs += l.macs;
  uint64_t cycles = 0;
  for (auto _ : state) {
    cycles = 0;
    for (const SimLayer& l : layers) cycles += d->simulate(l, SimContext{1}).cycles;
    benchmark::DoNotOptimize(cycles);
  }
  state.counters["simulated_MACs/s"] = benchmark::Counter(double(macs), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["cycles"] = double(cycles);
}

void BM_SimAllDesigns(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const DesignSet set = build_designs("all", "", "");
  const auto net = network_preset("vgg16-conv");
  for (auto _ : state) {
    SimRun run(set, SimContext{threads});
    simulate_synthetic(net, vgg_spec(), 1, run, threads);
    benchmark::DoNotOptimize(run.results().records.size());
  }
}

// What the cost model adds to a simulation, as a ratio measured in the same iteration: every
// design and its DaDianNao simulate the layers (what `simulate` does anyway), then the energy of
// every record and the memory timeline of every design and baseline are computed the way SimRun
// does (cost models built per run). Counter `cost_overhead` = cost time / simulation time
// (docs/energy-area.md; goal < 0.10).
void BM_SimCostOverhead(benchmark::State& state) {
  const auto& layers = vgg_layers();
  const DesignSet set = build_designs("all", "", "");
  const cost::Technology tech = cost::load_technology("");
  double sim_s = 0, cost_s = 0;
  using clock = std::chrono::steady_clock;
  for (auto _ : state) {
    const auto t0 = clock::now();
    std::vector<std::vector<LayerStats>> own(set.designs.size()), base(set.baselines.size());
    for (size_t b = 0; b < set.baselines.size(); ++b) {
      for (const SimLayer& l : layers) base[b].push_back(set.baselines[b]->simulate(l, SimContext{1}));
    }
    for (size_t d = 0; d < set.designs.size(); ++d) {
      for (const SimLayer& l : layers) own[d].push_back(set.designs[d].design->simulate(l, SimContext{1}));
    }
    const auto t1 = clock::now();
    double total = 0;
    for (size_t d = 0; d < set.designs.size(); ++d) {
      const cost::CostModel mine(set.designs[d].design->inventory(), tech);
      const cost::CostModel theirs(set.baselines[set.designs[d].baseline]->inventory(), tech);
      std::vector<cost::LayerTraffic> a, b;
      for (size_t i = 0; i < layers.size(); ++i) {
        const LayerStats& s = own[d][i];
        const LayerStats& bs = base[set.designs[d].baseline][i];
        total += mine.energy(s).total() + theirs.energy(bs).total();
        a.push_back({s.cycles, s.offchip_wgt_bytes, s.offchip_act_bytes, 0, 16});
        b.push_back({bs.cycles, bs.offchip_wgt_bytes, bs.offchip_act_bytes, 0, 16});
      }
      const cost::MemoryConfig m{32.0 * 1024 * 1024, 4.0 * 1024 * 1024, 52.2};
      for (const auto& r : cost::memory_timeline(a, m)) total += double(r.stall_cycles);
      for (const auto& r : cost::memory_timeline(b, m)) total += double(r.stall_cycles);
    }
    benchmark::DoNotOptimize(total);
    const auto t2 = clock::now();
    sim_s += std::chrono::duration<double>(t1 - t0).count();
    cost_s += std::chrono::duration<double>(t2 - t1).count();
  }
  state.counters["cost_overhead"] = sim_s > 0 ? cost_s / sim_s : 0.0;
}

const bool registered = [] {
  for (const DesignEntry& e : design_registry()) {
    benchmark::RegisterBenchmark(("SimVGG16Conv/" + e.id).c_str(), BM_SimDesign, e.id)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
  }
  benchmark::RegisterBenchmark("SimAllDesigns", BM_SimAllDesigns)
      ->Arg(2)
      ->ArgName("threads")
      ->Unit(benchmark::kMillisecond)
      ->Iterations(2);
  benchmark::RegisterBenchmark("SimCostOverhead", BM_SimCostOverhead)->Unit(benchmark::kMillisecond)->Iterations(1);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
