// The gates file reader: the documented schema is read, anything else refused with one line
// naming the file and the field.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "sim/gates_file.h"

namespace eff::sim {
namespace {

std::string message_of(const std::string& text) {
  try {
    parse_gates(text, "g.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(GatesFile, ReadsChannelAndPrecisionFiles) {
  const GatesFile c = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.25,
          "layers":[{"layer":"conv1","base_channels":16,"threshold":0.5},
                    {"layer":"conv2","base_channels":8,"threshold":"-inf"}]})",
      "g.json");
  EXPECT_EQ(c.kind, GateKind::kChannel);
  EXPECT_DOUBLE_EQ(c.base_fraction, 0.25);
  ASSERT_EQ(c.layers.size(), 2u);
  EXPECT_EQ(c.find("conv1")->base_channels, 16);
  EXPECT_DOUBLE_EQ(c.find("conv1")->threshold, 0.5);
  EXPECT_TRUE(std::isinf(c.find("conv2")->threshold) && c.find("conv2")->threshold < 0);
  EXPECT_EQ(c.find("conv3"), nullptr);
  // No threshold, or null: every gate on (as `effectual gate` writes them); "inf": every gate off.
  const GatesFile open_gates = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,
          "layers":[{"layer":"a","base_channels":1},{"layer":"b","base_channels":1,"threshold":null},
                    {"layer":"c","base_channels":1,"threshold":"inf"}]})",
      "g.json");
  EXPECT_TRUE(std::isinf(open_gates.find("a")->threshold) && open_gates.find("a")->threshold < 0);
  EXPECT_TRUE(std::isinf(open_gates.find("b")->threshold) && open_gates.find("b")->threshold < 0);
  EXPECT_TRUE(std::isinf(open_gates.find("c")->threshold) && open_gates.find("c")->threshold > 0);
  const GatesFile p = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"precision",
          "layers":[{"layer":"conv1","bits":8,"high_bits":4,"threshold":-1.5,"frac_bits":5,"signed":true}]})",
      "g.json");
  EXPECT_EQ(p.kind, GateKind::kPrecision);
  EXPECT_EQ(p.find("conv1")->bits, 8);
  EXPECT_EQ(p.find("conv1")->high_bits, 4);
  EXPECT_DOUBLE_EQ(p.find("conv1")->threshold, -1.5);
  EXPECT_EQ(p.find("conv1")->frac_bits, 5);
  EXPECT_TRUE(p.find("conv1")->is_signed);
  // A threshold per output channel instead of the layer's one.
  const GatesFile per = parse_gates(
      R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.25,
          "layers":[{"layer":"conv1","base_channels":2,"thresholds":[0.5,"-inf",-2]}]})",
      "g.json");
  EXPECT_DOUBLE_EQ(per.find("conv1")->threshold_of(0), 0.5);
  EXPECT_DOUBLE_EQ(per.find("conv1")->threshold_of(2), -2);
  EXPECT_FALSE(per.find("conv1")->always_on());
}

TEST(GatesFile, RefusesBadFilesWithOneLine) {
  const std::string head = R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.25,)";
  EXPECT_NE(message_of("{").find("g.json: not valid JSON"), std::string::npos);
  EXPECT_EQ(message_of("[]"), "g.json: expected a JSON object at the top level");
  EXPECT_EQ(message_of(head + R"("layers":[],"extra":1})"), "g.json: extra: unknown key");
  EXPECT_EQ(message_of(R"({"format":"x","version":1,"kind":"channel","base_fraction":1,"layers":[]})"),
            "g.json: format: \"x\" is not \"effectual-gates\"");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":2,"kind":"channel","layers":[]})"),
            "g.json: version: 2 is not supported (expected 1)");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"spatial","layers":[]})"),
            "g.json: kind: \"spatial\" is not \"channel\" or \"precision\"");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"channel","layers":[]})"),
            "accepted");  // base_fraction is informative: may be absent
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0,"layers":[]})"),
            "g.json: base_fraction: 0 is not a number in (0, 1]");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":0,"threshold":1}]})"),
            "g.json: layers[0].base_channels: 0 is outside [1, 16777216]");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":2.5,"threshold":1}]})"),
            "g.json: layers[0].base_channels: 2.5 is not an integer");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":2,"threshold":"big"}]})"),
            "g.json: layers[0].threshold: \"big\" is not a number (or \"-inf\", \"inf\", null)");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"precision",
                           "layers":[{"layer":"a","bits":8,"high_bits":4,"signed":1}]})"),
            "g.json: layers[0].signed: 1 is not true or false");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"precision",
                           "layers":[{"layer":"a","bits":8,"high_bits":4,"frac_bits":65}]})"),
            "g.json: layers[0].frac_bits: 65 is outside [-64, 64]");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":2,"threshold":1,"bits":8}]})"),
            "g.json: layers[0].bits: unknown key");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":2,"threshold":1},
                                           {"layer":"a","base_channels":2,"threshold":1}]})"),
            "g.json: layers[1].layer: 'a' is listed twice");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"precision",
                           "layers":[{"layer":"a","bits":4,"high_bits":5,"threshold":0}]})"),
            "g.json: layers[0].high_bits: 5 is outside [1, 4]");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"precision",
                           "layers":[{"layer":"a","bits":17,"high_bits":5,"threshold":0}]})"),
            "g.json: layers[0].bits: 17 is outside [1, 16]");
  EXPECT_EQ(message_of(R"({"format":"effectual-gates","version":1,"kind":"precision",
                           "layers":[{"layer":"a","base_channels":3,"threshold":0}]})"),
            "g.json: layers[0].base_channels: unknown key");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":2,"thresholds":[1,"big"]}]})"),
            "g.json: layers[0].thresholds[1]: \"big\" is not a number (or \"-inf\", \"inf\", null)");
  EXPECT_EQ(message_of(head + R"("layers":[{"layer":"a","base_channels":2,"thresholds":[]}]})"),
            "g.json: layers[0].thresholds: expected a non-empty array (one per output channel)");
}

TEST(GatesFile, MissingFileIsAConfigError) {
  EXPECT_THROW(read_gates_file("/nonexistent/gates.json"), ConfigError);
}

}  // namespace
}  // namespace eff::sim
