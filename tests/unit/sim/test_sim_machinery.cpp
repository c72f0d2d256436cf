// The shared machinery: step walk shape, FC rotation, run-ahead, configuration errors, the
// registry list, trace reading errors, quantization, synthetic values, and order/thread
// invariance of whole runs. Design-specific cycle cases live in test_<design>.cpp.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "data/npy.h"
#include "sim/code_sums.h"
#include "sim/simulator.h"
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;
namespace fs = std::filesystem;

TEST(SimWalk, PartialTilesAndLaneRemaindersRoundUp) {
  // 37 windows on 16 columns -> 3 window sets; 300 filters on 2x4 -> 38 filter sets;
  // 20 channels on 8 lanes -> 3 chunks; 3x3 kernel -> 27 steps.
  const auto g = conv_geo(20, 39, 3, 300, 3, 1, 0);  // Ox = 1, Oy = 37
  const SimLayer l = layer_from(g, filled(20 * 39 * 3, 1));
  const WalkShape ws = walk_shape(l, Grid{2, 4, 8, 16});
  EXPECT_EQ(ws.window_sets, 3);
  EXPECT_EQ(ws.filter_sets, 38);
  EXPECT_EQ(ws.chunks, 3);
  EXPECT_EQ(ws.steps, 27);
  // The last chunk of a step has 20 - 16 = 4 real lanes.
  EXPECT_EQ(step_brick(l, Grid{2, 4, 8, 16}, ws, 0, 0, 0, 0, 2).count, 4);
}

TEST(SimWalk, FcRotationDispatchesOneStepPerCycle) {
  // Costs 5, 5, 5 on 2 columns: column 0 runs [0, 5), column 1 [1, 6), step 2 waits for
  // column 0 until 5 and ends at 10.
  EXPECT_EQ(fc_rotation_cycles({5, 5, 5}, 2), 10u);
  // Costs of 1 on one column: one per cycle.
  EXPECT_EQ(fc_rotation_cycles({1, 1, 1, 1}, 1), 4u);
  // Cheap steps on many columns: bounded by dispatch, plus the last step's cost.
  EXPECT_EQ(fc_rotation_cycles({2, 2, 2, 2}, 16), 5u);
}

TEST(SimWalk, RunAheadIsBoundedByRegisters) {
  // Two groups, three steps: (4, 1), (1, 4), (4, 1). No registers: 4 + 4 + 4 = 12.
  const uint32_t costs[] = {4, 1, 1, 4, 4, 1};
  EXPECT_EQ(run_ahead_cycles(costs, 3, 2, 0), 12u);
  // One register: step s starts when every group finished step s-2.
  // s0: f = (4, 1); s1 (no gate): f = (5, 5); s2 gated by max f(s0) = 4: f = (5+4, 5+1) = (9, 6).
  EXPECT_EQ(run_ahead_cycles(costs, 3, 2, 1), 9u);
  // Many registers: each group alone: 4+1+4 = 9 and 1+4+1 = 6 -> 9.
  EXPECT_EQ(run_ahead_cycles(costs, 3, 2, 8), 9u);
}

TEST(SimConfig, UnknownKeyIsNamedWithFileAndPath) {
  const std::string yaml = "designs:\n  - design: stripes\n    lanez: 8\n";
  try {
    build_designs("", yaml, "my.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "my.yaml: designs[0].lanez: unknown key");
  }
  EXPECT_THROW(build_designs("", "designz: []\n", "my.yaml"), ConfigError);
  EXPECT_THROW(build_designs("", "designs:\n  - design: nosuch\n", "my.yaml"), ConfigError);
}

TEST(SimConfig, NegativeAndNonNumericValuesAreRejected) {
  try {
    build_designs("", "designs:\n  - design: dadiannao\n    tiles: -1\n", "c.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "c.yaml: designs[0].tiles: -1 is outside [1, 1024]");
  }
  EXPECT_THROW(build_designs("", "designs:\n  - design: stripes\n    columns: many\n", "c.yaml"), ConfigError);
  EXPECT_THROW(build_designs("", "designs:\n  - design: stripes\n    columns: [1, 2]\n", "c.yaml"), ConfigError);
  EXPECT_THROW(build_designs("", "designs: [\n", "c.yaml"), ConfigError);
}

TEST(SimConfig, EachDesignIsComparedWithTheDaDianNaoOfItsGrid) {
  // A 1-8-16 Stripes gets a 1-8-16 DaDianNao; default designs share the 16-16-16 one.
  const DesignSet set = build_designs(
      "stripes,dstripes", "designs:\n  - design: stripes\n    name: small\n    tiles: 1\n    rows: 8\n", "c.yaml");
  ASSERT_EQ(set.designs.size(), 2u);
  ASSERT_EQ(set.baselines.size(), 2u);
  EXPECT_EQ(set.baseline_grids[set.designs[0].baseline], (Grid{1, 8, 16, 1}));
  EXPECT_EQ(set.baseline_grids[set.designs[1].baseline], (Grid{16, 16, 16, 1}));
  EXPECT_EQ(set.designs[0].label, "small");
}

TEST(SimConfig, DescribeListsDeclaredParametersWithSources) {
  const auto params = describe_design("dstripes");
  std::vector<std::string> keys;
  for (const auto& p : params) {
    keys.push_back(p.key);
    EXPECT_FALSE(p.description.empty()) << p.key;
    EXPECT_FALSE(p.source.empty()) << p.key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"tiles", "rows", "lanes", "columns", "am_kib", "wm_kib_per_tile",
                                            "group_size", "column_registers", "trim_trailing"}));
}

TEST(SimRegistry, EveryDesignFileIsListed) {
  const fs::path dir = fs::path(EFF_SOURCE_DIR) / "src" / "sim" / "designs";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".cpp" || entry.path().stem() == "registry") continue;
    EXPECT_NE(find_design(entry.path().stem().string()), nullptr)
        << entry.path().filename() << " is not listed in src/sim/designs/registry.cpp";
  }
}

TEST(SimQuantize, DerivedFormatKeepsTheLargestMagnitude) {
  // max |x| = 5.3 -> 2^3 = 8 > 5.3 needs 4 integer bits (sign included), 12 fraction bits.
  const float v[] = {0.0f, -5.3f, 2.0f};
  const FixedPointFormat f = derive_format(v, 3);
  EXPECT_EQ(f.int_bits, 4);
  EXPECT_EQ(f.frac_bits, 12);
  // A profiled format is used as given; the layer precision is its total bits.
  LayerTransform t;
  t.activations.kind = OperandTransform::kFixedPoint;
  t.activations.fixed = {3, 5};
  const auto g = conv_geo(2, 1, 1, 1, 1);
  const float acts[] = {1.5f, 0.25f};  // codes 48 and 8 at 5 fraction bits
  const float wgts[] = {1.0f, 1.0f};
  SimLayerOptions o;
  o.transform = &t;
  const SimLayer l = make_sim_layer(g, acts, wgts, o);
  EXPECT_EQ(l.act_bits, 8);
  EXPECT_EQ(l.acts, (std::vector<int16_t>{48, 8}));
  // Without a profile: 16-bit codes, precision = bits the codes need: 1.5 -> I = 2, F = 14 ->
  // 1.5 * 2^14 = 24576 = 0b110000000000000 -> 15 bits (unsigned tensor).
  o.transform = nullptr;
  EXPECT_EQ(make_sim_layer(g, acts, wgts, o).act_bits, 15);
}

TEST(SimQuantize, NearZeroThresholdsPruneTheValuesEveryDesignSees) {
  // |x| < 0.3 becomes 0 before quantization (the engine's prune hook), whatever the design:
  // 0.25 and -0.29 are zeros, -0.3 and 1.5 stay. At 3.5 fixed point: codes 0, 0, -10 (-0.3 * 32
  // = -9.6 -> -10), 48.
  LayerTransform t;
  t.activations.kind = OperandTransform::kFixedPoint;
  t.activations.fixed = {3, 5};
  t.prune_threshold = 0.3f;
  const auto g = conv_geo(4, 1, 1, 1, 1);
  const float acts[] = {0.25f, -0.29f, -0.3f, 1.5f};
  const float wgts[] = {1.0f, 1.0f, 1.0f, 1.0f};
  SimLayerOptions o;
  o.transform = &t;
  const SimLayer pruned = make_sim_layer(g, acts, wgts, o);
  EXPECT_EQ(pruned.acts, (std::vector<int16_t>{0, 0, -10, 48}));
  // Integer codes (traces of codes, tests): the same rule on the code values.
  const SimLayer codes = layer_from(g, {1, -2, 3, 0}, {}, 8, false, true, &t);
  EXPECT_EQ(codes.acts, (std::vector<int16_t>{1, -2, 3, 0}));  // 0.3 prunes nothing of magnitude >= 1
  t.prune_threshold = 2.5f;
  EXPECT_EQ(layer_from(g, {1, -2, 3, 0}, {}, 8, false, true, &t).acts, (std::vector<int16_t>{0, 0, 3, 0}));
  // Bit-Pragmatic without a first-stage shifter takes one cycle per distinct term position of the
  // brick: 1, -2, 12 -> positions 0, 1, 2, 3 = 4 cycles; pruned to 12 alone -> 2, 3 = 2 cycles.
  const auto grid = std::map<std::string, std::string>{
      {"tiles", "1"}, {"rows", "1"}, {"lanes", "4"}, {"columns", "1"}, {"first_stage_bits", "0"}};
  EXPECT_EQ(cycles(*make("pragmatic", grid), layer_from(g, {1, -2, 12, 0}, {}, 8)), 4u);
  EXPECT_EQ(cycles(*make("pragmatic", grid), layer_from(g, {1, -2, 12, 0}, {}, 8, false, true, &t)), 2u);
}

TEST(SimSynthetic, SameSeedSameValuesAndTheStatedZeroFraction) {
  SyntheticSpec s;
  s.zero_fraction = 0.25;
  s.act_bits = 9;
  const auto g = conv_geo(64, 20, 20, 8, 3, 1, 1);
  const SimLayer a = synthetic_layer(g, s, 3, false), b = synthetic_layer(g, s, 3, false);
  EXPECT_EQ(a.acts, b.acts);
  EXPECT_NE(a.acts, synthetic_layer(g, s, 4, false).acts);
  int64_t zeros = 0, real = 64 * 400;
  int16_t mx = 0;
  for (int16_t v : a.acts) {
    mx = std::max(mx, v);
    zeros += v == 0;
  }
  zeros -= a.acts.size() - real;  // padding
  EXPECT_NEAR(double(zeros) / real, 0.25, 0.02);
  // Activations are unsigned since formats carry their sign (docs/value-hooks.md): 9 magnitude
  // bits, codes up to 2^9 - 1 = 511 (was 255 when P counted a sign bit the values never used).
  EXPECT_LE(mx, 511);
  s.zero_fraction = 1.5;
  EXPECT_THROW(validate_synthetic(s), UsageError);
}

TEST(SimNetwork, YamlLayersAndUnknownKeys) {
  const auto net = network_from_yaml(
      "layers:\n  - {name: c1, type: conv, channels: 3, height: 32, filters: 8, kernel: 3, pad: 1}\n"
      "  - {type: fc, inputs: 100, outputs: 10}\n",
      "n.yaml");
  ASSERT_EQ(net.size(), 2u);
  EXPECT_EQ(net[0].Ox, 32);
  EXPECT_EQ(net[0].macs, 32 * 32 * 8 * 27);
  EXPECT_EQ(net[1].macs, 1000);
  EXPECT_THROW(network_from_yaml("layers:\n  - {type: conv, channels: 3, height: 8, filters: 2, knl: 3}\n", "n.yaml"),
               ConfigError);
  EXPECT_EQ(network_preset("vgg16").size(), 16u);
  int64_t macs = 0;
  for (const auto& g : network_preset("vgg16-conv")) macs += g.macs;
  EXPECT_EQ(macs, 15346630656);  // the 15.3 G MACs the spec's peer figures are for
}

// Results of a whole run do not depend on the order images and layers arrive in or on threads.
TEST(SimRun, ResultsIndependentOfOrderAndThreads) {
  const DesignSet set = build_designs("all", "", "");
  std::vector<LayerGeometry> net = {conv_geo(3, 12, 12, 16, 3, 2, 1, 1, 0), conv_geo(16, 6, 6, 40, 3, 1, 1, 1, 1),
                                    conv_geo(40, 6, 6, 40, 3, 1, 1, 40, 2), fc_geo(40 * 36, 50, 3)};
  SyntheticSpec spec;
  spec.act_bits = 11;
  auto run_with = [&](bool reverse, int threads) {
    SimRun run(set, SimContext{threads});
    std::vector<std::pair<int, size_t>> jobs;
    for (int img = 0; img < 2; ++img) {
      for (size_t i = 0; i < net.size(); ++i) jobs.push_back({img, i});
    }
    if (reverse) std::reverse(jobs.begin(), jobs.end());
    for (auto [img, i] : jobs) run.simulate(synthetic_layer(net[i], spec, img, i == 0));
    return to_json(run.results()).dump();
  };
  const std::string forward = run_with(false, 1);
  EXPECT_EQ(forward, run_with(true, 1));
  EXPECT_EQ(forward, run_with(true, 2));
  SimRun parallel(set, SimContext{2});
  simulate_synthetic(net, spec, 2, parallel, 2);
  EXPECT_EQ(forward, to_json(parallel.results()).dump());
}

TEST(SimCheck, ScheduledRecomputationMatchesAndAWrongReferenceIsCaught) {
  // The engine's output is the direct convolution scaled by the code steps (integer codes: 1)
  // plus bias, after ReLU. Every design that recomputes must match it; one wrong output must not.
  const auto g = conv_geo(20, 5, 6, 19, 3, 1, 1);
  const auto a = pseudo_random(20 * 30, 0, 9, 5);  // post-ReLU: non-negative
  const auto w = pseudo_random(weight_count(g), -4, 4, 6);
  SimLayer l = layer_from(g, a, w, 16);
  const auto ref = direct_conv(g, a, w);
  l.reference_bias = std::vector<float>(19, -3.0f);
  l.reference_relu = true;
  for (int64_t v : ref) l.reference_output.push_back(std::max(0.0f, float(v) - 3.0f));
  int checked = 0;
  for (const DesignEntry& e : design_registry()) {
    auto d = make(e.id);
    double err = 1;
    const int status = check_layer_values(*d, l, err);
    if (status < 0) continue;
    ++checked;
    EXPECT_EQ(status, 0) << e.id << " relative error " << err;
  }
  EXPECT_GE(checked, 3);  // dadiannao, cnvlutin, stripes at least
  l.reference_output[7] += 50.0f;
  double err = 0;
  EXPECT_EQ(check_layer_values(*make("dadiannao"), l, err), 1);
}

TEST(SimCheck, QuantizedLayersCompareExactIntegerSums) {
  // Quantized layers: the reference is the exact sum of code products (code_sums), equal to the
  // direct convolution; every design that recomputes matches it exactly, also on a depthwise
  // layer and on a first layer folded by space-to-depth, and a reference off by one is caught
  // (the float check's 1e-3 relative tolerance would let it pass).
  struct Case {
    LayerGeometry g;
    bool first;
  };
  for (const Case& c : {Case{conv_geo(12, 6, 7, 10, 3, 1, 1), false}, Case{conv_geo(8, 6, 6, 8, 3, 2, 1, 8), false},
                        Case{conv_geo(3, 8, 8, 6, 3, 2, 1), true}}) {
    const auto a = pseudo_random(c.g.Ni * c.g.Ny * c.g.Nx, -200, 200, 11);
    const auto w = pseudo_random(weight_count(c.g), -127, 127, 12);
    const std::vector<int64_t> sums = code_sums(c.g, a.data(), w, false);
    ASSERT_EQ(sums, direct_conv(c.g, a, w));
    SimLayerOptions o;
    o.first_layer = c.first;
    SimLayer l = make_sim_layer_from_codes(c.g, a, w, 9, 8, o);
    EXPECT_EQ(l.space_to_depth, c.first);
    l.reference_sums = sums;
    int checked = 0;
    for (const DesignEntry& e : design_registry()) {
      double err = 1;
      const int status = check_layer_values(*make(e.id), l, err);
      if (status < 0) continue;
      ++checked;
      EXPECT_EQ(status, 0) << e.id << " relative error " << err;
    }
    EXPECT_GE(checked, 3);
    l.reference_sums[5] += 1;
    double err = 0;
    EXPECT_EQ(check_layer_values(*make("stripes"), l, err), 1);
    EXPECT_GT(err, 0);
  }
}

class SimTrace : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eff_sim_trace_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "layers" / "000_c");
    const auto g = conv_geo(2, 3, 3, 2, 3, 1, 1, 1, 0);
    manifest_ = {{"format", "effectual-trace"}, {"version", 1}};
    nlohmann::json layer;
    to_json(layer, g);
    layer["input"] = {{"file", "layers/000_c/input.npy"}};
    layer["weights"] = {{"file", "layers/000_c/weights.npy"}};
    manifest_["layers"] = {layer};
    std::vector<float> acts(2 * 2 * 9), wgts(2 * 2 * 9, 0.5f);
    for (size_t i = 0; i < acts.size(); ++i) acts[i] = float(i % 5);
    write_npy((dir_ / "layers/000_c/input.npy").string(), Tensor::from<float>({2, 2, 3, 3}, acts));
    write_npy((dir_ / "layers/000_c/weights.npy").string(), Tensor::from<float>({2, 2, 3, 3}, wgts));
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write_manifest() { write_file_atomic((dir_ / "manifest.json").string(), manifest_.dump()); }
  std::string error() {
    const DesignSet set = build_designs("dadiannao", "", "");
    SimRun run(set, SimContext{1});
    try {
      simulate_trace_dir(dir_.string(), run, TraceOptions{});
    } catch (const TraceError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
  nlohmann::json manifest_;
};

TEST_F(SimTrace, ReadsEveryImageOfAGoodTrace) {
  write_manifest();
  const DesignSet set = build_designs("dadiannao", "", "");
  SimRun run(set, SimContext{1});
  EXPECT_EQ(simulate_trace_dir(dir_.string(), run, TraceOptions{}), 2);
  // 3x3 windows, 1 chunk, 9 steps, 1 filter set = 81 cycles per image.
  const SimResults r = run.results();
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].stats.cycles, 81u);
}

TEST_F(SimTrace, MissingManifestFieldIsNamed) {
  manifest_["layers"][0].erase("Nx");
  write_manifest();
  EXPECT_NE(error().find("manifest.json: layers[0].Nx: missing or not an integer"), std::string::npos) << error();
}

TEST_F(SimTrace, TruncatedNpyIsATraceError) {
  write_manifest();
  const std::string path = (dir_ / "layers/000_c/input.npy").string();
  const std::string bytes = read_file(path, 1 << 20);
  write_file_atomic(path, bytes.substr(0, bytes.size() - 7));
  EXPECT_NE(error().find("input.npy"), std::string::npos) << error();
}

TEST_F(SimTrace, ShapeThatDisagreesWithTheGeometryIsNamed) {
  manifest_["layers"][0]["Ni"] = 3;
  write_manifest();
  EXPECT_NE(error().find("layers[0]: input shape [2, 2, 3, 3] does not match"), std::string::npos) << error();
}

TEST_F(SimTrace, IncompleteTraceWithoutManifest) {
  EXPECT_NE(error().find("manifest.json: missing"), std::string::npos) << error();
}

}  // namespace
}  // namespace eff::sim

namespace eff::sim {
namespace {

using namespace testing;

TEST(SimLimits, HugeGeometryIsRefusedBeforeAllocating) {
  // 2^20 x 2^20 x 2^10 int16 codes would be 2 PB: a ShapeError, not an allocation attempt.
  LayerGeometry g = conv_geo(1024, 1 << 20, 1 << 20, 1, 1);
  EXPECT_THROW(synthetic_layer(g, SyntheticSpec{}, 0, false), ShapeError);
  const float one = 1.0f;
  EXPECT_THROW(make_sim_layer(g, &one, &one, SimLayerOptions{}), ShapeError);
}

}  // namespace
}  // namespace eff::sim
