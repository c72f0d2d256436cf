#include "sim/simulator.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "sim/cost/area_report.h"
#include "sim/cost/memory.h"
#include "sim/machinery.h"

namespace eff::sim {

LayerStats& LayerStats::operator+=(const LayerStats& o) {
  cycles += o.cycles;
  macs += o.macs;
  lane_cycles_busy += o.lane_cycles_busy;
  lane_cycles_total += o.lane_cycles_total;
  ideal_bit_products += o.ideal_bit_products;
  bit_products += o.bit_products;
  adder_tree_adds += o.adder_tree_adds;
  shifter_ops += o.shifter_ops;
  accumulator_updates += o.accumulator_updates;
  act_buffer_read_bits += o.act_buffer_read_bits;
  wgt_buffer_read_bits += o.wgt_buffer_read_bits;
  act_buffer_write_bits += o.act_buffer_write_bits;
  wgt_buffer_write_bits += o.wgt_buffer_write_bits;
  offchip_act_bytes += o.offchip_act_bytes;
  offchip_wgt_bytes += o.offchip_wgt_bytes;
  return *this;
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (ch != ' ') {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct ConfigEntry {
  std::string id, label;
  std::map<std::string, std::string> values;
  std::string where;
};

std::vector<ConfigEntry> parse_config_unchecked(const std::string& text, const std::string& file);

// yaml-cpp throws on any node read as the wrong kind (a map where a key's string should be); every
// such case is a malformed file (found by tests/fuzz/fuzz_configs.cpp).
std::vector<ConfigEntry> parse_config(const std::string& text, const std::string& file) {
  try {
    return parse_config_unchecked(text, file);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: not a design configuration ({})", file, e.what());
  }
}

std::vector<ConfigEntry> parse_config_unchecked(const std::string& text, const std::string& file) {
  std::vector<ConfigEntry> out;
  if (text.empty()) return out;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: line {}: {}", file, e.mark.line + 1, e.msg);
  }
  if (root.IsNull()) return out;
  if (!root.IsMap()) fail<ConfigError>("{}: the top level must be a mapping with a 'designs' list", file);
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key != "designs" && key != "version") fail<ConfigError>("{}: {}: unknown key", file, key);
  }
  if (root["version"] && (!root["version"].IsScalar() || root["version"].as<std::string>() != "1")) {
    fail<ConfigError>("{}: version: only version 1 is understood", file);
  }
  const YAML::Node list = root["designs"];
  if (!list) return out;
  if (!list.IsSequence()) fail<ConfigError>("{}: designs: must be a list of mappings", file);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = fmt::format("{}: designs[{}]", file, i);
    const YAML::Node n = list[i];
    if (!n.IsMap()) fail<ConfigError>("{}: must be a mapping", where);
    ConfigEntry e;
    e.where = where;
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (!kv.second.IsScalar()) fail<ConfigError>("{}.{}: must be a scalar", where, key);
      const std::string value = kv.second.as<std::string>();
      if (key == "design") {
        e.id = value;
      } else if (key == "name") {
        e.label = value;
      } else {
        e.values[key] = value;
      }
    }
    if (e.id.empty()) fail<ConfigError>("{}: 'design' is required", where);
    if (!find_design(e.id)) fail<ConfigError>("{}.design: unknown design '{}'", where, e.id);
    if (e.label.empty()) e.label = e.id;
    out.push_back(std::move(e));
  }
  return out;
}

std::unique_ptr<Design> make_design(const std::string& id, Params& p) {
  const DesignEntry* e = find_design(id);
  EFF_ASSERT(e != nullptr);
  std::unique_ptr<Design> d = e->make(p);
  p.finish();
  return d;
}

}  // namespace

DesignSet build_designs(const std::string& list, const std::string& config_text, const std::string& file) {
  const std::vector<ConfigEntry> config = parse_config(config_text, file);
  std::vector<std::string> ids;
  if (list == "all") {
    for (const DesignEntry& e : design_registry()) ids.push_back(e.id);
  } else if (!list.empty()) {
    ids = split_list(list);
  }
  for (const std::string& id : ids) {
    if (!find_design(id)) {
      std::vector<std::string> known;
      for (const DesignEntry& e : design_registry()) known.push_back(e.id);
      fail<UsageError>("--designs: unknown design '{}' (known: {})", id, fmt::join(known, ", "));
    }
  }
  DesignSet set;
  std::set<std::string> labels;
  auto add = [&](const std::string& id, const std::string& label, Params& p) {
    if (!labels.insert(label).second) fail<ConfigError>("{}: design name '{}' is used twice", p.where(), label);
    DesignInstance d;
    d.id = id;
    d.label = label;
    d.design = make_design(id, p);
    set.designs.push_back(std::move(d));
  };
  // Configured entries first (they may define several instances of one design); listed designs
  // without a config entry get their defaults.
  std::set<std::string> configured;
  for (const ConfigEntry& e : config) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), e.id) == ids.end()) continue;
    Params p(e.values, e.where);
    add(e.id, e.label, p);
    configured.insert(e.id);
  }
  for (const std::string& id : ids) {
    if (configured.count(id)) continue;
    Params p;
    add(id, id, p);
  }
  if (set.designs.empty()) fail<UsageError>("no design selected (--designs all|LIST or a config with designs)");
  // Keep registry order so tables read the same whatever the flag order.
  std::stable_sort(set.designs.begin(), set.designs.end(), [](const DesignInstance& a, const DesignInstance& b) {
    auto pos = [](const std::string& id) {
      const auto& r = design_registry();
      for (size_t i = 0; i < r.size(); ++i) {
        if (r[i].id == id) return i;
      }
      return r.size();
    };
    return pos(a.id) < pos(b.id);
  });
  // Each design's baseline: a DaDianNao of its tiles, rows and lanes and its on-chip capacities.
  for (DesignInstance& d : set.designs) {
    Grid g = d.design->grid();
    g.columns = 1;
    const cost::OnChipMemory m = d.design->inventory().memory;
    size_t b = 0;
    while (b < set.baselines.size() && !(set.baseline_grids[b] == g && set.baseline_memories[b] == m)) ++b;
    if (b == set.baselines.size()) {
      Params p({{"tiles", std::to_string(g.tiles)},
                {"rows", std::to_string(g.rows)},
                {"lanes", std::to_string(g.lanes)},
                {"am_kib", std::to_string(m.am_kib)},
                {"wm_kib_per_tile", std::to_string(m.wm_kib_per_tile)}},
               "baseline");
      set.baselines.push_back(make_design("dadiannao", p));
      set.baseline_grids.push_back(g);
      set.baseline_memories.push_back(m);
    }
    d.baseline = static_cast<int>(b);
  }
  return set;
}

DesignSet build_designs_from_file(const std::string& list, const std::string& config_path) {
  if (config_path.empty()) return build_designs(list.empty() ? "all" : list, "", "");
  std::string text;
  try {
    text = read_file(config_path, 1 << 20);
  } catch (const DataError& e) {
    throw ConfigError(e.what());
  }
  return build_designs(list, text, config_path);
}

std::vector<ParamDecl> describe_design(const std::string& id) {
  const DesignEntry* e = find_design(id);
  if (!e) fail<UsageError>("--describe: unknown design '{}'", id);
  Params p;
  e->make(p);
  return p.declared();
}

int check_layer_values(const Design& d, const SimLayer& l, double& relative_error) {
  relative_error = 0;
  if (l.reference_output.empty() && l.reference_sums.empty()) return -1;
  std::vector<int64_t> sums;
  if (!d.recompute_outputs(l, sums)) return -1;
  if (!l.reference_sums.empty()) {  // integer codes: exactly equal
    if (sums.size() != l.reference_sums.size()) return 1;
    int64_t worst = 0, largest = 1;
    for (size_t i = 0; i < sums.size(); ++i) {
      worst = std::max(worst, std::abs(sums[i] - l.reference_sums[i]));
      largest = std::max(largest, std::abs(l.reference_sums[i]));
    }
    relative_error = double(worst) / double(largest);
    return worst == 0 ? 0 : 1;
  }
  if (sums.size() != l.reference_output.size()) return 1;
  const double scale = l.act_format.step() * l.wgt_format.step();
  const int64_t W = l.windows();
  double worst = 0, largest = 0;
  for (size_t i = 0; i < sums.size(); ++i) {
    const int64_t k = static_cast<int64_t>(i) / W;
    double v = double(sums[i]) * scale + (l.reference_bias.empty() ? 0.0 : l.reference_bias[k]);
    if (l.reference_relu) v = std::max(0.0, v);
    if (l.reference_clip) v = std::clamp(v, double(l.reference_min), double(l.reference_max));
    worst = std::max(worst, std::fabs(v - double(l.reference_output[i])));
    largest = std::max(largest, std::fabs(double(l.reference_output[i])));
  }
  relative_error = worst / std::max(largest, 1e-6);
  return relative_error <= 1e-3 ? 0 : 1;
}

SimRun::SimRun(const DesignSet& set, SimContext ctx, const cost::Technology* technology)
    : set_(set), ctx_(ctx), technology_(technology ? *technology : cost::load_technology("")) {
  for (const DesignInstance& d : set_.designs) costs_.emplace_back(d.design->inventory(), technology_);
  for (const auto& b : set_.baselines) baseline_costs_.emplace_back(b->inventory(), technology_);
}

namespace {
// Input-major off-chip weights ([Ni][Nf]): a filter-set step reads, for each of the filter's
// inputs, its filters' weights side by side: weight bytes / (steps x inputs) contiguous bytes
// per run. Filter-major weights: 0 (each step one contiguous block).
uint64_t input_major_run_bytes(const SimLayer& l, uint64_t weight_bytes, int64_t filter_sets) {
  if (!l.wgts_input_major_offchip || l.K <= 0 || l.wgt_count <= 0) return 0;
  const double inputs = double(l.wgt_count) / double(l.K);
  return std::max<uint64_t>(1, uint64_t(double(weight_bytes) / (double(std::max<int64_t>(1, filter_sets)) * inputs)));
}

// Every output value is written once into the activation memory, at the design's storage width.
uint64_t output_write_bits(const SimLayer& l, const cost::CostModel& c) {
  return static_cast<uint64_t>(double(l.K) * double(l.windows()) * c.act_write_bits_per_output());
}
}  // namespace

void SimRun::simulate(const SimLayer& layer) {
  std::vector<LayerStats> base(set_.baselines.size());
  std::vector<cost::EnergyBreakdown> base_energy(set_.baselines.size());
  for (size_t b = 0; b < set_.baselines.size(); ++b) {
    base[b] = set_.baselines[b]->simulate(layer, ctx_);
    base[b].act_buffer_write_bits = output_write_bits(layer, baseline_costs_[b]);
    base_energy[b] = baseline_costs_[b].energy(base[b]);
  }
  std::vector<LayerRecord> recs;
  for (size_t d = 0; d < set_.designs.size(); ++d) {
    LayerRecord r;
    r.image = layer.image;
    r.layer = layer.index;
    r.name = layer.name;
    r.kind = layer.fc_over_rows ? LayerKind::kFC : layer.kind;
    r.design = static_cast<int>(d);
    r.stats = set_.designs[d].design->simulate(layer, ctx_);
    r.stats.act_buffer_write_bits = output_write_bits(layer, costs_[d]);
    r.baseline_stats = base[set_.designs[d].baseline];
    r.baseline_cycles = base[set_.designs[d].baseline].cycles;
    r.energy = costs_[d].energy(r.stats);
    r.baseline_energy = base_energy[set_.designs[d].baseline];
    const LayerStats& bs = base[set_.designs[d].baseline];
    r.filter_sets = walk_shape(layer, set_.designs[d].design->grid()).filter_sets;
    r.baseline_filter_sets = walk_shape(layer, set_.baseline_grids[set_.designs[d].baseline]).filter_sets;
    r.output_bytes = static_cast<uint64_t>(layer.K) * static_cast<uint64_t>(layer.windows()) * 2;
    r.weight_run_bytes = input_major_run_bytes(layer, r.stats.offchip_wgt_bytes, r.filter_sets);
    r.baseline_weight_run_bytes = input_major_run_bytes(layer, bs.offchip_wgt_bytes, r.baseline_filter_sets);
    r.baseline_offchip_act_bytes = bs.offchip_act_bytes;
    r.baseline_offchip_wgt_bytes = bs.offchip_wgt_bytes;
    r.footprint_16bit_bytes = bytes_at(layer.act_count, 16) + bytes_at(layer.wgt_count, 16);
    r.footprint_packed_bytes = bytes_at(layer.act_count, std::clamp(layer.act_bits, 1, 16)) +
                               bytes_at(layer.wgt_count, std::clamp(layer.wgt_bits, 1, 16));
    if (ctx_.check_values) r.check = check_layer_values(*set_.designs[d].design, layer, r.check_error);
    recs.push_back(std::move(r));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& r : recs) records_.push_back(std::move(r));
}

bool SimRun::needs_weights() const {
  if (ctx_.check_values) return true;
  for (const DesignInstance& d : set_.designs) {
    if (d.design->needs_weights()) return true;
  }
  return false;
}

// The memory timeline of every (design, image) and of its DaDianNao, layers in network order
// (records are sorted by image, layer, design); stalls also cost leakage and clock energy.
void SimRun::add_memory(SimResults& r) const {
  const double bytes_per_cycle = technology_["offchip.bandwidth_gb_per_s"] * 1e9 / technology_.frequency_hz();
  for (size_t d = 0; d < set_.designs.size(); ++d) {
    const cost::OnChipMemory m = set_.designs[d].design->inventory().memory;
    const Grid g = set_.designs[d].design->grid();
    const cost::MemoryConfig cfg{double(g.tiles) * double(m.wm_kib_per_tile) * 1024, double(m.am_kib) * 1024,
                                 bytes_per_cycle, dram_ ? &*dram_ : nullptr, technology_.frequency_hz()};
    std::map<int, std::vector<LayerRecord*>> by_image;
    for (LayerRecord& rec : r.records) {
      if (rec.design == static_cast<int>(d)) by_image[rec.image].push_back(&rec);
    }
    const int images = static_cast<int>(by_image.size());
    int rank = 0;
    const cost::CostModel& own_cost = costs_[d];
    const cost::CostModel& base_cost = baseline_costs_[set_.designs[d].baseline];
    for (auto& [image, recs] : by_image) {
      std::vector<cost::LayerTraffic> own, base;
      for (const LayerRecord* rec : recs) {
        own.push_back({rec->stats.cycles, rec->stats.offchip_wgt_bytes, rec->stats.offchip_act_bytes, rec->output_bytes,
                       rec->filter_sets, rec->weight_run_bytes});
        base.push_back({rec->baseline_cycles, rec->baseline_offchip_wgt_bytes, rec->baseline_offchip_act_bytes,
                        rec->output_bytes, rec->baseline_filter_sets, rec->baseline_weight_run_bytes});
      }
      const auto mine = cost::memory_timeline(own, cfg, rank, images);
      const auto theirs = cost::memory_timeline(base, cfg, rank, images);
      ++rank;
      for (size_t i = 0; i < recs.size(); ++i) {
        LayerRecord& rec = *recs[i];
        rec.memory_stall_cycles = mine[i].stall_cycles;
        rec.baseline_memory_stall_cycles = theirs[i].stall_cycles;
        // Off-chip weight traffic and weight-memory writes are what the timeline loads (resident
        // weights: this image's share of the one load), so the energy is recomputed with them.
        rec.stats.offchip_wgt_bytes = mine[i].weight_bytes_loaded;
        rec.stats.wgt_buffer_write_bits = 8 * mine[i].weight_bytes_loaded;
        rec.baseline_stats.offchip_wgt_bytes = theirs[i].weight_bytes_loaded;
        rec.baseline_stats.wgt_buffer_write_bits = 8 * theirs[i].weight_bytes_loaded;
        rec.energy = own_cost.energy(rec.stats);
        rec.energy += own_cost.idle_energy(mine[i].stall_cycles);
        rec.baseline_energy = base_cost.energy(rec.baseline_stats);
        rec.baseline_energy += base_cost.idle_energy(theirs[i].stall_cycles);
        if (dram_) {
          // --dram: off-chip energy is the DRAM's for the transfers the timeline made.
          rec.energy.offchip = mine[i].offchip_pj;
          rec.baseline_energy.offchip = theirs[i].offchip_pj;
        }
      }
    }
  }
}

SimResults SimRun::results() const {
  SimResults r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    r.records = records_;
  }
  std::sort(r.records.begin(), r.records.end(), [](const LayerRecord& a, const LayerRecord& b) {
    return std::tie(a.image, a.layer, a.design) < std::tie(b.image, b.layer, b.design);
  });
  const size_t n = set_.designs.size();
  for (const DesignInstance& d : set_.designs) {
    r.designs.push_back(d.label);
    r.design_ids.push_back(d.id);
    r.grids.push_back(d.design->grid());
  }
  r.technology = fmt::format("{} ({})", technology_.node, technology_.file);
  r.memory_model = dram_ ? fmt::format("DRAM timing: {} ({})", dram_->name, dram_->file)
                         : fmt::format("bandwidth only: {} GB/s", technology_["offchip.bandwidth_gb_per_s"]);
  r.frequency_hz = technology_.frequency_hz();
  for (size_t d = 0; d < n; ++d) {
    r.areas.push_back(costs_[d].area());
    r.baseline_areas.push_back(baseline_costs_[set_.designs[d].baseline].area());
  }
  r.conv.resize(n);
  r.fc.resize(n);
  r.all.resize(n);
  std::set<int> images;
  for (const LayerRecord& rec : r.records) images.insert(rec.image);
  r.images = static_cast<int>(images.size());
  add_memory(r);
  for (const LayerRecord& rec : r.records) {
    Totals& t = rec.kind == LayerKind::kFC ? r.fc[rec.design] : r.conv[rec.design];
    for (Totals* x : {&t, &r.all[rec.design]}) {
      x->stats += rec.stats;
      x->baseline_cycles += rec.baseline_cycles;
      x->energy += rec.energy;
      x->baseline_energy += rec.baseline_energy;
      x->memory_stall_cycles += rec.memory_stall_cycles;
      x->baseline_memory_stall_cycles += rec.baseline_memory_stall_cycles;
      x->footprint_16bit_bytes += rec.footprint_16bit_bytes;
      x->footprint_packed_bytes += rec.footprint_packed_bytes;
      x->packing_saving_pj +=
          double(rec.footprint_16bit_bytes - rec.footprint_packed_bytes) * 8 * technology_["offchip.pj_per_bit"];
    }
  }
  return r;
}

namespace {

nlohmann::json stats_json(const LayerStats& s) {
  return {{"cycles", s.cycles},
          {"macs", s.macs},
          {"lane_cycles_busy", s.lane_cycles_busy},
          {"lane_cycles_total", s.lane_cycles_total},
          {"ideal_bit_products", s.ideal_bit_products},
          {"bit_products", s.bit_products},
          {"adder_tree_adds", s.adder_tree_adds},
          {"shifter_ops", s.shifter_ops},
          {"accumulator_updates", s.accumulator_updates},
          {"act_buffer_read_bits", s.act_buffer_read_bits},
          {"wgt_buffer_read_bits", s.wgt_buffer_read_bits},
          {"act_buffer_write_bits", s.act_buffer_write_bits},
          {"wgt_buffer_write_bits", s.wgt_buffer_write_bits},
          {"offchip_act_bytes", s.offchip_act_bytes},
          {"offchip_wgt_bytes", s.offchip_wgt_bytes}};
}

nlohmann::json totals_json(const Totals& t, const SimResults& r) {
  nlohmann::json j = stats_json(t.stats);
  j["baseline_cycles"] = t.baseline_cycles;
  j["speedup"] = t.speedup();
  j["ideal_speedup"] = t.ideal_speedup();
  j["utilisation"] = t.utilisation();
  j["energy_pj"] = cost::energy_json(t.energy);
  j["baseline_energy_pj"] = cost::energy_json(t.baseline_energy);
  j["energy_efficiency"] = t.energy_efficiency();
  j["system_energy_efficiency"] = t.system_energy_efficiency();
  j["energy_per_inference_j"] = r.images ? t.energy.total() * 1e-12 / r.images : 0.0;
  j["power_w"] = r.power_w(t);
  j["memory_stall_cycles"] = t.memory_stall_cycles;
  j["cycles_with_memory"] = t.stats.cycles + t.memory_stall_cycles;
  j["baseline_cycles_with_memory"] = t.baseline_cycles + t.baseline_memory_stall_cycles;
  j["speedup_with_memory"] = t.speedup_with_memory();
  j["packing"] = {{"footprint_16bit_bytes", t.footprint_16bit_bytes},
                  {"footprint_packed_bytes", t.footprint_packed_bytes},
                  {"saving_bytes", t.footprint_16bit_bytes - t.footprint_packed_bytes},
                  {"saving_pj", t.packing_saving_pj}};
  return j;
}

const char* kind_name(LayerKind k) {
  return k == LayerKind::kFC ? "fc" : "conv";
}

}  // namespace

nlohmann::json to_json(const SimResults& r) {
  nlohmann::json j;
  j["format"] = "effectual-simulation";
  j["version"] = 1;
  j["images"] = r.images;
  j["notes"] = r.notes;
  j["technology"] = r.technology;
  j["memory_model"] = r.memory_model;
  j["frequency_hz"] = r.frequency_hz;
  nlohmann::json designs = nlohmann::json::array();
  for (size_t d = 0; d < r.designs.size(); ++d) {
    const Grid& g = r.grids[d];
    designs.push_back(
        {{"name", r.designs[d]},
         {"design", r.design_ids[d]},
         {"grid", {{"tiles", g.tiles}, {"rows", g.rows}, {"lanes", g.lanes}, {"columns", g.columns}}},
         {"baseline", fmt::format("dadiannao {}-{}-{}", g.tiles, g.rows, g.lanes)},
         {"area", cost::area_json(r.areas[d])},
         {"baseline_area", cost::area_json(r.baseline_areas[d])},
         {"relative_area", r.relative_area(d)},
         {"totals",
          {{"conv", totals_json(r.conv[d], r)}, {"fc", totals_json(r.fc[d], r)}, {"all", totals_json(r.all[d], r)}}}});
  }
  j["designs"] = std::move(designs);
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerRecord& rec : r.records) {
    nlohmann::json l = stats_json(rec.stats);
    l["image"] = rec.image;
    l["layer"] = rec.layer;
    l["name"] = rec.name;
    l["kind"] = kind_name(rec.kind);
    l["design"] = r.designs[rec.design];
    l["baseline_cycles"] = rec.baseline_cycles;
    l["energy_pj"] = cost::energy_json(rec.energy);
    l["baseline_energy_pj"] = rec.baseline_energy.total();
    l["memory_stall_cycles"] = rec.memory_stall_cycles;
    l["cycles_with_memory"] = rec.stats.cycles + rec.memory_stall_cycles;
    l["baseline_memory_stall_cycles"] = rec.baseline_memory_stall_cycles;
    l["footprint_16bit_bytes"] = rec.footprint_16bit_bytes;
    l["footprint_packed_bytes"] = rec.footprint_packed_bytes;
    l["energy_efficiency"] = rec.energy.on_chip() > 0 ? rec.baseline_energy.on_chip() / rec.energy.on_chip() : 0.0;
    if (rec.check >= 0) l["check"] = {{"match", rec.check == 0}, {"relative_error", rec.check_error}};
    l["speedup"] = rec.stats.cycles ? double(rec.baseline_cycles) / double(rec.stats.cycles) : 0.0;
    l["ideal_speedup"] =
        rec.stats.ideal_bit_products ? double(rec.stats.macs) * 256.0 / double(rec.stats.ideal_bit_products) : 0.0;
    l["utilisation"] =
        rec.stats.lane_cycles_total ? double(rec.stats.lane_cycles_busy) / double(rec.stats.lane_cycles_total) : 0.0;
    layers.push_back(std::move(l));
  }
  j["layers"] = std::move(layers);
  return j;
}

namespace {
const char* kStatsHeader =
    "cycles,macs,lane_cycles_busy,lane_cycles_total,ideal_bit_products,bit_products,adder_tree_adds,shifter_ops,"
    "accumulator_updates,act_buffer_read_bits,wgt_buffer_read_bits,offchip_act_bytes,offchip_wgt_bytes";
std::string stats_csv(const LayerStats& s) {
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}", s.cycles, s.macs, s.lane_cycles_busy,
                     s.lane_cycles_total, s.ideal_bit_products, s.bit_products, s.adder_tree_adds, s.shifter_ops,
                     s.accumulator_updates, s.act_buffer_read_bits, s.wgt_buffer_read_bits, s.offchip_act_bytes,
                     s.offchip_wgt_bytes);
}
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}
}  // namespace

std::string energy_header() {
  std::string h;
  for (const auto& [name, field] : cost::energy_fields()) h += fmt::format(",energy_{}_pj", name);
  return h +
         ",energy_pj,baseline_energy_pj,energy_efficiency,memory_stall_cycles,footprint_16bit_bytes,"
         "footprint_packed_bytes";
}
// energy_efficiency: on-chip energies (seed 001 Table 1); energy_pj and baseline_energy_pj
// include off-chip transfers.
std::string energy_csv(const cost::EnergyBreakdown& e, const cost::EnergyBreakdown& baseline, uint64_t stalls,
                       uint64_t footprint16, uint64_t packed) {
  std::string s;
  for (const auto& [name, field] : cost::energy_fields()) s += fmt::format(",{:.6g}", e.*field);
  return s + fmt::format(",{:.6g},{:.6g},{:.6f},{},{},{}", e.total(), baseline.total(),
                         e.on_chip() > 0 ? baseline.on_chip() / e.on_chip() : 0.0, stalls, footprint16, packed);
}

std::string layers_csv(const SimResults& r) {
  std::string out =
      fmt::format("image,layer,name,kind,design,baseline_cycles,speedup,{}{}\n", kStatsHeader, energy_header());
  for (const LayerRecord& rec : r.records) {
    out += fmt::format("{},{},{},{},{},{},{:.6f},{}{}\n", rec.image, rec.layer, csv_field(rec.name),
                       kind_name(rec.kind), csv_field(r.designs[rec.design]), rec.baseline_cycles,
                       rec.stats.cycles ? double(rec.baseline_cycles) / double(rec.stats.cycles) : 0.0,
                       stats_csv(rec.stats),
                       energy_csv(rec.energy, rec.baseline_energy, rec.memory_stall_cycles, rec.footprint_16bit_bytes,
                                  rec.footprint_packed_bytes));
  }
  return out;
}

std::string totals_csv(const SimResults& r) {
  std::string out = fmt::format(
      "design,layers,baseline_cycles,speedup,ideal_speedup,utilisation,{}{},power_w,area_mm2,"
      "relative_area\n",
      kStatsHeader, energy_header());
  for (size_t d = 0; d < r.designs.size(); ++d) {
    const std::pair<const char*, const Totals*> parts[] = {{"conv", &r.conv[d]}, {"fc", &r.fc[d]}, {"all", &r.all[d]}};
    for (const auto& [name, t] : parts) {
      out += fmt::format("{},{},{},{:.6f},{:.6f},{:.6f},{}{},{:.6g},{:.6g},{:.6f}\n", csv_field(r.designs[d]), name,
                         t->baseline_cycles, t->speedup(), t->ideal_speedup(), t->utilisation(), stats_csv(t->stats),
                         energy_csv(t->energy, t->baseline_energy, t->memory_stall_cycles, t->footprint_16bit_bytes,
                                    t->footprint_packed_bytes),
                         r.power_w(*t), r.areas[d].total_mm2, r.relative_area(d));
    }
  }
  return out;
}

namespace {
// Small shares keep a decimal: a layer that uses 0.4% of the lanes is not "0%".
std::string percent_text(double p) {
  return p < 9.95 ? fmt::format("{:.1f}%", p) : fmt::format("{:.0f}%", p);
}
}  // namespace

std::string format_table(const SimResults& r) {
  auto cell = [](const Totals& t) { return t.stats.cycles ? fmt::format("{:.2f}x", t.speedup()) : std::string("-"); };
  auto eff = [](const Totals& t) {
    return t.stats.cycles ? fmt::format("{:.2f}x", t.energy_efficiency()) : std::string("-");
  };
  std::string out =
      fmt::format("{:<16} {:<10} {:>7} {:>7} {:>7} {:>8} {:>8} {:>8} {:>7} {:>8} {:>6} {:>14} {:>8} {:>14}\n", "design",
                  "vs DaDN", "conv", "FC", "all", "eff.conv", "eff.FC", "area", "power", "ideal", "util",
                  "cycles (all)", "all+mem", "cycles+memory");
  for (size_t d = 0; d < r.designs.size(); ++d) {
    const Grid& g = r.grids[d];
    const Totals& a = r.all[d];
    out += fmt::format(
        "{:<16} {:<10} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7.2f}x {:>6.1f}W {:>8} {:>6} {:>14} {:>7.2f}x {:>14}\n",
        r.designs[d], fmt::format("{}-{}-{}", g.tiles, g.rows, g.lanes), cell(r.conv[d]), cell(r.fc[d]), cell(a),
        eff(r.conv[d]), eff(r.fc[d]), r.relative_area(d), r.power_w(a), fmt::format("{:.2f}x", a.ideal_speedup()),
        percent_text(100.0 * a.utilisation()), a.stats.cycles, a.speedup_with_memory(),
        a.stats.cycles + a.memory_stall_cycles);
  }
  out += fmt::format(
      "\nperformance conv/FC/all and energy efficiency (conv, FC) relative to the DaDianNao of the same grid "
      "(seed 001 Table 1; on-chip energy, off-chip transfers in the JSON); area relative to it; power: average chip "
      "power over the run ({}, {:.0f} MHz); +mem: with memory stalls (off-chip bandwidth, on-chip capacities)\n",
      r.technology, r.frequency_hz / 1e6);
  if (!r.designs.empty() && r.all[0].footprint_16bit_bytes > 0) {
    const Totals& a = r.all[0];
    const double saved = double(a.footprint_16bit_bytes - a.footprint_packed_bytes);
    out += fmt::format(
        "packing (Proteus): inputs and weights off-chip {:.1f} MB at 16 bits, {:.1f} MB at the layers' precisions "
        "(-{:.0f}%, {:.3g} mJ less off-chip energy)\n",
        a.footprint_16bit_bytes / 1e6, a.footprint_packed_bytes / 1e6, 100.0 * saved / double(a.footprint_16bit_bytes),
        a.packing_saving_pj * 1e-9);
  }
  return out;
}

}  // namespace eff::sim
