// Internal to src/report/html: the pieces every chart shares (figure wrapper, palette, legend,
// axes, category labels) and the three chart renderers. Not for use outside this directory.
#pragma once

#include <fmt/format.h>

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "report/html/axis.h"
#include "report/html/html_report.h"

namespace eff::html::svg {

// A coordinate with two decimals: enough for the eye, stable for byte-identical output.
std::string num(double v);

// Text width estimate for the report's sans-serif font (about 0.58 em per character); used only
// for layout (margins, legend wrapping, label collisions), never for data.
double text_width(std::string_view text, double font_px);
// At most `max_chars` code points; longer text keeps its start and end around an ellipsis (the
// full text goes in a tooltip).
std::string truncate(std::string_view text, size_t max_chars);

// The colour for series `index` (a colour-blind-safe palette), or `requested` if given;
// `requested` must be "#rgb" or "#rrggbb" (a UsageError names `what` otherwise).
std::string color(const std::string& requested, size_t index, std::string_view what);

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;
  double right() const { return x + w; }
  double bottom() const { return y + h; }
};

enum class Swatch { box, line, dot };
struct LegendItem {
  std::string label;
  std::string color;
  Swatch swatch = Swatch::box;
};
// Lays the legend out in rows starting at (x, y), wrapping at `width`; returns the height used.
double legend(std::string& out, const std::vector<LegendItem>& items, double x, double y, double width);
// The height legend() would use.
double legend_height(const std::vector<LegendItem>& items, double width);

// Horizontal grid lines with tick labels left of `plot`, and the rotated axis label.
void linear_y_axis(std::string& out, const LinearTicks& ticks, const NumberFormat& format, const Rect& plot,
                   const std::string& label);
double linear_y_axis_width(const LinearTicks& ticks, const NumberFormat& format, const std::string& label);
double y_to_px(double v, const LinearTicks& ticks, const Rect& plot);

// Category labels under the plot: horizontal if they fit their band, else rotated by -45 degrees.
struct CategoryAxis {
  std::vector<std::string> shown;  // truncated labels
  bool rotated = false;
  double height = 0;    // below the plot
  double overhang = 0;  // how far the first rotated label reaches left of its band centre
};
CategoryAxis plan_category_axis(const std::vector<std::string>& categories, double band);
void category_axis(std::string& out, const CategoryAxis& axis, const std::vector<std::string>& categories,
                   const Rect& plot, double band);

// Dashed horizontal lines with a label at the right end.
void reference_lines(std::string& out, const std::vector<ReferenceLine>& lines, const LinearTicks& ticks,
                     const NumberFormat& format, const Rect& plot);

// <figure class="chart" data-chart-kind="..."> with one <svg> (title first) and a figcaption.
// `notes` (values not drawn, and why) are appended to the caption.
std::string figure(std::string_view kind, const std::string& title, const std::string& caption,
                   const std::vector<std::string>& notes, double width, double height, const std::string& body);
// The figure for a chart with nothing to draw: an SVG that says why.
std::string empty_figure(std::string_view kind, const std::string& title, const std::string& caption,
                         const std::string& why, const std::vector<std::string>& notes);

// Joins at most `max_items` entries ("a, b, c and 4 more").
std::string summarize(const std::vector<std::string>& items, size_t max_items = 6);

std::string render_bar_chart(const BarChart& chart);
std::string render_line_chart(const LineChart& chart);
std::string render_roofline(const RooflineChart& chart);

template <class... Args>
void emit(std::string& out, fmt::format_string<Args...> f, Args&&... args) {
  fmt::format_to(std::back_inserter(out), f, std::forward<Args>(args)...);
}

}  // namespace eff::html::svg
