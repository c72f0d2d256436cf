// A sweep file (docs/sweep.md): axes of values and what to compute at each point. The points are
// the axes' cartesian product, or the listed `points:`, each filled with the axes' defaults. A
// point's id is a hash of its values with every default value left out, so adding a value to an
// axis (or a new axis whose default the old points keep) never changes the ids of the others.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eff::sweep {

// The axes in the order they appear in ids, labels and tables.
inline constexpr const char* kAxes[] = {"model", "data", "design", "config", "precision", "thresholds", "technology"};

struct DataRange {
  std::string set;  // a data set spec as --data takes it
  int64_t first = 0;
  int64_t images = 1;
};

struct Point {
  std::string id;          // 16 hex digits of the content hash
  int64_t index = 0;       // position in the sweep file's order (tables are sorted by it)
  nlohmann::json values;   // axis -> value, every axis present (defaults filled in)
  nlohmann::json content;  // the values that differ from the defaults: what the id hashes
  std::string label;       // the values of the axes that vary, joined by " / "

  std::string model() const { return values["model"].get<std::string>(); }
  DataRange data() const;
  std::string design() const { return values["design"].get<std::string>(); }
  // The design configuration (configs/designs.yaml) of this point's design and overrides.
  std::string design_config_yaml() const;
  std::string config_name() const;  // the override's `name`, or "" for the preset
  std::string precision() const;    // a profile file, or "" for none or a search
  // The `search` step's options ({keep, search_images, report_images, seed}), or null.
  nlohmann::json precision_search() const {
    return values["precision"].is_object() ? values["precision"]["search"] : nlohmann::json();
  }
  std::string thresholds() const;  // a thresholds file, or "" for none
  std::string technology() const;  // a technology file, or "" for the built-in 65 nm
};

struct Spec {
  std::string file;  // for messages
  std::string text;  // as read (copied into the sweep folder)
  std::string name;
  std::vector<std::string> compute;  // simulate, eval, profile
  std::vector<Point> points;         // in file order
  bool computes(const std::string& what) const;
};

// Parses and validates `text` (every design and override is built once; with `check_files`, every
// file named is checked to exist): a ConfigError naming the file and the field on the first problem.
Spec parse_spec(const std::string& text, const std::string& file, bool check_files = true);
Spec load_spec(const std::string& path);

// An axis value as tables show it: data as SET[first,end), a configuration as its name or
// key=value list ("preset" for none), files as written.
std::string axis_value_text(const std::string& axis, const nlohmann::json& v);

// 64-bit FNV-1a, as 16 lowercase hex digits: ids and cache keys.
std::string hash_hex(std::string_view bytes);

// The points of shard `shard` of `shards`: every point whose position is shard mod shards. A
// deterministic share that depends only on the sweep file.
std::vector<const Point*> shard_points(const Spec& spec, int shard, int shards);
// "i/N" with 0 <= i < N: a UsageError naming --shard otherwise.
void parse_shard(const std::string& text, int& shard, int& shards);

}  // namespace eff::sweep
