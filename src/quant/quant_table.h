// Seed 003's OCS table for any model: top-1 on a report subset for bits x clipping {none, mse,
// aciq, kl, best} x OCS ratio {0, 0.01, 0.02}, weights only and weights + activations (both at
// the same bits), each variant exported to ONNX bytes and run by the engine as a user would run
// the written file. Plus what OCS costs (parameters added) and, per layer, the outlier statistics
// that say when it cannot help (max / 99.9th percentile of |w| and |x|).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "quant/session.h"
#include "report/html/html_report.h"
#include "search/eval_set.h"

namespace eff::quant {

struct TableOptions {
  std::vector<int> bits = {4, 5, 6, 8};
  std::vector<double> ocs = {0, 0.01, 0.02};
  bool per_channel = false, asymmetric = false;
  int threads = 0;
  std::string calib_source;
  int64_t calib_images = 0;
  uint64_t seed = 1;
  int64_t batch = 100;
};

struct TableCell {
  int bits = 0;
  bool acts = false;  // weights + activations
  ClipMethod clip = ClipMethod::kNone;
  double ocs = 0;
  double top1 = 0;
};

struct OutlierStats {
  std::string layer;
  double w_max = 0, w_p999 = 0, a_max = 0, a_p999 = 0;
};

struct QuantTable {
  std::string model;
  std::string calib_source, report_source;
  int64_t calib_images = 0, report_images = 0;
  double float_top1 = 0;
  bool per_channel = false, asymmetric = false;
  std::vector<int> bits;
  std::vector<double> ocs;
  std::vector<TableCell> cells;
  // Per OCS ratio: parameters added, weights only and weights + activations (fractions of all).
  std::vector<double> overhead_weights, overhead_acts;
  std::vector<OutlierStats> outliers;
  double seconds = 0;
  // The best clipping's top-1 at (bits, acts, ocs), and which clip it was.
  double best(int bits, bool acts, double ocs, ClipMethod* which = nullptr) const;
  double at(int bits, bool acts, ClipMethod clip, double ocs) const;
};

// Top-1 of the graph written as ONNX and loaded back, on `set`.
double top1_of_exported(const Graph& g, const search::EvalSet& set, int threads, int64_t batch);

QuantTable run_table(QuantSession& session, const search::EvalSet& report, const TableOptions& o);

nlohmann::json table_json(const QuantTable& t);
std::string format_table(const QuantTable& t);
void write_table_csv(const QuantTable& t, const std::string& path);
void add_table_section(const QuantTable& t, html::HtmlReport& report);

// What `quantize --out` prints: per layer, splits, thresholds, scales, error.
nlohmann::json quantized_model_json(const QuantizedModel& qm, const QuantOptions& o, const std::string& model,
                                    const std::string& out, double seconds);
std::string format_quantized_model(const QuantizedModel& qm, const QuantOptions& o, const std::string& model,
                                   const std::string& out, double seconds);

}  // namespace eff::quant
