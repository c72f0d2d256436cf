// `effectual gate`'s body (src/gating, docs/gating.md), shared by the command line and `import
// effectual`: channel or precision gating with per-layer thresholds found with accuracy in the loop;
// writes the gates file(s), --save's tables and the HTML section when named.
#pragma once

#include <optional>
#include <string>

#include "api/commands.h"

namespace eff::api {

struct GateOptions {
  int64_t search_images = 1000, report_images = 1000;
  uint64_t seed = 1;
  std::string keep, metric = "top1";  // keep "" and no max_loss: 99%
  std::optional<double> max_loss;
  int64_t batch = 100;
  std::string base = "1/4";
  std::string precision;  // "B/Bhb": precision gating instead of channel gating
  int levels = 16;
  bool per_channel = false;        // a threshold per output channel
  std::string grouping = "first";  // channel gating: first | contiguous | shuffle (G = 1 / base)
  std::string evaluate;            // a gates file to measure on both subsets instead of searching
  std::string out, save, html;
  bool resume = false;
  void check(const cli::Common& o) const;
};

Output gate(cli::Loaded& l, const cli::Common& o, const Data& d, const GateOptions& f);

}  // namespace eff::api
