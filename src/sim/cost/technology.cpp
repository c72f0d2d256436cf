#include "sim/cost/technology.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/fs.h"

namespace eff::sim::cost {

const std::vector<TechnologyKey>& technology_keys() {
  static const std::vector<TechnologyKey> keys = {
      {"clock.frequency_mhz", "MHz", "clock of every design"},
      {"clock.voltage_v", "V", "supply (documentation; energies are given at it)"},
      {"area_um2.multiplier_16x16", "um2", "one 16x16-bit multiplier (bit-parallel lane)"},
      {"area_um2.serial_lane_16b", "um2", "one lane of a bit-serial inner-product unit: 16 ANDs + tree share"},
      {"area_um2.pragmatic_lane", "um2", "one lane of a Pragmatic PIP: shifted-weight input + tree share"},
      {"area_um2.loom_lane_1b", "um2", "one 1-bit x 1-bit lane of a Loom SIP"},
      {"area_um2.adder_bit", "um2", "one bit of an adder (trees, accumulators)"},
      {"area_um2.register_bit", "um2", "one flip-flop"},
      {"area_um2.mux_bit", "um2", "one bit of one shifter stage"},
      {"area_um2.precision_detector", "um2", "leading-one detection per 16-bit input"},
      {"area_um2.offset_generator", "um2", "oneffset generation per 16-bit input"},
      {"memory.edram_mm2_per_mib", "mm2/MiB", "eDRAM array density"},
      {"memory.edram_bank_mm2", "mm2", "periphery per eDRAM bank"},
      {"memory.sram_mm2_per_kib", "mm2/KiB", "SRAM array density"},
      {"memory.sram_bank_mm2", "mm2", "periphery per SRAM bank"},
      {"memory.edram_read_pj_per_bit", "pJ/bit", "eDRAM read energy"},
      {"memory.sram_read_pj_per_bit", "pJ/bit", "SRAM read energy"},
      {"memory.edram_write_pj_per_bit", "pJ/bit", "eDRAM write energy (outputs, loaded weights)"},
      {"offchip.interface_mm2", "mm2", "off-chip memory interface (PHY + controller)"},
      {"offchip.pj_per_bit", "pJ/bit", "off-chip transfer energy"},
      {"offchip.bandwidth_gb_per_s", "GB/s", "off-chip bandwidth"},
      {"energy_pj.multiplier_16x16_op", "pJ", "one 16x16 multiply (256 bit products)"},
      {"energy_pj.and_bit_product", "pJ", "one AND of a bit-serial lane"},
      {"energy_pj.adder_bit", "pJ", "one bit of one addition"},
      {"energy_pj.register_bit_write", "pJ", "one flip-flop written"},
      {"energy_pj.register_bit_clock", "pJ", "one flip-flop clocked for one cycle"},
      {"energy_pj.mux_bit", "pJ", "one bit of one shifter stage switching"},
      {"energy_pj.precision_detector_op", "pJ", "one 16-bit value through a precision detector"},
      {"energy_pj.offset_generator_op", "pJ", "one 16-bit value through an offset generator"},
      {"leakage_mw_per_mm2.logic", "mW/mm2", "static power of logic"},
      {"leakage_mw_per_mm2.edram", "mW/mm2", "static power (leakage + refresh) of eDRAM"},
      {"leakage_mw_per_mm2.sram", "mW/mm2", "static power of SRAM"},
  };
  return keys;
}

double Technology::operator[](const std::string& key) const {
  auto it = values.find(key);
  EFF_ASSERT(it != values.end());
  return it->second.value;
}

namespace {

Technology parse_unchecked(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: line {}: {}", file, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap()) fail<ConfigError>("{}: a technology table must be a mapping (configs/technology/65nm.yaml)", file);
  std::set<std::string> known, sections;
  for (const TechnologyKey& k : technology_keys()) {
    const std::string key = k.key;
    known.insert(key);
    sections.insert(key.substr(0, key.find('.')));
  }
  Technology t;
  t.file = file;
  for (const auto& kv : root) {
    const std::string section = kv.first.as<std::string>();
    if (section == "node" || section == "description") {
      if (!kv.second.IsScalar()) fail<ConfigError>("{}: {}: must be a string", file, section);
      (section == "node" ? t.node : t.description) = kv.second.as<std::string>();
      continue;
    }
    if (!sections.count(section)) fail<ConfigError>("{}: {}: unknown key", file, section);
    if (!kv.second.IsMap()) fail<ConfigError>("{}: {}: must be a mapping of entries", file, section);
    for (const auto& entry : kv.second) {
      const std::string key = section + "." + entry.first.as<std::string>();
      if (!known.count(key)) fail<ConfigError>("{}: {}: unknown key", file, key);
      const YAML::Node& n = entry.second;
      if (!n.IsMap()) fail<ConfigError>("{}: {}: must be {{value: NUMBER, source: TEXT}}", file, key);
      TechnologyValue v;
      bool has_value = false;
      for (const auto& f : n) {
        const std::string field = f.first.as<std::string>();
        if (field == "value") {
          if (!f.second.IsScalar()) fail<ConfigError>("{}: {}.value: must be a number", file, key);
          const std::string s = f.second.as<std::string>();
          try {
            size_t used = 0;
            v.value = std::stod(s, &used);
            if (used != s.size()) throw std::invalid_argument(s);
          } catch (const std::exception&) {
            fail<ConfigError>("{}: {}.value: '{}' is not a number", file, key, s);
          }
          if (!std::isfinite(v.value) || v.value <= 0) {
            fail<ConfigError>("{}: {}.value: {} must be a positive finite number", file, key, s);
          }
          has_value = true;
        } else if (field == "source") {
          if (!f.second.IsScalar()) fail<ConfigError>("{}: {}.source: must be text", file, key);
          v.source = f.second.as<std::string>();
        } else {
          fail<ConfigError>("{}: {}.{}: unknown key", file, key, field);
        }
      }
      if (!has_value) fail<ConfigError>("{}: {}: 'value' is required", file, key);
      if (v.source.empty())
        fail<ConfigError>("{}: {}: 'source' is required (every number says where it comes from)", file, key);
      t.values[key] = v;
    }
  }
  for (const TechnologyKey& k : technology_keys()) {
    if (!t.values.count(k.key)) fail<ConfigError>("{}: {}: missing ({}, {})", file, k.key, k.meaning, k.unit);
  }
  if (t.node.empty()) fail<ConfigError>("{}: node: missing (e.g. 65nm)", file);
  return t;
}

}  // namespace

Technology parse_technology(const std::string& text, const std::string& file) {
  // yaml-cpp throws on nodes read as the wrong kind: a malformed file, not a crash.
  try {
    return parse_unchecked(text, file);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: not a technology table ({})", file, e.what());
  }
}

Technology load_technology(const std::string& path) {
  if (path.empty()) return parse_technology(default_technology_text(), "built-in configs/technology/65nm.yaml");
  std::string text;
  try {
    text = read_file(path, 1 << 20);
  } catch (const DataError& e) {
    throw ConfigError(e.what());
  }
  return parse_technology(text, path);
}

}  // namespace eff::sim::cost
