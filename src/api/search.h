// `effectual search precision|thresholds|all`'s bodies, shared by the command line and `import
// effectual`: the subsets are drawn, the search runs (or a --sweep of targets), the files of --out
// are written (with the checkpoint --resume reads) and the result comes back as the document
// --json prints plus the summary the terminal shows.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/common.h"
#include "search/target.h"

namespace eff::api {

struct SearchOptions {
  std::string search_data, report_data;  // both, or neither (then the data set is split)
  int64_t search_images = 500, report_images = 500;
  uint64_t seed = 1;
  std::string keep, metric = "top1", objective = "activations";
  std::optional<double> max_loss;    // top-1 points
  std::optional<double> min_snr_db;  // with metric output-snr; 30 when not given
  int64_t batch = 100;
  int64_t sim_images = 8;
  std::string out;  // files and checkpoints; "" : none
  bool resume = false;
  int levels = 12;  // thresholds: candidates per layer
  bool sweep = false;
  std::string sweep_targets;  // "" : the default list
  std::string clip = "none";  // precision: integer bits from this clipping (src/quant/search_clip.h)
  double ocs_ratio = 0;       // precision: search the OCS-split model (src/quant/search_ocs.h)
  bool html = false;          // an HTML report is wanted (thresholds: only of a --sweep's frontier)
};

// Where the items come from when search_data/report_data are not given: opened on demand (so the
// search and report sets' own errors come first); `given` says whether --data/--input was.
struct SearchData {
  std::function<std::unique_ptr<Dataset>()> open;
  bool given = false;
};

struct SearchOutput {
  nlohmann::json doc;     // search.json, threshold_search.json, or frontier.json with --sweep
  std::string text;       // the terminal summary, with the files written
  bool frontier = false;  // doc is a --sweep's frontier
};

// The option checks each search makes before its model loads (bad flags fail first).
// The accuracy target from --metric, --keep, --max-loss and --min-snr-db, each combination checked
// (one line per misuse); default_keep applies when neither --keep nor --max-loss is given.
search::Target target_from(const std::string& metric, const std::string& keep, std::optional<double> max_loss,
                           std::optional<double> min_snr_db, const std::string& default_keep = "");

void check_precision_options(const SearchOptions& a);
void check_threshold_options(const SearchOptions& a);

SearchOutput search_precision(cli::Loaded& l, const cli::Common& o, const SearchData& d, const SearchOptions& a);
SearchOutput search_thresholds(cli::Loaded& l, const cli::Common& o, const SearchData& d, const SearchOptions& a);
SearchOutput search_all(cli::Loaded& l, const cli::Common& o, const SearchData& d, const SearchOptions& a);

}  // namespace eff::api
