// The profile as data: the versioned JSON document (the source of truth, schema in
// docs/profile.md), the CSV tables and the terminal summary derived from it, and a lossless
// precision profile (docs/value-hooks.md format) for the values seen.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "profile/profiler.h"

namespace eff::profile {

constexpr const char* kProfileFormat = "effectual-profile";
constexpr int kProfileVersion = 1;

// `run` (model, inputs, ...) is stored as is under "run".
nlohmann::json profile_to_json(const Profiler& profiler, const nlohmann::json& run);

// File name -> CSV text, one table per file (values.csv, precision.csv, dynamic_precision.csv,
// effectual_bits.csv, compute.csv, correlations.csv).
std::map<std::string, std::string> profile_csv_tables(const nlohmann::json& profile);

// A compact per-layer table and the network totals, for a terminal.
std::string profile_summary(const nlohmann::json& profile);

// Per layer, the smallest 16-bit formats that hold every activation and weight code seen without
// loss (fields "lossless_format"), as a --precision-profile file.
nlohmann::json lossless_precision_profile(const nlohmann::json& profile);

}  // namespace eff::profile
