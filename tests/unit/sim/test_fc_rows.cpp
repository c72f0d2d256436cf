// FC layers over several rows per image (a transformer's MatMul over [batch, seq, C]) are
// simulated as 1x1 convolutions over the rows (sim/fc_rows.h): every row, not the first only, in
// the live capture and in traces, with cycles computed here by hand.
#include <filesystem>

#include "../onnx/model_builder.h"
#include "report/trace_writer.h"
#include "sim/fc_rows.h"
#include "sim/simulator.h"
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;
namespace fs = std::filesystem;

constexpr int64_t kRows = 3, kIn = 4, kOut = 2;

// y[1, 3, 2] = x[1, 3, 4] @ W[4, 2]
Graph row_matmul_model() {
  test::ModelBuilder b(13);
  b.input("x", {1, kRows, kIn}).output("y", {1, kRows, kOut});
  b.initializer("W", {kIn, kOut}, {1, -1, 2, 0, 0, 3, -2, 1});
  b.node("MatMul", {"x", "W"}, {"y"}, "fc");
  return b.load();
}

Tensor row_input() {
  // Unsigned integers below 8: exact in the 3-bit activation format below, and row 2 differs
  // from row 0 so that a simulation of the first row only would see other values.
  return Tensor::from<float>({1, kRows, kIn}, {1, 2, 3, 4, 0, 5, 0, 6, 7, 7, 1, 0});
}

// A 1-tile, 2-row, 2-lane grid (Stripes with 2 columns): small enough to count by hand.
const char* kConfig = R"(designs:
  - {design: dadiannao, tiles: 1, rows: 2, lanes: 2}
  - {design: stripes, tiles: 1, rows: 2, lanes: 2, columns: 2}
)";

std::map<std::string, LayerTransform> three_bit_activations() {
  LayerTransform t;
  t.activations.kind = OperandTransform::kFixedPoint;
  t.activations.fixed = FixedPointFormat{3, 0, false};
  return {{"fc", t}};
}

TEST(FcRows, GeometryIsTheOneByOneConvolutionOverTheRows) {
  LayerGeometry g = fc_geo(kIn, kOut);
  g.macs = kRows * kIn * kOut;
  EXPECT_EQ(fc_rows(g), kRows);
  const LayerGeometry c = simulated_geometry(g);
  EXPECT_EQ(c.kind, "conv");
  EXPECT_EQ(c.Nx, kRows);
  EXPECT_EQ(c.Ox, kRows);
  EXPECT_EQ(c.Ny * c.Oy * c.Kx * c.Ky, 1);
  EXPECT_EQ(c.macs, g.macs);
  EXPECT_EQ(simulated_geometry(fc_geo(kIn, kOut)).kind, "fc");  // one row: an FC layer as in seed 001
  g.macs = kIn * kOut + 1;
  EXPECT_EQ(fc_rows(g), 0);  // not whole rows: refused by the simulator
}

TEST(FcRows, LiveCaptureSimulatesEveryRowAndTracesAgree) {
  const DesignSet set = build_designs("", kConfig, "test.yaml");
  Executor ex(row_matmul_model());
  SimRun live(set, SimContext{1, true});
  {
    CaptureSimulator cap(live, three_bit_activations(), ex.graph(), true, true);
    ex.set_observer(&cap);
    ex.run({row_input()});
    ex.set_observer(nullptr);
  }
  const SimResults r = live.results();
  ASSERT_EQ(r.records.size(), 2u);
  // DaDianNao, 1 column: 3 windows (rows) x 1 filter set (2 filters on 2 rows) x 2 steps (4
  // channels on 2 lanes) = 6 cycles; the first row alone would be an FC layer of 2 cycles.
  // Stripes, 2 columns: ceil(3 / 2) = 2 window sets x 1 x 2 steps x 3 bits = 12 cycles.
  EXPECT_EQ(r.records[0].stats.cycles, 6u);
  EXPECT_EQ(r.records[0].baseline_cycles, 6u);
  EXPECT_EQ(r.records[1].stats.cycles, 12u);
  EXPECT_EQ(r.records[1].baseline_cycles, 6u);
  for (const LayerRecord& rec : r.records) {
    EXPECT_EQ(rec.kind, LayerKind::kFC);  // reported with the model's FC layers
    EXPECT_EQ(rec.stats.macs, static_cast<uint64_t>(kRows * kIn * kOut));
    EXPECT_EQ(rec.check, 0) << r.designs[rec.design] << ": every row's outputs recomputed";
  }

  // The same layer through `trace` and `simulate --traces`: the same cycles.
  const fs::path dir = fs::temp_directory_path() / ("eff_fc_rows_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  TraceRecorder rec(&ex.graph());
  ex.set_observer(&rec);
  ex.run({row_input()});
  ex.set_observer(nullptr);
  TraceWriteOptions out;
  out.dir = dir.string();
  write_trace(out, model_geometry(ex, Shape{1, kRows, kIn}), ex.layers(), three_bit_activations(), rec);
  SimRun traced(set, SimContext{1});
  EXPECT_EQ(simulate_trace_dir(dir.string(), traced, TraceOptions{}), 1);
  const SimResults t = traced.results();
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[0].stats.cycles, 6u);
  EXPECT_EQ(t.records[1].stats.cycles, 12u);
  EXPECT_EQ(t.records[1].kind, LayerKind::kFC);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace eff::sim
