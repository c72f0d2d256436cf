// A test-only "recorder" design (ChampSim test/cpp/modules style): it captures exactly what the
// shared machinery feeds a design, so driver and source bugs cannot hide behind design bugs.
#include <mutex>

#include "sim/simulator.h"
#include "sim_test_util.h"

namespace eff::sim {
namespace {

using namespace testing;

struct Seen {
  int image, index;
  std::string name;
  LayerKind kind;
  ChannelMapping mapping;
  int64_t X, Y, C_total, C, K, Kx, OX, OY, groups;
  bool s2d, first;
  size_t acts, wgts;
};

class Recorder final : public Design {
 public:
  Grid grid() const override { return Grid{}; }
  cost::Inventory inventory() const override { return cost::bit_parallel_inventory(Grid{}); }
  LayerStats simulate(const SimLayer& l, const SimContext&) const override {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back({l.image, l.index, l.name, l.kind, l.mapping, l.X, l.Y, l.C_total, l.C, l.K, l.Kx, l.OX, l.OY,
                    l.groups, l.space_to_depth, l.first_layer, l.acts.size(), l.wgts.size()});
    LayerStats s;
    s.cycles = 1;
    s.macs = l.macs;
    return s;
  }
  bool needs_weights() const override { return false; }
  mutable std::mutex mu;
  mutable std::vector<Seen> seen;
};

TEST(SimRecorder, SyntheticSourceFeedsEveryLayerOfEveryImageOnce) {
  DesignSet set;
  auto rec = std::make_unique<Recorder>();
  Recorder* r = rec.get();
  set.designs.push_back({"recorder", "recorder", std::move(rec), 0});
  set.baselines.push_back(make("dadiannao"));
  set.baseline_grids.push_back(Grid{});
  const std::vector<LayerGeometry> net = {conv_geo(3, 16, 16, 8, 3, 2, 1, 1, 0), conv_geo(8, 8, 8, 8, 3, 1, 1, 8, 1),
                                          fc_geo(8 * 64, 10, 2)};
  SimRun run(set, SimContext{2});
  simulate_synthetic(net, SyntheticSpec{}, 2, run, 2);
  ASSERT_EQ(r->seen.size(), 6u);
  std::sort(r->seen.begin(), r->seen.end(),
            [](const Seen& a, const Seen& b) { return std::tie(a.image, a.index) < std::tie(b.image, b.index); });
  for (int img = 0; img < 2; ++img) {
    const Seen* s = &r->seen[img * 3];
    // First layer: 3 channels, stride 2 -> folded to 12 channels of 9x9 (18 padded / 2), kernel 2,
    // outputs 8x8 kept from the model.
    EXPECT_EQ(s[0].image, img);
    EXPECT_TRUE(s[0].first);
    EXPECT_TRUE(s[0].s2d);
    EXPECT_EQ(s[0].C_total, 12);
    EXPECT_EQ(s[0].X, 9);
    EXPECT_EQ(s[0].Kx, 2);
    EXPECT_EQ(s[0].OX, 8);
    EXPECT_EQ(s[0].acts, 9u * 9 * 12);
    // Depthwise: 8 groups of one channel and one filter; padded 10x10 input.
    EXPECT_EQ(s[1].mapping, ChannelMapping::kDepthwise);
    EXPECT_EQ(s[1].groups, 8);
    EXPECT_EQ(s[1].C, 1);
    EXPECT_EQ(s[1].X, 10);
    EXPECT_FALSE(s[1].first);
    // FC: a 1x1 image of 512 channels, 10 filters.
    EXPECT_EQ(s[2].kind, LayerKind::kFC);
    EXPECT_EQ(s[2].C_total, 512);
    EXPECT_EQ(s[2].K, 10);
    EXPECT_EQ(s[2].OX * s[2].OY, 1);
    EXPECT_EQ(s[2].wgts, 5120u);  // zero codes (not drawn: the recorder does not need weights)
  }
  // Totals count both images.
  const SimResults res = run.results();
  EXPECT_EQ(res.images, 2);
  EXPECT_EQ(res.all[0].stats.cycles, 6u);
}

}  // namespace
}  // namespace eff::sim
