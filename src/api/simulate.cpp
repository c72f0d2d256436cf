#include "api/simulate.h"

#include <fmt/format.h>

#include "core/fs.h"
#include "core/progress.h"
#include "engine/geometry.h"
#include "engine/quantized_layers.h"
#include "engine/transform_files.h"
#include "sim/cost/dram.h"
#include "sim/live.h"

namespace eff::api {

Simulation::Simulation(const SimulateOptions& options) : o_(options) {
  if (o_.check_values && !o_.live) {
    fail<UsageError>(
        "--check-values needs the live form (MODEL with --data or --input): it compares with the "
        "engine's outputs");
  }
  threads_ = resolve_threads(cli::usable_threads(o_.threads));
  set_ = sim::build_designs_from_file(o_.designs, o_.config);
  technology_ = sim::cost::load_technology(o_.technology);
  if (!o_.gates.empty()) gates_ = sim::read_gates_file(o_.gates);
  run_ = std::make_unique<sim::SimRun>(
      set_, sim::SimContext{threads_, o_.check_values, o_.gates.empty() ? nullptr : &gates_}, &technology_);
  if (!o_.dram.empty()) run_->set_dram(sim::cost::load_dram(o_.dram));
}

void Simulation::live(cli::Loaded& l, const Data& d) {
  if (!o_.live) fail("Simulation::live: made for traces or synthetic values");
  Dataset& data = d.set;
  if (o_.first < 0 || o_.first >= data.size()) {
    fail<UsageError>("--first {} is outside the data set ({} items)", o_.first, data.size());
  }
  if (o_.images < 1) fail<UsageError>("--images must be at least 1");
  // Otherwise an empty table of "0 image(s), 0 layer record(s)" and speedups of 0.00x.
  if (l.exec->layers().empty() && l.model.meta.deft.is_null()) {
    fail<UsageError>("{}: the model has no conv/FC layer to simulate", l.exec->graph().source);
  }
  const int64_t end = o_.first + cli::items_to_use(data, o_.first, o_.images, "--images", o_.quiet || !o_.images_given);
  Progress bar("simulate", end - o_.first);
  sim::LiveOptions lo;
  lo.first = o_.first;
  lo.end = end;
  lo.space_to_depth = o_.space_to_depth;
  lo.check_values = o_.check_values;
  lo.on_image = [&] { bar.advance(); };
  NonFinite non_finite;
  lo.input_non_finite = &non_finite;
  sim::simulate_live(*l.exec, data, *run_, l.transforms, lo);
  if (non_finite.any()) {
    // Said, not hidden: the quantizer maps NaN to code 0 and saturates Inf (docs/simulator.md).
    notes_["non_finite_inputs"] = to_string(non_finite) + " (codes: NaN 0, Inf saturated)";
    if (!o_.quiet) {
      fmt::print(stderr, "warning: the inputs hold {}; the designs see NaN as 0 and Inf saturated\n",
                 to_string(non_finite));
    }
  }
  for (const LayerInfo& li : l.exec->layers()) quantized_ += layer_quantization(l.exec->graph(), li).present ? 1 : 0;
  bar.finish();
  notes_["source"] = fmt::format("live: {} on {} images [{}, {})", o_.model, d.source, o_.first, end);
}

void Simulation::traces(const std::string& dir) {
  if (o_.live) fail("Simulation::traces: made for the live form");
  if (o_.first < 0 || o_.images < 0) fail<UsageError>("--images and --first must not be negative");
  const auto layers = sim::read_trace_manifest(dir);
  sim::TraceOptions t;
  t.first = o_.first;
  t.images = o_.images_given ? o_.images : 0;  // a trace: all its images unless told
  t.threads = threads_;
  t.space_to_depth = o_.space_to_depth;
  if (!o_.precision_profile.empty() || !o_.thresholds.empty()) {
    std::vector<LayerInfo> infos;
    for (const auto& g : layers) {
      LayerInfo li;
      li.index = g.index;
      li.name = g.name;
      li.op = g.op;
      infos.push_back(li);
    }
    t.transforms = load_layer_transforms(o_.precision_profile, o_.thresholds, infos);
  }
  Progress bar("simulate", static_cast<int64_t>(layers.size()));
  t.on_layer_done = [&] { bar.advance(); };
  sim::simulate_trace_dir(dir, *run_, t);
  bar.finish();
  notes_["source"] = "traces: " + dir;
}

void Simulation::synthetic(const std::vector<LayerGeometry>& net, const sim::SyntheticSpec& spec) {
  if (o_.live) fail("Simulation::synthetic: made for the live form");
  constexpr int64_t kMaxSyntheticImages = 100000;
  if (o_.images < 1) fail<UsageError>("--images must be at least 1");
  if (o_.images > kMaxSyntheticImages) {
    fail<UsageError>("--images {}: synthetic runs take at most {} images", o_.images, kMaxSyntheticImages);
  }
  Progress bar("simulate", static_cast<int64_t>(net.size()) * o_.images);
  sim::simulate_synthetic(net, spec, static_cast<int>(o_.images), *run_, threads_, o_.space_to_depth,
                          [&] { bar.advance(); });
  bar.finish();
  notes_["source"] = fmt::format("synthetic: zero_fraction {}, magnitude {}, act_bits {}, wgt_bits {}, seed {}",
                                 spec.zero_fraction, spec.magnitude, spec.act_bits, spec.wgt_bits, spec.seed);
}

SimulationResult Simulation::finish() {
  SimulationResult out;
  // Without a profile every format fills the 16-bit word, so the bit-serial designs cannot show
  // what reduced precision buys: say so where the numbers are read.
  constexpr const char* kNoProfile =
      "derived from each tensor's range (docs/simulator.md): every layer fills 16 bits, so Stripes, Dynamic "
      "Stripes, Tartan and Loom gain little; per-layer precisions that keep accuracy come from `effectual search "
      "precision MODEL` (--precision-profile)";
  out.no_profile = quantized_ == 0
                       ? kNoProfile
                       : fmt::format(
                             "{} quantized layer(s) of the model: their integer codes (code - zero point) at the "
                             "width the 8-bit codes and zero points need (docs/quantization.md); other layers: {}",
                             quantized_, kNoProfile);
  notes_["precision"] = o_.precision_profile.empty() ? out.no_profile : "profile: " + o_.precision_profile;
  if (!o_.thresholds.empty()) notes_["thresholds"] = o_.thresholds;
  if (!o_.config.empty()) notes_["config"] = o_.config;
  if (!o_.gates.empty()) notes_["gates"] = o_.gates;
  out.results = run_->results();
  out.results.notes = notes_;
  for (const sim::LayerRecord& rec : out.results.records) {
    if (rec.check < 0) continue;
    ++out.checked;
    if (rec.check == 1 && out.mismatch.empty()) {
      out.mismatch = fmt::format("image {} layer '{}' design {}: relative error {:.3g}", rec.image, rec.name,
                                 out.results.designs[rec.design], rec.check_error);
    }
  }
  return out;
}

std::vector<LayerGeometry> synthetic_network(const std::string& network, const cli::Common& o) {
  if (!network.empty()) {
    std::vector<LayerGeometry> net = sim::network_preset(network);
    if (!net.empty()) return net;
    if (cli::has_ext(network, {".onnx"})) {  // a model's geometry, its weights ignored
      cli::Common c = o;
      c.model = network;
      cli::Loaded l = cli::load(c);
      return model_geometry(*l.exec, l.model.input_shapes());
    }
    std::string text;
    try {
      text = read_file(network, 1 << 20);
    } catch (const DataError& e) {
      fail<UsageError>("--network: '{}' is neither a preset (vgg16, vgg16-conv) nor a readable file", network);
    }
    return sim::network_from_yaml(text, network);
  }
  if (o.model.empty()) fail<UsageError>("--synthetic needs MODEL (its geometry) or --network FILE|vgg16");
  cli::Loaded l = cli::load(o);
  return model_geometry(*l.exec, l.model.input_shapes());
}

nlohmann::json simulation_json(const SimulationResult& r) {
  if (!r.mismatch.empty()) fail("--check-values: {}", r.mismatch);
  return sim::to_json(r.results);
}

}  // namespace eff::api
