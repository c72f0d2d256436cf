// Grouped channel gating (seed 003, "channel gating composes with grouping"): a hand-built layer
// whose partial sums are worked out below gives the known decisions and outputs for the shuffled
// and the contiguous grouping; -inf reproduces the ungated conv bit for bit; the gates file's
// `grouping`/`groups` fields load, round-trip and are refused with the field named when wrong.
#include <gtest/gtest.h>

#include <limits>

#include "core/error.h"
#include "engine/executor.h"
#include "gating/gated_conv.h"
#include "gating/gates.h"

namespace eff::gating {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// A 1x1 GatedConv over a 1 x 4 x 1 x 2 input, 4 filters, G = 2 gate groups (filters 0-1: block 0,
// filters 2-3: block 1):
//   f0 = [1, 2, 3, 4], f1 = [1, 0, -1, 0], f2 = [0, 1, 1, 1], f3 = [2, -1, 0, 1]; bias [0, 0, 1, 0]
//   pixel 0: x = [1, 1, 1, 1]; pixel 1: x = [2, 0, 1, 3]
//   full sums (bias included):      f0 (10, 17)  f1 (0, 1)  f2 (4, 5)  f3 (2, 7)
//   shuffle: block 0 reads {0, 2}, block 1 reads {1, 3}:
//     base sums                     f0 (4, 5)    f1 (0, 1)  f2 (3, 4)  f3 (0, 3)
//   contiguous: block 0 reads {0, 1}, block 1 reads {2, 3}:
//     base sums                     f0 (3, 2)    f1 (1, 2)  f2 (3, 5)  f3 (1, 3)
struct GroupedLayer {
  Graph g;
  GroupedLayer(Grouping grouping, float threshold, const char* op = kGatedConvOp) {
    g.source = "grouped";
    const ValueId x = g.add_value("x");
    g.value(x).has_type = true;
    const ValueId w = g.add_value("w");
    g.value(w).hold_constant(Tensor::from<float>({4, 4, 1, 1}, {1, 2, 3, 4, 1, 0, -1, 0, 0, 1, 1, 1, 2, -1, 0, 1}));
    const ValueId b = g.add_value("b");
    g.value(b).hold_constant(Tensor::from<float>({4}, {0, 0, 1, 0}));
    const ValueId y = g.add_value("y");
    Node n;
    n.op = op;
    n.name = "conv";
    n.inputs = {x, w, b};
    n.outputs = {y};
    n.attrs["kernel_shape"].kind = Attribute::Kind::kInts;
    n.attrs["kernel_shape"].ints = {1, 1};
    if (n.op == kGatedConvOp) {
      n.attrs["mode"].kind = Attribute::Kind::kString;
      n.attrs["mode"].s = "channel";
      n.attrs["grouping"].kind = Attribute::Kind::kString;
      n.attrs["grouping"].s = grouping_name(grouping);
      n.attrs["gate_groups"].i = 2;
      n.attrs["base_channels"].i = 2;
      n.attrs["threshold"].kind = Attribute::Kind::kFloat;
      n.attrs["threshold"].f = threshold;
      n.outputs.push_back(g.add_value("on"));
    }
    g.nodes.push_back(n);
    g.inputs = {x};
    g.outputs = n.outputs;
  }

  std::vector<float> run(int64_t* on = nullptr) const {
    ExecutorOptions o;
    o.threads = 1;
    Executor ex(g, o);
    const Tensor x = Tensor::from<float>({1, 4, 1, 2}, {1, 2, 1, 0, 1, 1, 1, 3});  // x[c][pixel]
    const std::vector<Tensor> out = ex.run({x});
    if (on) *on = out.at(1).data<int64_t>()[0];
    return std::vector<float>(out[0].data<float>(), out[0].data<float>() + out[0].numel());
  }
};

void expect_outputs(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << "output " << i << " [filter][pixel]";
}

}  // namespace

TEST(GroupedGating, BaseSetsAreTheSeedsGroups) {
  // 8 channels, 4 filters per group, G = 4: filter block i / 1 reads set k.
  for (int64_t c = 0; c < 8; ++c) {
    EXPECT_EQ(on_base_path(Grouping::kShuffle, 4, 2, 8, 4, c, 1), c % 4 == 1) << c;
    EXPECT_EQ(on_base_path(Grouping::kContiguous, 4, 2, 8, 4, c, 1), c == 2 || c == 3) << c;
    EXPECT_EQ(on_base_path(Grouping::kFirst, 1, 2, 8, 4, c, 3), c < 2) << c;
  }
}

TEST(GroupedGating, ShuffledGroupsGiveKnownDecisions) {
  // Threshold 3.5: on where the base sum > 3.5: (f0, p0) 4, (f0, p1) 5, (f2, p1) 4.
  int64_t on = 0;
  expect_outputs(GroupedLayer(Grouping::kShuffle, 3.5f).run(&on), {10, 17, 0, 1, 3, 5, 0, 3});
  EXPECT_EQ(on, 3);
}

TEST(GroupedGating, ContiguousGroupsGiveKnownDecisions) {
  // Threshold 2.5: on: (f0, p0) 3, (f2, p0) 3, (f2, p1) 5, (f3, p1) 3.
  int64_t on = 0;
  expect_outputs(GroupedLayer(Grouping::kContiguous, 2.5f).run(&on), {10, 2, 1, 2, 4, 5, 1, 7});
  EXPECT_EQ(on, 4);
}

TEST(GroupedGating, MinusInfinityIsTheUngatedConvExactlyAndInfinityTheBase) {
  const std::vector<float> ungated = GroupedLayer(Grouping::kFirst, 0, "Conv").run();
  expect_outputs(ungated, {10, 17, 0, 1, 4, 5, 2, 7});
  for (Grouping grouping : {Grouping::kShuffle, Grouping::kContiguous}) {
    int64_t on = 0;
    const std::vector<float> all = GroupedLayer(grouping, -kInf).run(&on);
    EXPECT_EQ(on, 8);
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], ungated[i]) << i;  // bitwise, not near
    const std::vector<float> none = GroupedLayer(grouping, kInf).run(&on);
    EXPECT_EQ(on, 0);
    expect_outputs(none, grouping == Grouping::kShuffle ? std::vector<float>{4, 5, 0, 1, 3, 4, 0, 3}
                                                        : std::vector<float>{3, 2, 1, 2, 3, 5, 1, 3});
  }
}

TEST(GroupedGating, GatesFileFieldsLoadRoundTripAndAreChecked) {
  const char* grouped = R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,
    "grouping":"shuffle","layers":[{"layer":"conv","base_channels":2,"groups":2,"threshold":1.5}]})";
  const GatePlan p = parse_gates(grouped, "g.json");
  EXPECT_EQ(p.grouping, Grouping::kShuffle);
  EXPECT_EQ(p.layers.at(0).groups, 2);
  const GatePlan again = parse_gates(gates_json(p), "again");
  EXPECT_EQ(again.grouping, Grouping::kShuffle);
  EXPECT_EQ(again.layers.at(0).groups, 2);
  // Files without the field (written before it) are the first-channels grouping.
  const GatePlan old = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","layers":[{"layer":"conv","base_channels":2}]})",
      "old.json");
  EXPECT_EQ(old.grouping, Grouping::kFirst);
  EXPECT_FALSE(gates_json(old).contains("grouping"));
  auto refused = [](const std::string& text, const std::string& field) {
    try {
      parse_gates(text, "bad.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  const std::string head = R"({"format":"effectual-gates","version":1,"kind":"channel",)";
  refused(head + R"("grouping":"diagonal","layers":[]})", "grouping: \"diagonal\"");
  refused(head + R"("grouping":"shuffle","layers":[{"layer":"conv","base_channels":2}]})", "layers[0].groups: missing");
  refused(head + R"("grouping":"shuffle","layers":[{"layer":"conv","base_channels":2,"groups":0}]})",
          "layers[0].groups: 0 is outside");
  refused(head + R"("layers":[{"layer":"conv","base_channels":2,"groups":2}]})", "layers[0].groups: only with");
  refused(R"({"format":"effectual-gates","version":1,"kind":"precision","grouping":"shuffle","layers":[]})",
          "grouping: \"shuffle\" applies to kind \"channel\" only");
  // Against the layer: G must divide its channels and base_channels be channels / G.
  GroupedLayer l(Grouping::kFirst, 0, "Conv");
  GatePlan bad = p;
  bad.layers[0].groups = 3;
  EXPECT_THROW(check_gates(l.g, bad, "bad.json"), ConfigError);
  bad.layers[0].groups = 4;  // divides 4 and 4, but base_channels 2 != 4 / 4
  EXPECT_THROW(check_gates(l.g, bad, "bad.json"), ConfigError);
  EXPECT_NO_THROW(check_gates(l.g, p, "g.json"));
}

}  // namespace eff::gating
