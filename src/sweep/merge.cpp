#include "sweep/merge.h"

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "report/html/html_report.h"
#include "sweep/spec.h"
#include "sweep/store.h"

namespace eff::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Result columns: (section in point.json, key, header, format).
struct Column {
  const char* section;
  const char* key;
  const char* header;
  html::NumberFormat format;
  double scale = 1;  // HTML only: the value shown is the CSV's times this
};

const std::vector<Column>& result_columns() {
  static const std::vector<Column> cols = {
      {"simulate", "speedup", "speedup", html::NumberFormat::plain(3)},
      {"simulate", "conv_speedup", "conv speedup", html::NumberFormat::plain(3)},
      {"simulate", "fc_speedup", "fc speedup", html::NumberFormat::plain(3)},
      {"simulate", "speedup_with_memory", "speedup with memory", html::NumberFormat::plain(3)},
      {"simulate", "energy_efficiency", "energy efficiency", html::NumberFormat::plain(3)},
      {"simulate", "energy_pj", "energy", html::NumberFormat::si(3, "J"), 1e-12},
      {"simulate", "relative_area", "relative area", html::NumberFormat::plain(3)},
      {"simulate", "power_w", "power (W)", html::NumberFormat::plain(3)},
      {"eval", "top1", "top-1", html::NumberFormat::percent(2)},
      {"profile", "act_zero_fraction", "zero activations", html::NumberFormat::percent(1)},
      {"profile", "act_essential_bits", "essential bits", html::NumberFormat::plain(2)},
  };
  return cols;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::optional<double> result_of(const json& point, const Column& c) {
  if (!point.contains("results") || !point["results"].contains(c.section)) return std::nullopt;
  const json& s = point["results"][c.section];
  if (!s.contains(c.key) || !s[c.key].is_number()) return std::nullopt;
  return s[c.key].get<double>();
}

// %.17g: the shortest text that reads back as the same double on every machine.
std::string number_text(double v) {
  return fmt::format("{:.17g}", v);
}

}  // namespace

MergeSummary merge_sweep(const std::string& dir) {
  const std::string spec_path = (fs::path(dir) / "spec.yaml").string();
  std::error_code ec;
  if (!fs::exists(spec_path, ec)) fail<UsageError>("{}: not a sweep folder (no spec.yaml)", dir);
  // The spec's own file names are not re-checked here: merge may run where the models are not.
  const std::string text = read_file(spec_path, 1 << 20);
  const Spec spec = parse_spec(text, spec_path, /*check_files=*/false);
  SweepStore store(dir);
  MergeSummary sum;
  json rows = json::array();
  json timings = json::array();
  std::ostringstream csv;
  csv << "index,id,label";
  for (const char* a : kAxes) csv << "," << a;
  csv << ",status";
  for (const Column& c : result_columns()) csv << "," << c.section << "." << c.key;
  csv << "\n";

  html::Table table;
  table.caption = "One row per point, in the sweep file's order; click a header to sort.";
  table.header = {"#", "point"};
  for (const char* a : kAxes) table.header.push_back(a);
  table.header.push_back("status");
  for (const Column& c : result_columns()) table.header.push_back(c.header);

  std::vector<std::string> categories;
  std::vector<double> speedup, efficiency, accuracy;
  bool any_sim = false, any_eval = false;
  for (const Point& p : spec.points) {
    ++sum.points;
    json point;
    const std::string file = store.point_dir(p.id) + "/point.json";
    try {
      point = json::parse(read_file(file, 64 << 20));
    } catch (const std::exception&) {  // not computed, or lost to a machine crash (store.cpp)
      point = {{"id", p.id}, {"index", p.index}, {"label", p.label}, {"values", p.values}, {"status", "missing"}};
    }
    const std::string status = point.value("status", "missing");
    sum.ok += status == "ok";
    sum.failed += status == "failed";
    sum.missing += status == "missing";
    if (point.contains("timing")) timings.push_back({{"id", p.id}, {"timing", point["timing"]}});
    json row = {{"index", p.index}, {"id", p.id}, {"label", p.label}, {"values", p.values}, {"status", status}};
    if (point.contains("results")) row["results"] = point["results"];
    if (point.contains("error")) row["error"] = point["error"];
    rows.push_back(row);

    csv << p.index << "," << p.id << "," << csv_field(p.label);
    for (const char* a : kAxes) csv << "," << csv_field(axis_value_text(a, p.values[a]));
    csv << "," << status;
    std::vector<html::Cell> cells = {html::Cell(p.index), html::Cell(p.id)};
    for (const char* a : kAxes) cells.emplace_back(axis_value_text(a, p.values[a]));
    cells.emplace_back(status);
    for (const Column& c : result_columns()) {
      const std::optional<double> v = result_of(point, c);
      csv << "," << (v ? number_text(*v) : "");
      cells.push_back(v ? html::Cell(*v * c.scale, c.format) : html::Cell(""));
    }
    csv << "\n";
    table.rows.push_back(std::move(cells));

    categories.push_back(fmt::format("{} {}", p.index, p.label));
    const auto sp = result_of(point, result_columns()[0]);
    const auto ee = result_of(point, result_columns()[4]);
    const auto acc = result_of(point, result_columns()[8]);
    any_sim |= sp.has_value();
    any_eval |= acc.has_value();
    speedup.push_back(sp.value_or(0));
    efficiency.push_back(ee.value_or(0));
    accuracy.push_back(acc.value_or(0));
  }

  const json doc = {{"format", "effectual-sweep-results"},
                    {"version", 1},
                    {"name", spec.name},
                    {"compute", spec.compute},
                    {"points", rows}};
  write_file_atomic((fs::path(dir) / "results.json").string(), doc.dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "results.csv").string(), csv.str());
  write_file_atomic((fs::path(dir) / "timings.json").string(), json{{"points", timings}}.dump(2) + "\n");

  html::HtmlReport report(
      "effectual sweep" + (spec.name.empty() ? "" : ": " + spec.name),
      fmt::format("{} point(s): {} ok, {} failed, {} missing", sum.points, sum.ok, sum.failed, sum.missing));
  report.set_footer("effectual 0.1.0");
  html::Section& s = report.section("points", "Points",
                                    "Speedup and energy efficiency are over the DaDianNao of the same grid "
                                    "(docs/simulator.md); top-1 on the point's images.");
  s.table(table);
  auto chart = [&](const std::string& title, const std::string& caption, const std::string& y,
                   const std::vector<double>& v, html::NumberFormat f) {
    html::BarChart c;
    c.title = title;
    c.caption = caption;
    c.x_label = "point";
    c.y_label = y;
    c.categories = categories;
    c.series = {{y, v, ""}};
    c.format = f;
    s.bar_chart(c);
  };
  // A bar per point stops being readable (and the SVG grows) long before 10,000 points.
  constexpr size_t kMaxChartPoints = 200;
  if (categories.size() > kMaxChartPoints && (any_sim || any_eval)) {
    s.note(
        fmt::format("{} points: the per-point charts are left out above {}; the table (sortable) and "
                    "results.csv hold every point.",
                    categories.size(), kMaxChartPoints));
    any_sim = any_eval = false;
  }
  if (any_sim) {
    chart("Speedup per point", "Cycles of DaDianNao over the design's, all conv and FC layers.", "speedup", speedup,
          html::NumberFormat::plain(2));
    chart("Energy efficiency per point", "On-chip energy of DaDianNao over the design's.", "energy efficiency",
          efficiency, html::NumberFormat::plain(2));
  }
  if (any_eval) {
    chart("Accuracy per point", "Top-1 on the point's images with its precision profile and thresholds.", "top-1",
          accuracy, html::NumberFormat::percent(1));
  }
  report.write((fs::path(dir) / "report.html").string());
  return sum;
}

}  // namespace eff::sweep
