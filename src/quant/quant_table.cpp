#include "quant/quant_table.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "engine/executor.h"
#include "onnx/loader.h"
#include "quant/onnx_export.h"
#include "search/evaluator.h"

namespace eff::quant {

using nlohmann::json;

namespace {
constexpr ClipMethod kClips[] = {ClipMethod::kNone, ClipMethod::kMse, ClipMethod::kAciq, ClipMethod::kKl};

std::string pct(double v) {
  return fmt::format("{:.1f}", 100 * v);
}
}  // namespace

double QuantTable::at(int b, bool acts, ClipMethod clip, double r) const {
  for (const TableCell& c : cells) {
    if (c.bits == b && c.acts == acts && c.clip == clip && c.ocs == r) return c.top1;
  }
  return std::nan("");
}

double QuantTable::best(int b, bool acts, double r, ClipMethod* which) const {
  double best = -1;
  for (ClipMethod m : kClips) {
    const double v = at(b, acts, m, r);
    if (v > best) {
      best = v;
      if (which) *which = m;
    }
  }
  return best;
}

double top1_of_exported(const Graph& g, const search::EvalSet& set, int threads, int64_t batch) {
  const std::string bytes = serialize_onnx(g);
  ExecutorOptions eo;
  eo.threads = threads;
  Executor ex(load_onnx_bytes(bytes.data(), bytes.size(), g.source + " (quantized)"), eo);
  int64_t correct = 0;
  for (int64_t b = 0; b < set.size(); b += batch) {
    const int64_t n = std::min(batch, set.size() - b);
    const std::vector<Tensor> out = ex.run({set.batch(b, n)});
    const Tensor& scores = out.at(0);
    const int64_t classes = scores.numel() / n;
    const float* s = scores.data<float>();
    for (int64_t i = 0; i < n; ++i) correct += search::argmax(s + i * classes, classes) == set.labels[b + i];
  }
  return set.size() ? static_cast<double>(correct) / static_cast<double>(set.size()) : 0;
}

QuantTable run_table(QuantSession& session, const search::EvalSet& report, const TableOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  QuantTable t;
  t.model = session.graph().source;
  t.calib_source = o.calib_source;
  t.report_source = report.source;
  t.report_images = report.size();
  t.bits = o.bits;
  t.ocs = o.ocs;
  t.per_channel = o.per_channel;
  t.asymmetric = o.asymmetric;
  for (int b : o.bits) {
    if (b < 2 || b > 8) fail<UsageError>("--table-bits: {} is not in 2..8", b);
  }
  t.calib_images = o.calib_images;
  t.float_top1 = top1_of_exported(session.graph(), report, o.threads, o.batch);
  const int64_t total = static_cast<int64_t>(o.bits.size() * 2 * 4 * o.ocs.size());
  Progress progress("quantize --table", total);
  for (bool acts : {false, true}) {
    for (int b : o.bits) {
      for (double r : o.ocs) {
        for (ClipMethod m : kClips) {
          QuantOptions q;
          q.weight_bits = b;
          q.act_bits = acts ? b : 0;
          q.per_channel = o.per_channel;
          q.asymmetric = o.asymmetric;
          q.weight_clip = q.act_clip = m;
          q.ocs_ratio = r;
          const QuantizedModel qm = session.quantize(q);
          t.cells.push_back({b, acts, m, r, top1_of_exported(qm.graph, report, o.threads, o.batch)});
          progress.advance();
        }
      }
    }
  }
  progress.finish();
  for (double r : o.ocs) {
    QuantOptions q;
    q.ocs_ratio = r;
    const QuantizedModel w = session.quantize(q);
    t.overhead_weights.push_back(w.parameters ? static_cast<double>(w.added_parameters) / w.parameters : 0);
    q.act_bits = 8;
    const QuantizedModel a = session.quantize(q);
    t.overhead_acts.push_back(a.parameters ? static_cast<double>(a.added_parameters) / a.parameters : 0);
  }
  // Outlier statistics of the unsplit model: weights from the tensors, activations from the
  // calibration histograms.
  QuantOptions q;
  q.act_bits = 8;
  q.act_clip = ClipMethod::kKl;
  const QuantizedModel stats = session.quantize(q);
  for (const LayerQuantReport& l : stats.layers)
    t.outliers.push_back({l.name, l.weight_max, l.weight_p999, l.act_max, l.act_p999});
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return t;
}

json table_json(const QuantTable& t) {
  json j;
  j["model"] = t.model;
  j["calibration"] = {{"source", t.calib_source}, {"images", t.calib_images}};
  j["report"] = {{"source", t.report_source}, {"images", t.report_images}};
  j["float_top1"] = t.float_top1;
  j["per_channel"] = t.per_channel;
  j["asymmetric"] = t.asymmetric;
  json cells = json::array();
  for (const TableCell& c : t.cells) {
    cells.push_back({{"bits", c.bits},
                     {"activations", c.acts},
                     {"clip", clip_method_name(c.clip)},
                     {"ocs_ratio", c.ocs},
                     {"top1", c.top1}});
  }
  j["cells"] = cells;
  // Seed 003's layout: per mode and bits, none/mse/aciq/kl, the best clip, OCS + best clip.
  json rows = json::array();
  for (bool acts : {false, true}) {
    for (int b : t.bits) {
      json row = {{"activations", acts}, {"bits", b}};
      for (ClipMethod m : kClips) row[clip_method_name(m)] = t.at(b, acts, m, 0);
      ClipMethod which = ClipMethod::kNone;
      row["best"] = t.best(b, acts, 0, &which);
      row["best_clip"] = clip_method_name(which);
      json ocs = json::object();
      for (double r : t.ocs) {
        if (r == 0) continue;
        ClipMethod w = ClipMethod::kNone;
        const double v = t.best(b, acts, r, &w);
        ocs[fmt::format("{}", r)] = {{"top1", v}, {"clip", clip_method_name(w)}};
      }
      row["ocs_best"] = ocs;
      rows.push_back(row);
    }
  }
  j["table"] = rows;
  json over = json::array();
  for (size_t i = 0; i < t.ocs.size(); ++i) {
    over.push_back({{"ocs_ratio", t.ocs[i]},
                    {"weights_only", t.overhead_weights[i]},
                    {"weights_activations", t.overhead_acts[i]}});
  }
  j["size_overhead"] = over;
  json out = json::array();
  for (const OutlierStats& s : t.outliers) {
    out.push_back({{"layer", s.layer},
                   {"weight_max", s.w_max},
                   {"weight_p999", s.w_p999},
                   {"weight_max_over_p999", s.w_p999 > 0 ? s.w_max / s.w_p999 : 0},
                   {"act_max", s.a_max},
                   {"act_p999", s.a_p999},
                   {"act_max_over_p999", s.a_p999 > 0 ? s.a_max / s.a_p999 : 0}});
  }
  j["outliers"] = out;
  j["seconds"] = t.seconds;
  return j;
}

namespace {

// Modes and bit widths where OCS (any ratio, best clip) does not beat the best clip without it.
std::vector<std::string> where_ocs_does_not_help(const QuantTable& t) {
  std::vector<std::string> out;
  for (bool acts : {false, true}) {
    for (int b : t.bits) {
      const double base = t.best(b, acts, 0);
      double with = -1;
      for (double r : t.ocs) {
        if (r > 0) with = std::max(with, t.best(b, acts, r));
      }
      if (with >= 0 && with <= base) out.push_back(fmt::format("{}{}", acts ? "W+A " : "W ", b));
    }
  }
  return out;
}

}  // namespace

std::string format_table(const QuantTable& t) {
  std::string s = fmt::format("{}: float top-1 {}% on {} report images of {} (calibration: {} images, disjoint)\n",
                              t.model, pct(t.float_top1), t.report_images, t.report_source, t.calib_images);
  s += fmt::format("weights {}, {}; activations at the weights' bits\n", t.per_channel ? "per-channel" : "per-tensor",
                   t.asymmetric ? "asymmetric" : "symmetric");
  for (bool acts : {false, true}) {
    s += acts ? "\nweights + activations: top-1 %\n" : "\nweights only: top-1 %\n";
    s += fmt::format("{:>5} {:>6} {:>6} {:>6} {:>6} {:>9}", "bits", "none", "mse", "aciq", "kl", "clip best");
    for (double r : t.ocs) {
      if (r > 0) s += fmt::format(" {:>14}", fmt::format("OCS {}+clip", r));
    }
    s += "\n";
    for (int b : t.bits) {
      s += fmt::format("{:>5}", b);
      for (ClipMethod m : kClips) s += fmt::format(" {:>6}", pct(t.at(b, acts, m, 0)));
      ClipMethod w = ClipMethod::kNone;
      const double best = t.best(b, acts, 0, &w);
      s += fmt::format(" {:>9}", fmt::format("{} {}", pct(best), clip_method_name(w)));
      for (double r : t.ocs) {
        if (r == 0) continue;
        const double v = t.best(b, acts, r, &w);
        s += fmt::format(" {:>14}", fmt::format("{} {}", pct(v), clip_method_name(w)));
      }
      s += "\n";
    }
  }
  s += "\nOCS size overhead (parameters added):";
  for (size_t i = 0; i < t.ocs.size(); ++i) {
    if (t.ocs[i] == 0) continue;
    s += fmt::format("  {}: +{:.2f}% weights only, +{:.2f}% weights+activations", t.ocs[i], 100 * t.overhead_weights[i],
                     100 * t.overhead_acts[i]);
  }
  s += "\n";
  const auto no_help = where_ocs_does_not_help(t);
  if (!no_help.empty()) {
    std::string list;
    for (const auto& x : no_help) list += (list.empty() ? "" : ", ") + x;
    s += fmt::format("OCS does not help at: {}. Per-layer outliers (max / 99.9th percentile of |value|):\n", list);
  } else {
    s += "Per-layer outliers (max / 99.9th percentile of |value|):\n";
  }
  size_t w = 5;
  for (const OutlierStats& o : t.outliers) w = std::max(w, o.layer.size());
  s += fmt::format("  {:<{}} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}\n", "layer", w, "w max", "w p99.9", "ratio",
                   "x max", "x p99.9", "ratio");
  for (const OutlierStats& o : t.outliers) {
    s += fmt::format("  {:<{}} {:>10.4g} {:>10.4g} {:>7.2f} {:>10.4g} {:>10.4g} {:>7.2f}\n", o.layer, w, o.w_max,
                     o.w_p999, o.w_p999 > 0 ? o.w_max / o.w_p999 : 0, o.a_max, o.a_p999,
                     o.a_p999 > 0 ? o.a_max / o.a_p999 : 0);
  }
  s += fmt::format("({} variants in {:.1f} s)\n", t.cells.size(), t.seconds);
  return s;
}

void write_table_csv(const QuantTable& t, const std::string& path) {
  std::string s = "mode,bits,clip,ocs_ratio,top1\n";
  for (const TableCell& c : t.cells) {
    s += fmt::format("{},{},{},{},{:.4f}\n", c.acts ? "weights+activations" : "weights", c.bits,
                     clip_method_name(c.clip), c.ocs, c.top1);
  }
  write_file_atomic(path, s);
}

void add_table_section(const QuantTable& t, html::HtmlReport& report) {
  auto& sec = report.section("quantize", "Data-free quantization: clipping and outlier channel splitting",
                             "Seed 003's OCS table for this model: top-1 on a report subset disjoint from the "
                             "calibration images; every variant is the exported ONNX file run by the engine.");
  sec.key_values({{"model", t.model},
                  {"float top-1", pct(t.float_top1) + "%"},
                  {"report images", std::to_string(t.report_images)},
                  {"weights", std::string(t.per_channel ? "per-channel" : "per-tensor") +
                                  (t.asymmetric ? ", asymmetric" : ", symmetric")}});
  for (bool acts : {false, true}) {
    html::Table tab;
    tab.caption = acts ? "Weights + activations (same bits): top-1 %" : "Weights only: top-1 %";
    tab.header = {"bits", "none", "mse", "aciq", "kl", "clip best"};
    for (double r : t.ocs) {
      if (r > 0) tab.header.push_back(fmt::format("OCS {} + clip", r));
    }
    for (int b : t.bits) {
      std::vector<html::Cell> row = {html::Cell(b)};
      for (ClipMethod m : kClips) row.emplace_back(100 * t.at(b, acts, m, 0), html::NumberFormat::plain(1));
      row.emplace_back(100 * t.best(b, acts, 0), html::NumberFormat::plain(1));
      for (double r : t.ocs) {
        if (r > 0) row.emplace_back(100 * t.best(b, acts, r), html::NumberFormat::plain(1));
      }
      tab.rows.push_back(std::move(row));
    }
    sec.table(tab);
    html::BarChart chart;
    chart.title = acts ? "Weights + activations: best clipping, with and without OCS"
                       : "Weights only: best clipping, with and without OCS";
    chart.caption = "Top-1 per bit width; the dashed line is the float model.";
    chart.x_label = "bits";
    chart.y_label = "top-1";
    chart.format = html::NumberFormat::percent(1);
    chart.y_max = 1.0;
    for (int b : t.bits) chart.categories.push_back(std::to_string(b));
    for (double r : t.ocs) {
      html::Series s;
      s.name = r == 0 ? "clip best" : fmt::format("OCS {} + clip", r);
      for (int b : t.bits) s.values.push_back(std::max(0.0, t.best(b, acts, r)));
      chart.series.push_back(std::move(s));
    }
    chart.reference_lines.push_back({"float", t.float_top1});
    sec.bar_chart(chart);
  }
  html::Table over;
  over.caption = "OCS size overhead (parameters added / all parameters)";
  over.header = {"OCS ratio", "weights only", "weights + activations"};
  for (size_t i = 0; i < t.ocs.size(); ++i) {
    over.rows.push_back({html::Cell(t.ocs[i], html::NumberFormat::plain(2)),
                         html::Cell(t.overhead_weights[i], html::NumberFormat::percent(2)),
                         html::Cell(t.overhead_acts[i], html::NumberFormat::percent(2))});
  }
  sec.table(over);
  const auto no_help = where_ocs_does_not_help(t);
  if (!no_help.empty()) {
    std::string list;
    for (const auto& x : no_help) list += (list.empty() ? "" : ", ") + x;
    sec.note("OCS does not help at " + list + ": see the per-layer outlier statistics below.");
  }
  html::Table out;
  out.caption = "Per-layer outliers: max / 99.9th percentile of |w| and of the calibration |x|";
  out.header = {"layer", "w max", "w p99.9", "w ratio", "x max", "x p99.9", "x ratio"};
  for (const OutlierStats& o : t.outliers) {
    out.rows.push_back({html::Cell(o.layer), html::Cell(o.w_max, html::NumberFormat::plain(4)),
                        html::Cell(o.w_p999, html::NumberFormat::plain(4)),
                        html::Cell(o.w_p999 > 0 ? o.w_max / o.w_p999 : 0, html::NumberFormat::plain(2)),
                        html::Cell(o.a_max, html::NumberFormat::plain(4)),
                        html::Cell(o.a_p999, html::NumberFormat::plain(4)),
                        html::Cell(o.a_p999 > 0 ? o.a_max / o.a_p999 : 0, html::NumberFormat::plain(2))});
  }
  sec.table(out);
}

json quantized_model_json(const QuantizedModel& qm, const QuantOptions& o, const std::string& model,
                          const std::string& out, double seconds) {
  json j;
  j["model"] = model;
  j["out"] = out;
  j["options"] = {{"bits", o.weight_bits},
                  {"act_bits", o.act_bits},
                  {"per_channel", o.per_channel},
                  {"asymmetric", o.asymmetric},
                  {"clip", clip_method_name(o.weight_clip)},
                  {"act_clip", clip_method_name(o.act_clip)},
                  {"ocs_ratio", o.ocs_ratio}};
  j["parameters"] = qm.parameters;
  j["parameters_added"] = qm.added_parameters;
  json layers = json::array();
  for (const LayerQuantReport& l : qm.layers) {
    layers.push_back({{"name", l.name},
                      {"op", l.op},
                      {"in_channels", l.in_channels},
                      {"expanded_channels", l.expanded_channels},
                      {"weight_splits", l.weight_splits},
                      {"act_splits", l.act_splits},
                      {"weight_max", l.weight_max},
                      {"weight_max_split", l.weight_max_split},
                      {"weight_p999", l.weight_p999},
                      {"weight_alpha", l.weight_alpha},
                      {"weight_mse", l.weight_mse},
                      {"act_max", l.act_max},
                      {"act_alpha", l.act_alpha},
                      {"act_scale", l.act_scale},
                      {"act_zero_point", l.act_zero},
                      {"output_step", l.output_step}});
  }
  j["layers"] = layers;
  j["seconds"] = seconds;
  return j;
}

std::string format_quantized_model(const QuantizedModel& qm, const QuantOptions& o, const std::string& model,
                                   const std::string& out, double seconds) {
  std::string s = fmt::format("{} -> {}: weights {} bits {}{}, clip {}", model, out, o.weight_bits,
                              o.per_channel ? "per-channel" : "per-tensor", o.asymmetric ? " asymmetric" : "",
                              clip_method_name(o.weight_clip));
  if (o.act_bits) s += fmt::format(", activations {} bits clip {}", o.act_bits, clip_method_name(o.act_clip));
  if (o.ocs_ratio > 0) {
    s += fmt::format(", OCS {} (+{} parameters, {:.2f}%)", o.ocs_ratio, qm.added_parameters,
                     qm.parameters ? 100.0 * qm.added_parameters / qm.parameters : 0.0);
  }
  s += fmt::format(" in {:.2f} s\n", seconds);
  size_t w = 5;
  for (const LayerQuantReport& l : qm.layers) w = std::max(w, l.name.size());
  s += fmt::format("  {:<{}} {:>9} {:>7} {:>10} {:>10} {:>10} {:>11}", "layer", w, "channels", "splits", "w max",
                   "w split", "w alpha", "w mse");
  if (o.act_bits) s += fmt::format(" {:>10} {:>10}", "x max", "x alpha");
  s += "\n";
  for (const LayerQuantReport& l : qm.layers) {
    s += fmt::format("  {:<{}} {:>9} {:>7} {:>10.4g} {:>10.4g} {:>10.4g} {:>11.3e}", l.name, w,
                     fmt::format("{}->{}", l.in_channels, l.expanded_channels), l.weight_splits + l.act_splits,
                     l.weight_max, l.weight_max_split, l.weight_alpha, l.weight_mse);
    if (o.act_bits) s += fmt::format(" {:>10.4g} {:>10.4g}", l.act_max, l.act_alpha);
    s += "\n";
  }
  return s;
}

}  // namespace eff::quant
