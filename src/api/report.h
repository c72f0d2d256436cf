// `effectual report` and `effectual area`, shared by the command line and `import effectual`.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/commands.h"

namespace eff::api {

// A saved document and the name it goes by in the report (its file name on the command line).
using NamedDoc = std::pair<std::string, nlohmann::json>;

struct ReportOptions {
  std::vector<NamedDoc> profiles;     // profile.json (at most one)
  std::vector<NamedDoc> simulations;  // simulate's results.json (at most one)
  std::optional<NamedDoc> search, frontier, deft;
  std::string out;
  std::string title = "effectual report";
};

// Writes the HTML report to `out`; returns its chart count.
int report(const ReportOptions& r);
// A JSON file as a document (DataError naming it when it is not JSON).
nlohmann::json read_json_file(const std::string& path);

struct AreaOptions {
  std::string designs, config, technology;
};
// `effectual area`: {doc: areas JSON, text: the table}.
Output area(const AreaOptions& a);

}  // namespace eff::api
