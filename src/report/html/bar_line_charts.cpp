// Bar charts (grouped, stacked) and line charts.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "report/html/svg.h"

namespace eff::html::svg {

namespace {

constexpr double kWidthMin = 680;  // plot width below which charts stop shrinking
constexpr double kTitleHeight = 34;
constexpr double kMarginRight = 18;
constexpr double kPlotHeight = 260;

std::string chart_name(std::string_view kind, const std::string& title) {
  return fmt::format("{} '{}'", kind, title);
}

struct Range {
  double lo = 0;
  double hi = 0;
  bool any = false;
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  }
};

LinearTicks y_ticks(Range r, std::optional<double> y_min, std::optional<double> y_max, std::string_view what) {
  if (y_min && !std::isfinite(*y_min)) fail<UsageError>("{}: y_min is not a finite number", what);
  if (y_max && !std::isfinite(*y_max)) fail<UsageError>("{}: y_max is not a finite number", what);
  double lo = y_min ? *y_min : r.lo;
  double hi = y_max ? *y_max : r.hi;
  if (y_min && y_max && *y_min >= *y_max) fail<UsageError>("{}: y_min {} is not below y_max {}", what, *y_min, *y_max);
  LinearTicks t = y_max ? nice_ticks_fixed_max(lo, hi) : nice_ticks(lo, hi);
  if (y_max && t.hi != *y_max) fail<UsageError>("{}: y_max {} is not above the smallest value {}", what, *y_max, lo);
  if (y_min) {
    t.lo = *y_min;
    std::erase_if(t.values, [&](double v) { return v < *y_min; });
  }
  return t;
}

}  // namespace

std::string render_bar_chart(const BarChart& c) {
  bool stacked = c.layout == BarChart::Layout::stacked;
  std::string_view kind = stacked ? "stacked-bar" : "bar";
  std::string what = chart_name("bar chart", c.title);
  std::vector<std::string> colors;
  for (size_t s = 0; s < c.series.size(); ++s) {
    const Series& series = c.series[s];
    if (series.values.size() != c.categories.size()) {
      fail<UsageError>("{}: series '{}' has {} values for {} categories", what, series.name, series.values.size(),
                       c.categories.size());
    }
    colors.push_back(color(series.color, s, what));
  }

  std::vector<std::string> notes;
  Range range;
  range.add(0);
  std::vector<double> stack_tops(c.categories.size(), 0.0);
  bool any_value = false;
  for (const auto& series : c.series) {
    for (size_t i = 0; i < series.values.size(); ++i) {
      double v = series.values[i];
      if (!std::isfinite(v)) {
        notes.push_back(fmt::format("{} / {} ({})", c.categories[i], series.name, format_number(v, c.format)));
        continue;
      }
      any_value = true;
      if (stacked) {
        if (v < 0)
          fail<UsageError>("{}: series '{}' has negative value {} at '{}'; stacks need values >= 0", what, series.name,
                           v, c.categories[i]);
        stack_tops[i] += v;
        range.add(stack_tops[i]);
      } else {
        range.add(v);
      }
    }
  }
  if (c.categories.empty() || c.series.empty() || !any_value) {
    std::string why = c.categories.empty() ? "No data: no categories"
                      : c.series.empty()   ? "No data: no series"
                                           : "No data: every value is missing (NaN or infinite)";
    return empty_figure(kind, c.title, c.caption, why, notes);
  }
  for (const auto& line : c.reference_lines) range.add(line.value);
  LinearTicks ticks = y_ticks(range, std::nullopt, c.y_max, what);

  size_t n = c.categories.size();
  size_t ns = c.series.size();
  double band_min = stacked ? 26.0 : std::max(26.0, 9.0 * static_cast<double>(ns) + 10);
  double plot_w = std::max(kWidthMin, band_min * static_cast<double>(n));
  double band = plot_w / static_cast<double>(n);
  CategoryAxis cat_axis = plan_category_axis(c.categories, band);
  double left = std::max(12 + linear_y_axis_width(ticks, c.format, c.y_label), cat_axis.overhang - band / 2 + 12);
  double width = left + plot_w + kMarginRight;

  std::vector<LegendItem> items;
  for (size_t s = 0; s < ns; ++s) items.push_back({c.series[s].name, colors[s], Swatch::box});
  // Stacks read bottom-up; the legend lists the top series first so that it matches the picture.
  if (stacked) std::reverse(items.begin(), items.end());
  double legend_w = width - 24;
  double legend_h = ns > 1 ? legend_height(items, legend_w) + 6 : 0;
  Rect plot{left, kTitleHeight + legend_h + 8, plot_w, kPlotHeight};
  double height = plot.bottom() + cat_axis.height + (c.x_label.empty() ? 6 : 26);

  std::string body;
  if (ns > 1) legend(body, items, 12, kTitleHeight, legend_w);
  emit(body,
       "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-y-min=\"{}\" data-y-max=\"{}\"/>\n",
       num(plot.x), num(plot.y), num(plot.w), num(plot.h), ticks.lo, ticks.hi);
  linear_y_axis(body, ticks, c.format, plot, c.y_label);
  body += "\n<g class=\"marks\">\n";
  double inner = band * 0.78;
  double bar_w = stacked ? std::min(inner, 56.0) : std::min(inner / static_cast<double>(ns), 40.0);
  double zero_px = y_to_px(std::clamp(0.0, ticks.lo, ticks.hi), ticks, plot);
  std::fill(stack_tops.begin(), stack_tops.end(), 0.0);
  for (size_t s = 0; s < ns; ++s) {
    const Series& series = c.series[s];
    for (size_t i = 0; i < n; ++i) {
      double v = series.values[i];
      if (!std::isfinite(v)) continue;
      double centre = plot.x + band * (static_cast<double>(i) + 0.5);
      double x =
          stacked ? centre - bar_w / 2 : centre - bar_w * static_cast<double>(ns) / 2 + bar_w * static_cast<double>(s);
      double y_lo_px = stacked ? y_to_px(stack_tops[i], ticks, plot) : zero_px;
      double y_hi_px = stacked ? y_to_px(stack_tops[i] + v, ticks, plot) : y_to_px(v, ticks, plot);
      if (stacked) stack_tops[i] += v;
      double top = std::min(y_lo_px, y_hi_px);
      double h = std::fabs(y_lo_px - y_hi_px);
      emit(body,
           "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" data-series=\"{}\" "
           "data-category=\"{}\" data-value=\"{}\"><title>{}</title></rect>\n",
           num(x), num(top), num(std::max(bar_w - (ns > 1 && !stacked ? 1.0 : 0.0), 1.0)), num(h), colors[s],
           escape(series.name), escape(c.categories[i]), v,
           escape(fmt::format("{} / {}: {}", c.categories[i], series.name, format_number(v, c.format))));
    }
  }
  body += "</g>\n";
  reference_lines(body, c.reference_lines, ticks, c.format, plot);
  category_axis(body, cat_axis, c.categories, plot, band);
  if (!c.x_label.empty()) {
    emit(body, "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
         num(plot.x + plot.w / 2), num(height - 8), escape(c.x_label));
  }
  return figure(kind, c.title, c.caption, notes, width, height, body);
}

std::string render_line_chart(const LineChart& c) {
  std::string what = chart_name("line chart", c.title);
  bool categorical = !c.categories.empty();
  std::vector<std::string> colors;
  std::vector<std::string> notes;
  Range xr;
  Range yr;
  for (size_t s = 0; s < c.series.size(); ++s) {
    const LineSeries& series = c.series[s];
    size_t expected = categorical ? c.categories.size() : series.x.size();
    if (series.values.size() != expected) {
      fail<UsageError>("{}: series '{}' has {} values for {} {}", what, series.name, series.values.size(), expected,
                       categorical ? "categories" : "x values");
    }
    colors.push_back(color(series.color, s, what));
    for (size_t i = 0; i < series.values.size(); ++i) {
      double x = categorical ? static_cast<double>(i) : series.x[i];
      double y = series.values[i];
      if (!std::isfinite(x) || !std::isfinite(y)) {
        std::string at = categorical ? c.categories[i] : format_number(x, c.x_format);
        notes.push_back(fmt::format("{} at {} ({})", series.name, at, format_number(y, c.y_format)));
        continue;
      }
      xr.add(x);
      yr.add(y);
    }
  }
  if (c.series.empty() || !yr.any) {
    return empty_figure("line", c.title, c.caption,
                        c.series.empty() ? "No data: no series" : "No data: no finite points", notes);
  }
  for (const auto& line : c.reference_lines) yr.add(line.value);
  std::optional<double> y_min = c.y_min;
  if (!y_min && yr.lo >= 0) y_min = 0.0;
  if (y_min && c.y_max && *y_min >= *c.y_max) fail<UsageError>("{}: y_min is not below y_max", what);
  if (y_min) yr.add(*y_min);
  LinearTicks ticks = y_ticks(yr, y_min, c.y_max, what);

  double n = categorical ? static_cast<double>(c.categories.size()) : 0;
  double plot_w = categorical ? std::max(kWidthMin, 30.0 * n) : kWidthMin + 60;
  double band = categorical ? plot_w / n : 0;
  LinearTicks xticks = nice_ticks(xr.lo, xr.hi, 6);
  CategoryAxis cat_axis;
  if (categorical) cat_axis = plan_category_axis(c.categories, band);
  double x_axis_h = categorical ? cat_axis.height : 10 + 11 + 6;
  double overhang = categorical ? cat_axis.overhang - band / 2 : 0;
  double left = std::max(12 + linear_y_axis_width(ticks, c.y_format, c.y_label), overhang + 12);
  double width = left + plot_w + kMarginRight + (categorical ? 0 : 12);
  std::vector<LegendItem> items;
  for (size_t s = 0; s < c.series.size(); ++s) items.push_back({c.series[s].name, colors[s], Swatch::line});
  double legend_w = width - 24;
  double legend_h = c.series.size() > 1 ? legend_height(items, legend_w) + 6 : 0;
  Rect plot{left, kTitleHeight + legend_h + 8, plot_w, kPlotHeight};
  double height = plot.bottom() + x_axis_h + (c.x_label.empty() ? 6 : 26);
  auto x_px = [&](double x) {
    if (categorical) return plot.x + band * (x + 0.5);
    return plot.x + plot.w * (x - xticks.lo) / (xticks.hi - xticks.lo);
  };

  std::string body;
  if (c.series.size() > 1) legend(body, items, 12, kTitleHeight, legend_w);
  emit(body,
       "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-y-min=\"{}\" data-y-max=\"{}\"/>\n",
       num(plot.x), num(plot.y), num(plot.w), num(plot.h), ticks.lo, ticks.hi);
  linear_y_axis(body, ticks, c.y_format, plot, c.y_label);
  if (categorical) {
    category_axis(body, cat_axis, c.categories, plot, band);
  } else {
    emit(body, "<g class=\"axis x-axis\">");
    for (double v : xticks.values) {
      double x = x_px(v);
      emit(body, "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(x), num(plot.y), num(x),
           num(plot.bottom()));
      emit(body, "<text class=\"tick\" x=\"{}\" y=\"{}\" dy=\"0.8em\" text-anchor=\"middle\">{}</text>", num(x),
           num(plot.bottom() + 6),
           escape(format_tick(v, xticks.step, std::max(std::fabs(xticks.lo), std::fabs(xticks.hi)), c.x_format)));
    }
    emit(body, "</g>\n");
  }
  reference_lines(body, c.reference_lines, ticks, c.y_format, plot);
  body += "<g class=\"marks\">\n";
  for (size_t s = 0; s < c.series.size(); ++s) {
    const LineSeries& series = c.series[s];
    // A missing value breaks the line rather than bridging the gap with a made-up segment.
    std::string points;
    size_t segment_points = 0;
    auto flush = [&] {
      if (segment_points > 1) {
        emit(body, "<polyline class=\"line\" points=\"{}\" fill=\"none\" stroke=\"{}\" data-series=\"{}\"/>\n", points,
             colors[s], escape(series.name));
      }
      points.clear();
      segment_points = 0;
    };
    for (size_t i = 0; i < series.values.size(); ++i) {
      double x = categorical ? static_cast<double>(i) : series.x[i];
      double y = series.values[i];
      if (!std::isfinite(x) || !std::isfinite(y)) {
        flush();
        continue;
      }
      if (!points.empty()) points += ' ';
      points += num(x_px(x)) + "," + num(y_to_px(y, ticks, plot));
      ++segment_points;
    }
    flush();
    for (size_t i = 0; i < series.values.size(); ++i) {
      double x = categorical ? static_cast<double>(i) : series.x[i];
      double y = series.values[i];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      std::string at = categorical ? c.categories[i] : format_number(x, c.x_format);
      emit(body,
           "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"{}\" data-series=\"{}\" data-x=\"{}\" "
           "data-value=\"{}\"><title>{}</title></circle>\n",
           num(x_px(x)), num(y_to_px(y, ticks, plot)), colors[s], escape(series.name), x, y,
           escape(fmt::format("{} at {}: {}", series.name, at, format_number(y, c.y_format))));
    }
  }
  body += "</g>\n";
  if (!c.x_label.empty()) {
    emit(body, "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
         num(plot.x + plot.w / 2), num(height - 8), escape(c.x_label));
  }
  return figure("line", c.title, c.caption, notes, width, height, body);
}

}  // namespace eff::html::svg
