// One float model prepared for quantization, its calibration inputs, and the calibration passes
// several configurations share (the per-channel pass once; histograms once per OCS plan), so that
// `quantize --table` quantizes dozens of variants without re-running what does not change.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "quant/quantize_model.h"

namespace eff::quant {

class QuantSession {
 public:
  // `calibration`: input batches in graph-input order (may be empty for weights-only work).
  QuantSession(Graph graph, std::vector<std::vector<Tensor>> calibration, int threads);

  const Graph& graph() const { return graph_; }
  const std::vector<LayerSite>& sites() const { return sites_; }
  // UsageError when activations are asked for without calibration inputs.
  QuantizedModel quantize(const QuantOptions& o);
  // The splits of `o` (for reports and the equivalence check).
  std::map<std::string, ChannelSplit> splits(const QuantOptions& o);
  // The per-channel calibration (runs it on first use).
  const Calibration& channel_calibration();

 private:
  Graph graph_;
  std::vector<LayerSite> sites_;
  std::vector<std::vector<Tensor>> calibration_;
  int threads_ = 0;
  std::optional<Calibration> channels_;
  // Histogram passes by (OCS ratio, activation splits made).
  std::map<std::pair<double, bool>, Calibration> histograms_;
};

}  // namespace eff::quant
