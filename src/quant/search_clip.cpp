#include "quant/search_clip.h"

#include <algorithm>
#include <cmath>

#include "engine/executor.h"
#include "quant/quantize_model.h"

namespace eff::quant {

std::map<std::string, search::LayerRanges> clipped_ranges(const Graph& g, ClipMethod method, int bits,
                                                          const std::vector<std::vector<Tensor>>& batches,
                                                          int threads) {
  std::vector<LayerSite> sites;
  for (const LayerInfo& l : find_layers(g)) {
    if (l.op != "Conv" && l.op != "ConvTranspose" && l.op != "Gemm" && l.op != "MatMul") continue;
    if (g.constant(l.weights).dtype() != DType::kFloat32) continue;
    LayerSite s;
    s.name = l.name;
    s.op = l.op;
    s.node = l.node;
    s.act_axis = l.op == "MatMul" ? -1 : 1;
    sites.push_back(s);
  }
  Calibration cal = calibrate_channels(g, sites, batches, threads);
  std::map<std::string, ChannelSplit> identity;
  for (const LayerSite& s : sites) {
    ChannelSplit sp;
    sp.channels = static_cast<int64_t>(cal.at(s.name).channel_max.size());
    for (int64_t c = 0; c < sp.channels; ++c) sp.source.push_back(c);
    sp.weight_factor.assign(sp.source.size(), 1.0f);
    sp.act_factor.assign(sp.source.size(), 1.0f);
    identity.emplace(s.name, std::move(sp));
  }
  calibrate_histograms(g, sites, identity, batches, threads, cal);
  auto levels = [bits](bool negative) { return negative ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; };
  // KL without quantize's guard against clips that lose far more than MSE (kl_guarded_threshold):
  // here the accuracy loop judges the clip, and TensorRT's own choice is what is offered to it.
  auto activation_alpha = [method](const MagnitudeStats& st, int lv) {
    return method == ClipMethod::kKl ? kl_threshold(st, lv) : clip_threshold(method, st, lv);
  };
  auto weight_alpha = [method](const float* x, int64_t n, int lv) {
    return method == ClipMethod::kKl ? kl_threshold(magnitude_stats(x, n), lv, 256) : clip_threshold(method, x, n, lv);
  };
  std::map<std::string, search::LayerRanges> out;
  for (const LayerSite& s : sites) {
    const ActCalibration& c = cal.at(s.name);
    const Tensor& w = g.constant(g.nodes[s.node].inputs[1]);
    const float* x = w.data<float>();
    const bool wneg = std::any_of(x, x + w.numel(), [](float v) { return v < 0; });
    search::LayerRanges r;
    r.activations.negative = c.min_value < 0;
    r.activations.max_abs = activation_alpha(c.expanded, levels(r.activations.negative));
    r.weights.negative = wneg;
    r.weights.max_abs = weight_alpha(x, w.numel(), levels(wneg));
    out.emplace(s.name, r);
  }
  return out;
}

}  // namespace eff::quant
