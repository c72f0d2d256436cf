// Technology tables (configs/technology/*.yaml): the shipped tables parse and define every key,
// the built-in default is the 65 nm file, and bad tables are one-line ConfigErrors naming the
// file and the key.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/fs.h"
#include "sim/cost/technology.h"

namespace eff::sim::cost {
namespace {

std::string shipped(const std::string& name) {
  return read_file(std::string(EFF_SOURCE_DIR) + "/configs/technology/" + name, 1 << 20);
}

std::string error_of(const std::string& text) {
  try {
    parse_technology(text, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Technology, ShippedTablesDefineEveryKeyWithASource) {
  for (const char* name : {"65nm.yaml", "28nm.yaml"}) {
    const Technology t = parse_technology(shipped(name), name);
    EXPECT_EQ(t.values.size(), technology_keys().size()) << name;
    for (const auto& [key, v] : t.values) {
      EXPECT_GT(v.value, 0) << name << " " << key;
      EXPECT_FALSE(v.source.empty()) << name << " " << key;
    }
  }
}

TEST(Technology, BuiltInDefaultIsThe65nmFile) {
  EXPECT_EQ(default_technology_text(), shipped("65nm.yaml"));
  const Technology t = load_technology("");
  EXPECT_EQ(t.node, "65nm");
  EXPECT_DOUBLE_EQ(t.frequency_hz(), 980e6);
}

TEST(Technology, TwentyEightNanometresFollowsTheStatedRule) {
  // tools/derive_technology.py 28 0.9: areas x s^2, on-chip energies x s x V^2 (s = 28/65).
  const Technology a = parse_technology(shipped("65nm.yaml"), "65nm.yaml");
  const Technology b = parse_technology(shipped("28nm.yaml"), "28nm.yaml");
  const double s = 28.0 / 65.0;
  EXPECT_NEAR(b["area_um2.multiplier_16x16"] / a["area_um2.multiplier_16x16"], s * s, 1e-3);
  EXPECT_NEAR(b["memory.edram_mm2_per_mib"] / a["memory.edram_mm2_per_mib"], s * s, 1e-3);
  EXPECT_NEAR(b["energy_pj.adder_bit"] / a["energy_pj.adder_bit"], s * 0.81, 1e-3);
  EXPECT_DOUBLE_EQ(b["offchip.pj_per_bit"], a["offchip.pj_per_bit"]);
}

TEST(Technology, BadTablesNameFileAndKey) {
  const std::string good = shipped("65nm.yaml");
  EXPECT_EQ(error_of(good + "\nextra: {}\n"), "t.yaml: extra: unknown key");
  std::string typo = good;
  typo.replace(typo.find("  adder_bit:\n"), 12, "  adder_bitz:");
  EXPECT_EQ(error_of(typo), "t.yaml: area_um2.adder_bitz: unknown key");
  std::string missing = good;
  const size_t at = missing.find("  mux_bit:\n    value: 4.3");
  missing.erase(at, missing.find("  precision_detector:") - at);
  EXPECT_NE(error_of(missing).find("t.yaml: area_um2.mux_bit: missing"), std::string::npos);
  std::string negative = good;
  negative.replace(negative.find("value: 8.5"), 10, "value: -1");
  EXPECT_EQ(error_of(negative), "t.yaml: area_um2.adder_bit.value: -1 must be a positive finite number");
  std::string text = good;
  text.replace(text.find("value: 8.5"), 10, "value: abc");
  EXPECT_EQ(error_of(text), "t.yaml: area_um2.adder_bit.value: 'abc' is not a number");
  EXPECT_NE(error_of("- 1\n- 2\n").find("t.yaml: a technology table must be a mapping"), std::string::npos);
  EXPECT_NE(error_of("a: [\n").find("t.yaml: line"), std::string::npos);
  EXPECT_EQ(error_of(good + "\nclock: 3\n").substr(0, 6), "t.yaml");
}

}  // namespace
}  // namespace eff::sim::cost
