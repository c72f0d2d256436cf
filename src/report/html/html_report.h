// A self-contained HTML report: one file with inline CSS, inline SVG charts and a few lines of
// inline script (table sorting, a render self-check), so it opens offline in any browser and can
// be mailed or archived as is. Sections are independent: the profiler, the simulator and any
// later tool each add their own with `report.section(...)` (docs/report.md).
//
// Every block is rendered and validated when it is added, so a bad chart throws a UsageError
// naming the chart at the call that built it. Output is deterministic: the same calls give
// byte-identical HTML (no timestamps, numbers at fixed precision).
#pragma once

#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eff::html {

// How a number is shown on axes, in tooltips and in table cells.
struct NumberFormat {
  enum class Kind {
    plain,    // 1234.57
    percent,  // the value is a fraction: 0.44 -> 44.0%
    si,       // 1.2e9 -> 1.20 G (k M G T P E; m µ n p below one)
  };
  Kind kind = Kind::plain;
  int decimals = 2;    // digits after the point, 0..9
  std::string unit{};  // appended after a space ("ops/s" -> "1.20 Gops/s"); ignored for percent

  static NumberFormat plain(int decimals = 2, std::string unit = "") {
    return {Kind::plain, decimals, std::move(unit)};
  }
  static NumberFormat percent(int decimals = 1) { return {Kind::percent, decimals, ""}; }
  static NumberFormat si(int decimals = 2, std::string unit = "") { return {Kind::si, decimals, std::move(unit)}; }
};

// One named series of values, one per category (bar charts) or per x value (line charts).
struct Series {
  std::string name{};
  std::vector<double> values{};
  std::string color{};  // "#rrggbb"; empty = the next colour of the report palette
};

// A horizontal line across the plot, e.g. the network average.
struct ReferenceLine {
  std::string label{};
  double value = 0;
};

// Vertical bars over categories (layers, bins). Grouped puts the series side by side; stacked
// piles them (values must be >= 0), e.g. "zero" under "near-zero" as in the Cnvlutin Figure 4.
// A histogram is a bar chart whose categories are the bins (see histogram_chart).
struct BarChart {
  enum class Layout { grouped, stacked };
  std::string title{};
  std::string caption{};  // the figcaption; what the reader should see in the chart
  std::string x_label{};
  std::string y_label{};
  std::vector<std::string> categories{};
  std::vector<Series> series{};  // each with categories.size() values
  Layout layout = Layout::grouped;
  NumberFormat format{};          // axis ticks and tooltips
  std::optional<double> y_max{};  // fixed axis maximum (1.0 for fractions); default: nice ticks
  std::vector<ReferenceLine> reference_lines{};
};

// Lines with point markers. With `categories` set, x is categorical (series values are one per
// category); otherwise each series gives its x values in `x` (same length as `values`).
struct LineSeries {
  std::string name{};
  std::vector<double> x{};       // numeric x (ignored for categorical charts)
  std::vector<double> values{};  // y
  std::string color{};
};

struct LineChart {
  std::string title{};
  std::string caption{};
  std::string x_label{};
  std::string y_label{};
  std::vector<std::string> categories{};  // empty = numeric x axis
  std::vector<LineSeries> series{};
  NumberFormat x_format{};
  NumberFormat y_format{};
  std::optional<double> y_min{};  // default: 0 if all values >= 0, else nice ticks
  std::optional<double> y_max{};
  std::vector<ReferenceLine> reference_lines{};
};

// A log-log roofline: for each machine a bandwidth slope (bytes/s x ops/byte) meeting the compute
// roof (peak ops/s) at the ridge point peak / bandwidth; layers as labelled points.
struct Machine {
  std::string name{};
  double peak_ops_per_s = 0;  // > 0
  double bytes_per_s = 0;     // > 0
  std::string color{};
};

struct RooflinePoint {
  std::string label{};   // e.g. the layer name; drawn next to the point when there is room
  double intensity = 0;  // ops per byte, > 0
  double ops_per_s = 0;  // attained or bound performance, > 0
  std::string group{};   // points of one group share colour and legend entry ("attained")
};

struct RooflineChart {
  std::string title{};
  std::string caption{};
  std::vector<Machine> machines{};
  std::vector<RooflinePoint> points{};
  std::string ops_unit = "ops";  // axis labels: "ops/byte", "ops/s" (or "MAC/byte", "MAC/s")
};

// A table cell: text, and for numbers the value used to sort and to right-align the column.
struct Cell {
  std::string text;
  std::optional<double> number;

  Cell() = default;
  Cell(std::string t) : text(std::move(t)) {}  // NOLINT: implicit on purpose, rows read like lists
  Cell(const char* t) : text(t) {}             // NOLINT
  Cell(double value, const NumberFormat& format = {});
  // Counts (MACs, cycles, bytes) of any integer type, printed in full.
  template <std::integral T>
  Cell(T value) : text(std::to_string(value)), number(static_cast<double>(value)) {}  // NOLINT
};

// A column whose non-empty cells are all numbers is right-aligned and sorts numerically.
// Clicking a header sorts; tables taller than the page scroll inside their box.
struct Table {
  std::string caption{};
  std::vector<std::string> header{};
  std::vector<std::vector<Cell>> rows{};  // each with header.size() cells
};

class Section {
 public:
  Section(std::string id, std::string heading);

  const std::string& id() const { return id_; }
  const std::string& heading() const { return heading_; }
  int chart_count() const { return charts_; }

  Section& paragraph(std::string_view text);
  Section& subheading(std::string_view text);
  // A highlighted remark, e.g. "no trace found for layer fc3".
  Section& note(std::string_view text);
  // A two-column definition list (model, data set, images, ...).
  Section& key_values(const std::vector<std::pair<std::string, std::string>>& items);
  Section& bar_chart(const BarChart& chart);
  Section& line_chart(const LineChart& chart);
  Section& roofline(const RooflineChart& chart);
  Section& table(const Table& table);

  // The section's HTML (<section> element); used by HtmlReport::render.
  std::string render() const;

 private:
  std::string id_;
  std::string heading_;
  std::vector<std::string> blocks_;
  int charts_ = 0;
};

class HtmlReport {
 public:
  explicit HtmlReport(std::string title, std::string subtitle = "");

  // A new section at the end; `id` ([A-Za-z0-9_-], unique) is its anchor in the table of
  // contents. A duplicate or malformed id is a UsageError.
  Section& section(std::string_view id, std::string_view heading, std::string_view intro = "");
  // The section with this id, or nullptr.
  Section* find_section(std::string_view id);
  // Shown at the bottom (e.g. "effectual 0.1.0, lenet5.onnx"); never a timestamp, for determinism.
  void set_footer(std::string_view text) { footer_ = std::string(text); }

  int chart_count() const;
  std::string render() const;
  // render() written with write_file_atomic; a DataError names the path on failure.
  void write(const std::string& path) const;

 private:
  std::string title_;
  std::string subtitle_;
  std::string footer_;
  std::vector<std::unique_ptr<Section>> sections_;
};

// A histogram as a bar chart: bin i covers [edges[i], edges[i+1]); labels come from `edge_format`.
BarChart histogram_chart(std::string title, const std::vector<double>& edges, const std::vector<double>& counts,
                         const NumberFormat& edge_format = {});

// Helpers shared with tests and other writers.
std::string format_number(double value, const NumberFormat& format);
// `text` escaped for HTML/SVG text and attribute values (& < > " '); invalid UTF-8 and control
// characters other than tab/newline become U+FFFD.
std::string escape(std::string_view text);

}  // namespace eff::html
