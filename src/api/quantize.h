// `effectual quantize`'s body (src/quant, docs/quantize.md), shared by the command line and `import
// effectual`: the quantized model written as ONNX QDQ (+ its sidecar), or with `table` seed 003's
// accuracy table. Returns the document --json prints and the terminal summary.
#pragma once

#include <string>
#include <vector>

#include "api/commands.h"

namespace eff::api {

struct QuantizeOptions {
  int bits = 8;
  int act_bits = 0;
  bool per_channel = false, asymmetric = false;
  std::string clip = "none", act_clip;
  double ocs_ratio = 0;
  std::string calib_data;
  std::vector<std::string> calib_input;
  int64_t calib_images = 256;
  std::string out;
  bool table = false;
  std::string data;
  int64_t report_images = 1000;
  uint64_t seed = 1;
  std::string csv, html, bits_list = "4,5,6,8";
};

// `o.model` is the float model; `o.meta` its sidecar (default: MODEL.json beside it).
Output quantize(const cli::Common& o, const QuantizeOptions& f);

}  // namespace eff::api
