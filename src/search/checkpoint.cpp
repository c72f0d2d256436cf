#include "search/checkpoint.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace eff::search {

using nlohmann::json;

namespace {
constexpr int kVersion = 2;  // 2: per-image lost counts (version 1 had none and judged net counts)
}

void save_checkpoint(const std::string& path, const std::string& fingerprint, const EvaluationMemory& memory) {
  json ev = json::object();
  for (const auto& [k, t] : memory) ev[k] = {t.images, t.correct, t.agree, t.lost, t.noise_energy, t.complete, t.met};
  const json doc = {{"format", "effectual-search-checkpoint"},
                    {"version", kVersion},
                    {"fingerprint", fingerprint},
                    {"evaluations", ev}};
  write_file_atomic(path, doc.dump() + "\n");
}

std::set<std::string> load_checkpoint(const std::string& path, const std::string& fingerprint, EvaluationMemory& memory,
                                      const std::function<void(const std::string&)>& log) {
  std::set<std::string> keys;
  if (path.empty() || !std::filesystem::exists(path)) {
    if (log) log(fmt::format("--resume: no checkpoint at {}; starting afresh", path));
    return keys;
  }
  json doc;
  try {
    doc = json::parse(read_file(path, 256 << 20));
    if (doc.at("format") != "effectual-search-checkpoint") throw std::runtime_error("");
  } catch (const std::exception&) {
    fail<ConfigError>("{}: not a search checkpoint", path);
  }
  if (doc.value("version", 0) != kVersion) {
    fail<UsageError>("{}: a checkpoint of another effectual version (its targets were judged differently); remove it",
                     path);
  }
  if (doc["fingerprint"] != fingerprint) {
    fail<UsageError>(
        "{}: the checkpoint belongs to a different search (model, data subsets, target or objective differ); "
        "remove it or drop --resume",
        path);
  }
  try {
    const json& ev = doc.at("evaluations");
    for (auto it = ev.begin(); it != ev.end(); ++it) {
      const json& v = it.value();
      memory[it.key()] =
          Tally{v.at(0).get<int64_t>(), v.at(1).get<int64_t>(), v.at(2).get<int64_t>(), v.at(3).get<int64_t>(),
                v.at(4).get<double>(),  v.at(5).get<bool>(),    v.at(6).get<bool>()};
      keys.insert(it.key());
    }
  } catch (const json::exception&) {
    fail<ConfigError>("{}: evaluations: malformed entry", path);
  }
  if (log) log(fmt::format("resuming from {} ({} evaluations)", path, keys.size()));
  return keys;
}

}  // namespace eff::search
