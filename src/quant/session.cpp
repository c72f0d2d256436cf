#include "quant/session.h"

#include "core/error.h"

namespace eff::quant {

QuantSession::QuantSession(Graph graph, std::vector<std::vector<Tensor>> calibration, int threads)
    : graph_(std::move(graph)), calibration_(std::move(calibration)), threads_(threads) {
  sites_ = layer_sites(graph_);
  if (sites_.empty())
    fail<UsageError>("{}: no Conv, Gemm or MatMul layer with constant weights to quantize", graph_.source);
}

const Calibration& QuantSession::channel_calibration() {
  if (!channels_) {
    if (calibration_.empty()) {
      fail<UsageError>(
          "activation quantization needs calibration inputs: give --calib-data SET or --calib-input NAME=FILE.npy");
    }
    channels_ = calibrate_channels(graph_, sites_, calibration_, threads_);
  }
  return *channels_;
}

std::map<std::string, ChannelSplit> QuantSession::splits(const QuantOptions& o) {
  const Calibration* cal = o.act_bits > 0 && o.ocs_ratio > 0 ? &channel_calibration() : nullptr;
  return plan_splits(graph_, sites_, o, cal);
}

QuantizedModel QuantSession::quantize(const QuantOptions& o) {
  validate(o);
  const auto sp = splits(o);
  if (o.act_bits == 0) return quantize_graph(graph_, sites_, o, sp, nullptr);
  const Calibration& ch = channel_calibration();
  const bool needs_histogram = o.act_clip == ClipMethod::kMse || o.act_clip == ClipMethod::kKl;
  if (!needs_histogram) return quantize_graph(graph_, sites_, o, sp, &ch);
  const std::pair<double, bool> key{o.ocs_ratio, true};
  auto it = histograms_.find(key);
  if (it == histograms_.end()) {
    Calibration cal = ch;
    calibrate_histograms(graph_, sites_, sp, calibration_, threads_, cal);
    it = histograms_.emplace(key, std::move(cal)).first;
  }
  return quantize_graph(graph_, sites_, o, sp, &it->second);
}

}  // namespace eff::quant
