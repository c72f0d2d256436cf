#include "profile/profile_json.h"

#include <fmt/format.h>

#include <cmath>

namespace eff::profile {

using nlohmann::json;

namespace {

double frac(double num, double den) {
  return den > 0 ? num / den : 0.0;
}

json finite_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json effectual_bits_json(int64_t count, int64_t count_mac, int64_t nonzero, int64_t nonzero_mac, int64_t pop,
                         int64_t pop_mac, int64_t booth, int64_t booth_mac, int bits, bool per_mac) {
  json j = {{"bits", bits},
            {"nonzero_fraction", frac(nonzero, count)},
            {"popcount_fraction", frac(pop, double(bits) * count)},
            {"booth_fraction", frac(booth, double(bits) * count)},
            {"popcount_fraction_nonzero", frac(pop, double(bits) * nonzero)},
            {"booth_fraction_nonzero", frac(booth, double(bits) * nonzero)},
            {"popcount_per_value", frac(pop, count)},
            {"booth_per_value", frac(booth, count)}};
  if (per_mac) {
    j["popcount_fraction_per_mac"] = frac(pop_mac, double(bits) * count_mac);
    j["booth_fraction_per_mac"] = frac(booth_mac, double(bits) * count_mac);
    j["popcount_fraction_nonzero_per_mac"] = frac(pop_mac, double(bits) * nonzero_mac);
    j["booth_fraction_nonzero_per_mac"] = frac(booth_mac, double(bits) * nonzero_mac);
  }
  return j;
}

// The smallest (int_bits, frac_bits) that holds every code of format `f` seen (see header).
// A tensor without negative values needs no sign bit: its format is unsigned and int_bits count
// magnitude bits only (seed 001 Table 2's precisions).
json lossless_format(const ValueCounters& c, const FixedPointFormat& f) {
  const bool is_signed = c.negative;
  if (c.msb_max < 0) return {{"int_bits", is_signed ? 1 : 0}, {"frac_bits", is_signed ? 0 : 1}, {"signed", is_signed}};
  const int int_bits = std::max(is_signed ? 1 : 0, c.msb_max - f.frac_bits + (is_signed ? 2 : 1));
  const int frac_bits = std::max(0, f.frac_bits - c.lsb_min);
  // Unsigned: msb - lsb + 1 <= 15, since the codes of the signed 16-bit format f are below 2^15.
  return {{"int_bits", int_bits}, {"frac_bits", frac_bits}, {"signed", is_signed}};
}

json operand_json(const ValueCounters& c, const std::vector<float>& thresholds, const std::vector<double>& absolute,
                  const std::vector<double>& relative, const FixedPointFormat& fixed, const std::string& source,
                  bool per_mac) {
  json j;
  j["count"] = c.count;
  j["nonfinite"] = c.nonfinite;
  j["zero_fraction"] = frac(c.zeros, c.count);
  if (per_mac) j["zero_fraction_per_mac"] = frac(c.zeros_mac, c.count_mac);
  json nz = json::array();
  for (size_t t = 0; t < thresholds.size() && t < c.below.size(); ++t) {
    json e = {{"threshold", thresholds[t]}, {"fraction", frac(c.below[t], c.count)}};
    e["relative"] = t < absolute.size() ? json(nullptr) : json(relative[t - absolute.size()]);
    if (per_mac) e["fraction_per_mac"] = frac(c.below_mac[t], c.count_mac);
    nz.push_back(e);
  }
  j["near_zero"] = nz;
  const int64_t finite = c.count - c.nonfinite;
  j["min"] = finite > 0 ? finite_or_null(c.min) : json(nullptr);
  j["max"] = finite > 0 ? finite_or_null(c.max) : json(nullptr);
  j["mean"] = finite > 0 ? json(c.sum / finite) : json(nullptr);
  j["log2_histogram"] = {{"first_exponent", kLog2Min},
                         {"zeros", c.zeros},
                         {"counts", std::vector<int64_t>(c.log2_hist.begin(), c.log2_hist.end())}};
  const int sign = c.negative ? 1 : 0;
  const int needed = c.msb_max < 0 ? 1 : c.msb_max + 1 + sign;
  const int trimmed = c.msb_max < 0 ? 1 : c.msb_max - c.lsb_min + 1 + sign;
  j["fixed16"] = {
      {"int_bits", fixed.int_bits},
      {"frac_bits", fixed.frac_bits},
      {"source", source},
      {"saturated_fraction", frac(c.saturated, c.count)},
      {"signed", c.negative},
      {"msb", c.msb_max},
      {"lsb", c.lsb_min},
      {"bits_needed", needed},
      {"bits_needed_trimmed", trimmed},
      {"lossless_format", lossless_format(c, fixed)},
      {"effectual_bits", effectual_bits_json(c.count, c.count_mac, c.nonzero16, c.nonzero16_mac, c.popcount16,
                                             c.popcount16_mac, c.booth16, c.booth16_mac, 16, per_mac)}};
  j["uniform8"] = {{"effectual_bits", effectual_bits_json(c.count, c.count_mac, c.nonzero8, c.nonzero8_mac, c.popcount8,
                                                          c.popcount8_mac, c.booth8, c.booth8_mac, 8, per_mac)}};
  return j;
}

json roofline_json(const ComputeMemory& cm, const std::vector<Machine>& machines) {
  json out = json::array();
  for (const Machine& m : machines) {
    auto placed = [&](double intensity) {
      RooflinePlacement p = place_on_roofline(m, intensity);
      return json{{"intensity", p.intensity},
                  {"attainable_ops_per_s", p.attainable},
                  {"bound", p.memory_bound ? "memory" : "compute"}};
    };
    out.push_back({{"machine", m.name},
                   {"ridge", m.peak_ops_per_s / m.bytes_per_s},
                   {"weights_offchip", placed(cm.intensity_offchip)},
                   {"weights_onchip", placed(cm.intensity_onchip)}});
  }
  return out;
}

json compute_json(const ComputeMemory& c) {
  return {{"macs", c.macs},
          {"ops", c.ops},
          {"weights", c.weights},
          {"input_values", c.input_values},
          {"output_values", c.output_values},
          {"weight_bytes", c.weight_bytes},
          {"input_bytes", c.input_bytes},
          {"output_bytes", c.output_bytes},
          {"intensity_weights", c.intensity_weights},
          {"intensity_offchip", c.intensity_offchip},
          {"intensity_onchip", c.intensity_onchip}};
}

}  // namespace

json profile_to_json(const Profiler& profiler, const json& run) {
  const ProfileOptions& o = profiler.options();
  json doc;
  doc["format"] = kProfileFormat;
  doc["version"] = kProfileVersion;
  doc["run"] = run;
  json groups = json::array();
  for (const GroupShape& s : o.groups) groups.push_back({{"channels", s.channels}, {"windows", s.windows}});
  json machines = json::array();
  for (const Machine& m : profiler.machines()) {
    machines.push_back({{"name", m.name},
                        {"peak_ops_per_s", m.peak_ops_per_s},
                        {"bytes_per_s", m.bytes_per_s},
                        {"description", m.description}});
  }
  doc["options"] = {{"near_zero", o.near_zero},
                    {"relative_near_zero", o.relative_near_zero},
                    {"groups", groups},
                    {"memory_bits", o.memory_bits},
                    {"machines", machines},
                    {"correlations", o.correlations},
                    {"alphas", o.alphas},
                    {"partial_sum_denominators", o.psum_denominators},
                    {"partial_sum_samples_per_image", o.psum_samples_per_image},
                    {"synapse_max_rows", o.synapse_max_rows},
                    {"seed", o.seed},
                    {"calibration_images", o.calibration_images}};

  // Network totals, accumulated over layers (per-MAC counters scaled by each layer's unit).
  double count = 0, zeros = 0, count_mac = 0, zeros_mac = 0;
  double conv_count = 0, conv_zeros = 0, conv_count_mac = 0, conv_zeros_mac = 0;
  const size_t nthr = o.near_zero.size() + o.relative_near_zero.size();
  std::vector<double> below(nthr, 0), below_mac(nthr, 0);
  double nz16 = 0, nz16m = 0, pop16 = 0, pop16m = 0, b16 = 0, b16m = 0;
  double nz8 = 0, nz8m = 0, pop8 = 0, pop8m = 0, b8 = 0, b8m = 0;
  double wcount = 0, wzeros = 0;
  double static_bits_macs = 0, all_macs = 0;
  std::vector<double> gw(o.groups.size(), 0), gn(o.groups.size(), 0);
  ComputeMemory total;
  json layers = json::array();
  for (const LayerProfile* p : profiler.layers()) {
    const ValueCounters& a = p->act;
    const double u = static_cast<double>(p->mac_unit);
    count += a.count;
    zeros += a.zeros;
    count_mac += a.count_mac * u;
    zeros_mac += a.zeros_mac * u;
    if (p->geo.kind == "conv") {
      conv_count += a.count;
      conv_zeros += a.zeros;
      conv_count_mac += a.count_mac * u;
      conv_zeros_mac += a.zeros_mac * u;
    }
    for (size_t t = 0; t < nthr && t < a.below.size(); ++t) {
      below[t] += a.below[t];
      below_mac[t] += a.below_mac[t] * u;
    }
    nz16 += a.nonzero16, nz16m += a.nonzero16_mac * u, pop16 += a.popcount16, pop16m += a.popcount16_mac * u;
    b16 += a.booth16, b16m += a.booth16_mac * u;
    nz8 += a.nonzero8, nz8m += a.nonzero8_mac * u, pop8 += a.popcount8, pop8m += a.popcount8_mac * u;
    b8 += a.booth8, b8m += a.booth8_mac * u;
    wcount += p->wgt.count;
    wzeros += p->wgt.zeros;
    for (size_t s = 0; s < p->groups.size() && s < gw.size(); ++s) {
      gw[s] += p->groups[s].width_sum;
      gn[s] += p->groups[s].groups;
    }
    total.macs += p->compute.macs;
    total.ops += p->compute.ops;
    total.weights += p->compute.weights;
    total.input_values += p->compute.input_values;
    total.output_values += p->compute.output_values;
    total.weight_bytes += p->compute.weight_bytes;
    total.input_bytes += p->compute.input_bytes;
    total.output_bytes += p->compute.output_bytes;

    json l;
    l["index"] = p->info.index;
    l["name"] = p->info.name;
    l["op"] = p->info.op;
    l["kind"] = p->geo.kind;
    l["geometry"] = p->geo;
    l["images"] = p->images;
    l["macs_per_counted_value"] = p->mac_unit;
    l["activations"] =
        operand_json(a, p->act_thresholds, o.near_zero, o.relative_near_zero, p->act_fixed, p->act_fixed_source, true);
    l["activations"]["calibration_absmax"] = p->calibration_absmax;
    l["weights"] = operand_json(p->wgt, p->wgt_thresholds, o.near_zero, o.relative_near_zero, p->wgt_fixed,
                                p->wgt_fixed_source, false);
    static_bits_macs += l["activations"]["fixed16"]["bits_needed"].get<int>() * static_cast<double>(p->compute.macs);
    all_macs += static_cast<double>(p->compute.macs);
    json dyn = json::array();
    for (size_t s = 0; s < p->groups.size(); ++s) {
      const GroupCounters& gc = p->groups[s];
      dyn.push_back({{"channels", o.groups[s].channels},
                     {"windows", o.groups[s].windows},
                     {"groups", gc.groups},
                     {"average_bits", gc.average()},
                     {"all_zero_fraction", frac(gc.all_zero, gc.groups)},
                     {"histogram", std::vector<int64_t>(gc.hist.begin(), gc.hist.end())}});
    }
    l["dynamic_precision"] = dyn;
    l["compute"] = compute_json(p->compute);
    l["roofline"] = roofline_json(p->compute, profiler.machines());
    if (p->synapse) {
      json al = json::array();
      for (size_t i = 0; i < p->synapse->alphas.size(); ++i) {
        al.push_back({{"alpha", p->synapse->alphas[i]},
                      {"represented", p->synapse->represented[i]},
                      {"fraction", p->synapse->fraction(i)}});
      }
      l["synapse_vectors"] = {{"rows", p->synapse->rows},
                              {"rows_examined", p->synapse->rows_examined},
                              {"constant_rows", p->synapse->constant_rows},
                              {"vector_length", p->geo.Nf / std::max<int64_t>(1, p->geo.groups)},
                              {"alphas", al}};
    } else {
      l["synapse_vectors"] = nullptr;
    }
    if (o.correlations && p->geo.kind != "deconv") {
      json ps = json::array();
      const int64_t cg = p->geo.Ni / (p->geo.kind == "fc" ? 1 : std::max<int64_t>(1, p->geo.groups));
      for (size_t d = 0; d < o.psum_denominators.size(); ++d) {
        const int den = o.psum_denominators[d];
        std::optional<double> r = d < p->psum.size() ? p->psum[d].r() : std::nullopt;
        ps.push_back({{"fraction", fmt::format("1/{}", den)},
                      {"denominator", den},
                      {"channels", cg / den},
                      {"of_channels", cg},
                      {"pairs", d < p->psum.size() ? p->psum[d].n : 0},
                      {"correlation", r ? json(*r) : json(nullptr)}});
      }
      l["partial_sums"] = ps;
    } else {
      l["partial_sums"] = nullptr;
    }
    layers.push_back(l);
  }
  doc["layers"] = layers;
  doc["images"] = profiler.images();
  doc["layer_count"] = layers.size();
  // Headline totals (top level, stable keys).
  doc["activation_zero_fraction"] = frac(zeros, count);
  doc["activation_zero_fraction_per_mac"] = frac(zeros_mac, count_mac);
  doc["conv_activation_zero_fraction"] = frac(conv_zeros, conv_count);
  doc["conv_activation_zero_fraction_per_mac"] = frac(conv_zeros_mac, conv_count_mac);
  json nzt = json::array();
  for (size_t t = 0; t < nthr; ++t) {
    json e = {{"fraction", frac(below[t], count)}, {"fraction_per_mac", frac(below_mac[t], count_mac)}};
    if (t < o.near_zero.size()) {
      e["threshold"] = o.near_zero[t];
      e["relative"] = nullptr;
    } else {
      e["threshold"] = nullptr;
      e["relative"] = o.relative_near_zero[t - o.near_zero.size()];
    }
    nzt.push_back(e);
  }
  doc["activation_near_zero"] = nzt;
  auto eff = [&](double nz, double nzm, double pop, double popm, double b, double bm, int bits) {
    return json{{"bits", bits},
                {"popcount_fraction", frac(pop, bits * count)},
                {"booth_fraction", frac(b, bits * count)},
                {"popcount_fraction_nonzero", frac(pop, bits * nz)},
                {"booth_fraction_nonzero", frac(b, bits * nz)},
                {"popcount_fraction_per_mac", frac(popm, bits * count_mac)},
                {"booth_fraction_per_mac", frac(bm, bits * count_mac)},
                {"popcount_fraction_nonzero_per_mac", frac(popm, bits * nzm)},
                {"booth_fraction_nonzero_per_mac", frac(bm, bits * nzm)}};
  };
  doc["activation_effectual_bits"] = {{"fixed16", eff(nz16, nz16m, pop16, pop16m, b16, b16m, 16)},
                                      {"uniform8", eff(nz8, nz8m, pop8, pop8m, b8, b8m, 8)}};
  doc["weight_zero_fraction"] = frac(wzeros, wcount);
  doc["static_precision_bits_mac_weighted"] = frac(static_bits_macs, all_macs);
  json dyn = json::array();
  for (size_t s = 0; s < o.groups.size(); ++s) {
    dyn.push_back(
        {{"channels", o.groups[s].channels}, {"windows", o.groups[s].windows}, {"average_bits", frac(gw[s], gn[s])}});
  }
  doc["dynamic_precision_bits"] = dyn;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  total.intensity_weights = ratio(total.ops, total.weight_bytes);
  total.intensity_offchip = ratio(total.ops, total.weight_bytes + total.input_bytes + total.output_bytes);
  total.intensity_onchip = ratio(total.ops, total.input_bytes + total.output_bytes);
  doc["compute"] = compute_json(total);
  doc["roofline"] = roofline_json(total, profiler.machines());
  return doc;
}

// ---- CSV -----------------------------------------------------------------------------------------

namespace {

std::string csv_field(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  return v.dump();
}

std::string csv(const std::vector<std::string>& header, const std::vector<std::vector<json>>& rows) {
  std::string out;
  auto line = [&out](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) out += ',';
      out += fields[i];
    }
    out += '\n';
  };
  line(header);
  for (const auto& r : rows) {
    std::vector<std::string> fields;
    for (const json& v : r) fields.push_back(csv_field(v));
    line(fields);
  }
  return out;
}

std::string threshold_label(const json& e) {
  return e["relative"].is_null() ? fmt::format("lt_{:g}", e["threshold"].get<double>())
                                 : fmt::format("lt_{:g}max", e["relative"].get<double>());
}

}  // namespace

std::map<std::string, std::string> profile_csv_tables(const json& doc) {
  std::map<std::string, std::string> out;
  const json& layers = doc.at("layers");
  {
    std::vector<std::string> h = {
        "index", "name", "kind", "images", "activations", "zero_fraction", "zero_fraction_per_mac"};
    if (!layers.empty()) {
      for (const json& e : layers[0]["activations"]["near_zero"]) {
        h.push_back("near_zero_" + threshold_label(e));
        h.push_back("near_zero_" + threshold_label(e) + "_per_mac");
      }
    }
    for (const char* k : {"min", "max", "mean", "weights", "weight_zero_fraction"}) h.push_back(k);
    std::vector<std::vector<json>> rows;
    for (const json& l : layers) {
      const json& a = l["activations"];
      std::vector<json> r = {
          l["index"], l["name"], l["kind"], l["images"], a["count"], a["zero_fraction"], a["zero_fraction_per_mac"]};
      for (const json& e : a["near_zero"]) {
        r.push_back(e["fraction"]);
        r.push_back(e["fraction_per_mac"]);
      }
      for (const json& v : {a["min"], a["max"], a["mean"], l["weights"]["count"], l["weights"]["zero_fraction"]}) {
        r.push_back(v);
      }
      rows.push_back(r);
    }
    out["values.csv"] = csv(h, rows);
  }
  {
    std::vector<std::string> h = {
        "index",  "name", "operand", "int_bits",    "frac_bits",          "source", "saturated_fraction",
        "signed", "msb",  "lsb",     "bits_needed", "bits_needed_trimmed"};
    std::vector<std::vector<json>> rows;
    for (const json& l : layers) {
      for (const char* op : {"activations", "weights"}) {
        const json& f = l[op]["fixed16"];
        rows.push_back({l["index"], l["name"], op, f["int_bits"], f["frac_bits"], f["source"], f["saturated_fraction"],
                        f["signed"], f["msb"], f["lsb"], f["bits_needed"], f["bits_needed_trimmed"]});
      }
    }
    out["precision.csv"] = csv(h, rows);
  }
  {
    std::vector<std::string> h = {"index",  "name",         "channels",         "windows",
                                  "groups", "average_bits", "all_zero_fraction"};
    for (int w = 0; w <= 16; ++w) h.push_back(fmt::format("bits_{}", w));
    std::vector<std::vector<json>> rows;
    for (const json& l : layers) {
      for (const json& d : l["dynamic_precision"]) {
        std::vector<json> r = {l["index"],  l["name"],         d["channels"],         d["windows"],
                               d["groups"], d["average_bits"], d["all_zero_fraction"]};
        for (const json& c : d["histogram"]) r.push_back(c);
        rows.push_back(r);
      }
    }
    out["dynamic_precision.csv"] = csv(h, rows);
  }
  {
    std::vector<std::string> h = {"index",
                                  "name",
                                  "operand",
                                  "encoding",
                                  "nonzero_fraction",
                                  "popcount_fraction",
                                  "booth_fraction",
                                  "popcount_fraction_nonzero",
                                  "booth_fraction_nonzero",
                                  "popcount_fraction_per_mac",
                                  "booth_fraction_per_mac"};
    std::vector<std::vector<json>> rows;
    for (const json& l : layers) {
      for (const char* op : {"activations", "weights"}) {
        for (const char* enc : {"fixed16", "uniform8"}) {
          const json& e = l[op][enc]["effectual_bits"];
          rows.push_back({l["index"], l["name"], op, enc, e["nonzero_fraction"], e["popcount_fraction"],
                          e["booth_fraction"], e["popcount_fraction_nonzero"], e["booth_fraction_nonzero"],
                          e.value("popcount_fraction_per_mac", json(nullptr)),
                          e.value("booth_fraction_per_mac", json(nullptr))});
        }
      }
    }
    out["effectual_bits.csv"] = csv(h, rows);
  }
  {
    std::vector<std::string> h = {"index",
                                  "name",
                                  "macs",
                                  "ops",
                                  "weight_bytes",
                                  "input_bytes",
                                  "output_bytes",
                                  "intensity_weights",
                                  "intensity_offchip",
                                  "intensity_onchip"};
    for (const json& m : doc["options"]["machines"]) {
      const std::string n = m["name"];
      h.push_back(n + "_attainable_ops_per_s");
      h.push_back(n + "_bound");
    }
    std::vector<std::vector<json>> rows;
    for (const json& l : layers) {
      const json& c = l["compute"];
      std::vector<json> r = {l["index"],
                             l["name"],
                             c["macs"],
                             c["ops"],
                             c["weight_bytes"],
                             c["input_bytes"],
                             c["output_bytes"],
                             c["intensity_weights"],
                             c["intensity_offchip"],
                             c["intensity_onchip"]};
      for (const json& m : l["roofline"]) {
        r.push_back(m["weights_offchip"]["attainable_ops_per_s"]);
        r.push_back(m["weights_offchip"]["bound"]);
      }
      rows.push_back(r);
    }
    out["compute.csv"] = csv(h, rows);
  }
  {
    std::vector<std::string> h = {"index", "name", "statistic", "parameter", "value"};
    std::vector<std::vector<json>> rows;
    for (const json& l : layers) {
      if (!l["synapse_vectors"].is_null()) {
        for (const json& a : l["synapse_vectors"]["alphas"]) {
          rows.push_back({l["index"], l["name"], "synapse_vectors_represented_fraction", a["alpha"], a["fraction"]});
        }
      }
      if (!l["partial_sums"].is_null()) {
        for (const json& p : l["partial_sums"]) {
          rows.push_back({l["index"], l["name"], "partial_sum_correlation", p["fraction"], p["correlation"]});
        }
      }
    }
    out["correlations.csv"] = csv(h, rows);
  }
  return out;
}

// ---- terminal ----------------------------------------------------------------------------------

std::string profile_summary(const json& doc) {
  std::string s;
  auto pct = [](const json& v) {
    return v.is_null() ? std::string("-") : fmt::format("{:.1f}", 100 * v.get<double>());
  };
  const json& groups = doc["options"]["groups"];
  std::string dyn_head;
  for (const json& g : groups)
    dyn_head += fmt::format(" {:>6}", fmt::format("{}x{}", g["channels"].get<int>(), g["windows"].get<int>()));
  s += fmt::format("{:>3} {:<20} {:<5} {:>11} {:>6} {:>6} {:>6} {:>4}{} {:>6} {:>6} {:>7} {:>6}\n", "#", "layer",
                   "kind", "MACs", "zero%", "zeroM%", "nearM%", "bits", dyn_head, "pop16%", "pop8%", "ops/B", "bound");
  for (const json& l : doc["layers"]) {
    const json& a = l["activations"];
    std::string near = a["near_zero"].empty() ? "-" : pct(a["near_zero"].back()["fraction_per_mac"]);
    std::string dyn;
    for (const json& d : l["dynamic_precision"]) dyn += fmt::format(" {:>6.2f}", d["average_bits"].get<double>());
    std::string name = l["name"].get<std::string>();
    if (name.size() > 20) name = name.substr(0, 19) + "~";
    std::string bound = l["roofline"].empty() ? "-" : l["roofline"][0]["weights_offchip"]["bound"].get<std::string>();
    s += fmt::format("{:>3} {:<20} {:<5} {:>11} {:>6} {:>6} {:>6} {:>4}{} {:>6} {:>6} {:>7.1f} {:>6}\n",
                     l["index"].get<int>(), name, l["kind"].get<std::string>(), l["compute"]["macs"].get<int64_t>(),
                     pct(a["zero_fraction"]), pct(a["zero_fraction_per_mac"]), near,
                     a["fixed16"]["bits_needed"].get<int>(), dyn,
                     pct(a["fixed16"]["effectual_bits"]["popcount_fraction"]),
                     pct(a["uniform8"]["effectual_bits"]["popcount_fraction"]),
                     l["compute"]["intensity_offchip"].get<double>(), bound);
  }
  const json& e16 = doc["activation_effectual_bits"]["fixed16"];
  const json& e8 = doc["activation_effectual_bits"]["uniform8"];
  s += fmt::format(
      "network ({} images, {} layers, {} MACs/image): activations zero {}% per value, {}% per MAC "
      "(conv layers: {}%, {}%)\n",
      doc["images"].get<int64_t>(), doc["layer_count"].get<int64_t>(), doc["compute"]["macs"].get<int64_t>(),
      pct(doc["activation_zero_fraction"]), pct(doc["activation_zero_fraction_per_mac"]),
      pct(doc["conv_activation_zero_fraction"]), pct(doc["conv_activation_zero_fraction_per_mac"]));
  for (const json& e : doc["activation_near_zero"]) {
    std::string what = e["relative"].is_null() ? fmt::format("|a| < {:g}", e["threshold"].get<double>())
                                               : fmt::format("|a| < {:g} x layer max", e["relative"].get<double>());
    s += fmt::format("  near-zero {}: {}% per value, {}% per MAC\n", what, pct(e["fraction"]),
                     pct(e["fraction_per_mac"]));
  }
  s += fmt::format(
      "  effectual bits: 16-bit {}% ({}% of non-zero), Booth terms {}%; 8-bit {}% ({}% of non-zero), Booth {}%\n",
      pct(e16["popcount_fraction"]), pct(e16["popcount_fraction_nonzero"]), pct(e16["booth_fraction"]),
      pct(e8["popcount_fraction"]), pct(e8["popcount_fraction_nonzero"]), pct(e8["booth_fraction"]));
  std::string dyn;
  for (const json& d : doc["dynamic_precision_bits"]) {
    dyn += fmt::format(", {}x{} groups {:.2f}", d["channels"].get<int>(), d["windows"].get<int>(),
                       d["average_bits"].get<double>());
  }
  s += fmt::format("  precision (bits, MAC-weighted): static {:.2f}{}; weights zero {}%\n",
                   doc["static_precision_bits_mac_weighted"].get<double>(), dyn, pct(doc["weight_zero_fraction"]));
  return s;
}

json lossless_precision_profile(const json& doc) {
  json layers = json::object();
  for (const json& l : doc["layers"]) {
    layers[l["name"].get<std::string>()] = {{"activations", l["activations"]["fixed16"]["lossless_format"]},
                                            {"weights", l["weights"]["fixed16"]["lossless_format"]}};
  }
  return {{"format", "effectual-precision-profile"}, {"version", 1}, {"layers", layers}};
}

}  // namespace eff::profile
