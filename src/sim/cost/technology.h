// Technology tables (configs/technology/*.yaml): area per component, energy per event, memory
// densities and energies, the off-chip interface and leakage for one process node. Every number
// carries its source. The 65 nm table is built into the binary (the default); --technology FILE
// reads another. docs/energy-area.md describes the keys and how the cost model uses them.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace eff::sim::cost {

// The keys every table must define, "section.key", with their unit (for messages and docs).
struct TechnologyKey {
  const char* key;
  const char* unit;
  const char* meaning;
};
const std::vector<TechnologyKey>& technology_keys();

struct TechnologyValue {
  double value = 0;
  std::string source;
};

struct Technology {
  std::string file;  // where it came from ("built-in 65nm" or a path)
  std::string node;
  std::string description;
  std::map<std::string, TechnologyValue> values;  // every technology_keys() key

  // The value of a key of technology_keys() (a programming error otherwise).
  double operator[](const std::string& key) const;
  double frequency_hz() const { return (*this)["clock.frequency_mhz"] * 1e6; }
};

// Parses a table; `file` names it in errors. Unknown, missing, non-numeric or non-positive values
// are ConfigErrors naming the file and the key ("t.yaml: area_um2.adder_bitz: unknown key").
Technology parse_technology(const std::string& text, const std::string& file);
// Reads FILE, or the built-in 65 nm table when `path` is empty.
Technology load_technology(const std::string& path);
// The built-in table's text (configs/technology/65nm.yaml at build time).
const std::string& default_technology_text();

}  // namespace eff::sim::cost
