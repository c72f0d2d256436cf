// Channel gating in the engine (src/gating) against the ungated conv, one thread each: the shipped
// vgg model's features.10 layer (64 -> 64 channels, 3x3, 14x14 outputs, batch 32) as a plain Conv
// node (oneDNN) and as a GatedConv with a base path of 1/4 of the channels, at thresholds that gate
// off a given fraction of the outputs. Two gate patterns: "random" (i.i.d. inputs: gated-off outputs
// scattered, the worst case for the kernel, which skips a filter's conditional path per block of
// 16 pixels only when all 16 are off) and "regions" (inputs zero in rows of the image, as the
// seed's unimportant regions: gated-off outputs come in runs). Counters: images/s and the measured
// skipped fraction; the break-even skipped fraction is where BM_Gated's rate reaches BM_Conv's.
// "shuffle": the seed's grouped base path (4 groups of 16 channels, strided) at random gates.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/executor.h"
#include "gating/gated_conv.h"

namespace {

using namespace eff;

constexpr int64_t kBatch = 32, kC = 64, kM = 64, kH = 14, kW = 14, kBase = 16;

std::vector<float> weights(int64_t channels = kC) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, 0.06f);
  std::vector<float> w(static_cast<size_t>(kM * channels * 9));
  for (float& x : w) x = d(rng);
  return w;
}

// Post-ReLU-like inputs; "regions": the first `zero_rows` rows of every image zero (the base path
// there is the bias alone, so those outputs gate off together).
Tensor input(bool regions, int64_t zero_rows, int64_t channels = kC) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> d(0.f, 1.f);
  Tensor t(DType::kFloat32, {kBatch, channels, kH, kW});
  float* v = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int64_t row = (i / kW) % kH;
    v[i] = regions && row < zero_rows ? 0.f : d(rng);
  }
  return t;
}

// grouping "first": the first kBase channels for every filter; "shuffle": 4 groups (kC / kBase),
// filter block k reading channels c mod 4 = k (seed 003's grouped base path, the same MACs).
Graph layer(bool gated, float threshold, int64_t channels = kC, const char* grouping = "first") {
  Graph g;
  g.source = "bench";
  const ValueId x = g.add_value("x");
  g.value(x).has_type = true;
  const ValueId w = g.add_value("w");
  g.value(w).hold_constant(Tensor::from<float>({kM, channels, 3, 3}, weights(channels)));
  const ValueId b = g.add_value("b");
  g.value(b).hold_constant(Tensor::from<float>({kM}, std::vector<float>(kM, -0.2f)));
  const ValueId y = g.add_value("y");
  Node n;
  n.op = gated ? gating::kGatedConvOp : "Conv";
  n.name = "conv";
  n.inputs = {x, w, b};
  n.outputs = {y};
  auto ints = [&](const char* key, std::vector<int64_t> v) {
    n.attrs[key].kind = Attribute::Kind::kInts;
    n.attrs[key].ints = std::move(v);
  };
  ints("kernel_shape", {3, 3});
  ints("pads", {1, 1, 1, 1});
  ints("strides", {1, 1});
  ints("dilations", {1, 1});
  if (gated) {
    n.attrs["mode"].kind = Attribute::Kind::kString;
    n.attrs["mode"].s = "channel";
    n.attrs["threshold"].kind = Attribute::Kind::kFloat;
    n.attrs["threshold"].f = threshold;
    n.attrs["base_channels"].i = kBase;
    n.attrs["grouping"].kind = Attribute::Kind::kString;
    n.attrs["grouping"].s = grouping;
    n.attrs["gate_groups"].i = kC / kBase;
    const ValueId c = g.add_value("on");
    n.outputs.push_back(c);
    g.outputs = {y, c};
  } else {
    g.outputs = {y};
  }
  g.nodes.push_back(n);
  g.inputs = {x};
  return g;
}

// The threshold that gates off `fraction` of the outputs: that quantile of the base results (the
// gated layer with every gate off outputs them).
float threshold_for(const Tensor& x, double fraction, const char* grouping) {
  if (fraction <= 0) return -std::numeric_limits<float>::infinity();
  ExecutorOptions o;
  o.threads = 1;
  Executor ex(layer(true, std::numeric_limits<float>::infinity(), kC, grouping), o);
  const Tensor base = ex.run({x})[0];
  std::vector<float> v(base.data<float>(), base.data<float>() + base.numel());
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(fraction * double(v.size())))];
}

// state.range(0): input channels (kC: the ungated layer; kBase: its base path alone, the part
// of the gated layer's cost that does not depend on the gates).
void BM_Conv(benchmark::State& state) {
  omp_set_num_threads(1);
  const Tensor x = input(false, 0, state.range(0));
  ExecutorOptions o;
  o.threads = 1;
  Executor ex(layer(false, 0, state.range(0)), o);
  for (auto _ : state) benchmark::DoNotOptimize(ex.run({x}));
  state.counters["images/s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gated(benchmark::State& state, bool regions, const char* grouping) {
  omp_set_num_threads(1);
  const double fraction = double(state.range(0)) / 100.0;
  // Regions: that fraction of the rows zero, the rest gated by threshold as needed.
  const Tensor x = input(regions, regions ? static_cast<int64_t>(fraction * kH) : 0);
  const float t = threshold_for(x, fraction, grouping);
  ExecutorOptions o;
  o.threads = 1;
  Executor ex(layer(true, t, kC, grouping), o);
  int64_t on = 0;
  for (auto _ : state) {
    const std::vector<Tensor> out = ex.run({x});
    on = 0;
    for (int64_t i = 0; i < kBatch; ++i) on += out[1].data<int64_t>()[i];
  }
  state.counters["images/s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["skipped"] = 1.0 - double(on) / double(kBatch * kM * kH * kW);
}

}  // namespace

BENCHMARK(BM_Conv)->Name("GateConv/ungated")->Arg(kC)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv)->Name("GateConv/base_only")->Arg(kBase)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gated, random, false, "first")
    ->Name("GateConv/gated_random")
    ->Arg(0)
    ->Arg(50)
    ->Arg(75)
    ->Arg(90)
    ->Arg(95)
    ->Arg(99)
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gated, regions, true, "first")
    ->Name("GateConv/gated_regions")
    ->Arg(0)
    ->Arg(25)
    ->Arg(50)
    ->Arg(75)
    ->Arg(90)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gated, shuffle, false, "shuffle")
    ->Name("GateConv/gated_shuffle")
    ->Arg(0)
    ->Arg(75)
    ->Arg(90)
    ->Arg(95)
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);
