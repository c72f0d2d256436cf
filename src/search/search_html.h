// The search's sections of the HTML report (`effectual report --search search.json --frontier
// frontier.json`): seed 001's Table 2 row (network, per-layer precisions, ideal speedup) beside the
// Table 1 column (every design's speedup with the found profile), and the frontier of a --sweep as
// a line chart (x = Stripes' ideal speedup or the skipped fraction, y = accuracy).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "report/html/html_report.h"

namespace eff::search {

// Either document may be null. `search` is a search.json of `search precision` or `search all`;
// `frontier` a frontier.json of either --sweep. Bad documents are a DataError naming `source`.
void add_search_sections(const nlohmann::json* search, const std::string& search_source, const nlohmann::json* frontier,
                         const std::string& frontier_source, html::HtmlReport& report);

}  // namespace eff::search
