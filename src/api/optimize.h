// `effectual optimize`'s body (src/deft, docs/deft.md), shared by the command line and `import
// effectual`: per conv/FC layer a DeftNN format and alpha (or the engine's kernel) under a top-1
// target, timed in the engine; writes the optimized model, optimize.json and the frontier to `out`.
#pragma once

#include <string>

#include "api/commands.h"

namespace eff::api {

struct OptimizeOptions {
  int64_t search_images = 1000, report_images = 2000;
  uint64_t seed = 1;
  double target_loss = 0.5;
  std::string out;
  std::string formats = "deft16q,fp8,bf16dot,int8";
  std::string alphas = "0.99,0.95,0.9,0.8";
  std::string compensation = "fold";
  int64_t calibration_images = 256;
  int64_t batch = 100;
  int64_t speed_batch = 1;
  int rounds = 5, runs = 10;
  bool resume = false;
  std::string html;
  void check(const cli::Common& o) const;
};

Output optimize(cli::Loaded& l, const cli::Common& o, const Data& d, const OptimizeOptions& f);

}  // namespace eff::api
