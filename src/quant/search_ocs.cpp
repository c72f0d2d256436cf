#include "quant/search_ocs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quant/quantize_model.h"
#include "quant/session.h"

namespace eff::quant {

SplitModel split_for_search(const std::string& path, double ratio, std::vector<std::vector<Tensor>> batches,
                            int threads) {
  if (!(ratio > 0 && ratio <= 1)) fail<UsageError>("--ocs-ratio {}: give a fraction in (0, 1]", ratio);
  QuantSession session(load_float_graph(path), std::move(batches), threads);
  QuantOptions o;
  o.act_bits = 8;  // any activation width: asks for activation splits as well as weight splits
  o.ocs_ratio = ratio;
  const auto splits = session.splits(o);
  const Calibration& cal = session.channel_calibration();
  SplitModel m;
  m.ratio = ratio;
  m.graph = split_graph(session.graph(), session.sites(), splits);
  m.parameters = count_parameters(session.graph());
  m.added_parameters = count_parameters(m.graph) - m.parameters;
  for (const LayerSite& s : session.sites()) {
    const ChannelSplit& sp = splits.at(s.name);
    const ActCalibration& c = cal.at(s.name);
    const Tensor& w = session.graph().constant(session.graph().nodes[s.node].inputs[1]);
    SplitLayer l;
    l.name = s.name;
    l.channels = sp.channels;
    l.expanded = static_cast<int64_t>(sp.source.size());
    l.weight_splits = sp.weight_splits;
    l.act_splits = sp.act_splits;
    l.weight_max = max_abs(w);
    l.weight_max_split = sp.identity() ? l.weight_max : max_abs(expand_weights(w, s.in_axis, sp));
    for (float v : c.channel_max) l.act_max = std::max(l.act_max, static_cast<double>(v));
    for (size_t j = 0; j < sp.source.size(); ++j) {
      l.act_max_split = std::max(l.act_max_split, static_cast<double>(c.channel_max[sp.source[j]] * sp.act_factor[j]));
    }
    m.layers.push_back(l);
  }
  return m;
}

nlohmann::json split_model_json(const SplitModel& m, const std::string& written_to) {
  nlohmann::json layers = nlohmann::json::array();
  for (const SplitLayer& l : m.layers) {
    layers.push_back({{"name", l.name},
                      {"channels", l.channels},
                      {"expanded_channels", l.expanded},
                      {"weight_splits", l.weight_splits},
                      {"activation_splits", l.act_splits},
                      {"weight_max", l.weight_max},
                      {"weight_max_split", l.weight_max_split},
                      {"activation_max", l.act_max},
                      {"activation_max_split", l.act_max_split}});
  }
  nlohmann::json j = {
      {"ratio", m.ratio}, {"parameters", m.parameters}, {"added_parameters", m.added_parameters}, {"layers", layers}};
  j["split_model"] = written_to.empty() ? nlohmann::json(nullptr) : nlohmann::json(written_to);
  return j;
}

std::string split_model_text(const SplitModel& m, const std::string& written_to) {
  std::string s = fmt::format(
      "OCS ratio {}: searched on the split model ({}; +{:.2f}% parameters); the profile's formats are the split "
      "layers'\n",
      m.ratio, written_to.empty() ? "not written: give --out" : written_to,
      m.parameters ? 100.0 * static_cast<double>(m.added_parameters) / static_cast<double>(m.parameters) : 0.0);
  s += fmt::format("  {:<34} {:>9}  {:>19}  {:>19}\n", "layer", "channels", "max |w| -> split", "max |x| -> split");
  for (const SplitLayer& l : m.layers) {
    s += fmt::format("  {:<34} {:>4}->{:<4}  {:>8.4g} -> {:<8.4g}  {:>8.4g} -> {:<8.4g}\n", l.name, l.channels,
                     l.expanded, l.weight_max, l.weight_max_split, l.act_max, l.act_max_split);
  }
  return s;
}

}  // namespace eff::quant
