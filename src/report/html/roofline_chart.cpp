// The log-log roofline (Williams et al.; the tutorial seed's "arithmetic intensity" section):
// attainable ops/s = min(peak, bandwidth x intensity). Each machine is one polyline whose kink is
// the ridge point (peak / bandwidth, peak).
#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "report/html/svg.h"

namespace eff::html::svg {

namespace {

constexpr double kPlotWidth = 600;
constexpr double kPlotHeight = 340;
constexpr double kTitleHeight = 34;
constexpr double kPadFactor = 2;       // data sits at least this factor inside the axis ends
constexpr double kMaxSpanDecades = 9;  // wider ranges would squash everything that matters
constexpr double kLabelFont = 10;

struct LogRange {
  double lo = 0;
  double hi = 0;
  bool any = false;
  void add(double v) {
    if (!(v > 0) || !std::isfinite(v)) return;
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  }
  // Pads by kPadFactor on both ends and caps the span, keeping the top (the roofs) in view.
  void finish() {
    lo /= kPadFactor;
    hi *= kPadFactor;
    lo = std::max(lo, hi / std::pow(10.0, kMaxSpanDecades));
  }
};

// "130 GMAC/s" rather than "130.00 GMAC/s": legends read better without padding zeros.
std::string compact_si(double v, const std::string& unit) {
  std::string s = format_number(v, NumberFormat::si(2, unit));
  size_t end = s.find(' ');
  if (end == std::string::npos) end = s.size();
  std::string number = s.substr(0, end);
  if (number.find('.') != std::string::npos) {
    while (number.back() == '0') number.pop_back();
    if (number.back() == '.') number.pop_back();
  }
  return number + s.substr(end);
}

struct LabelBox {
  double x0, y0, x1, y1;
  bool overlaps(const LabelBox& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

}  // namespace

std::string render_roofline(const RooflineChart& c) {
  std::string what = fmt::format("roofline '{}'", c.title);
  std::vector<std::string> machine_colors;
  LogRange xr;
  LogRange yr;
  for (size_t m = 0; m < c.machines.size(); ++m) {
    const Machine& machine = c.machines[m];
    if (!(machine.peak_ops_per_s > 0) || !std::isfinite(machine.peak_ops_per_s)) {
      fail<UsageError>("{}: machine '{}' has peak {} ops/s; it must be a positive number", what, machine.name,
                       machine.peak_ops_per_s);
    }
    if (!(machine.bytes_per_s > 0) || !std::isfinite(machine.bytes_per_s)) {
      fail<UsageError>("{}: machine '{}' has bandwidth {} bytes/s; it must be a positive number", what, machine.name,
                       machine.bytes_per_s);
    }
    // Machines are drawn in dark tones, points in the palette, so that roofs and layers differ.
    static constexpr const char* kRoofColors[] = {"#333333", "#8c2d04", "#08519c", "#54278f"};
    machine_colors.push_back(machine.color.empty() ? kRoofColors[m % std::size(kRoofColors)]
                                                   : color(machine.color, m, what));
    xr.add(machine.peak_ops_per_s / machine.bytes_per_s);
    yr.add(machine.peak_ops_per_s);
  }
  std::vector<std::string> notes;
  std::vector<const RooflinePoint*> drawable;
  for (const auto& p : c.points) {
    if (p.intensity > 0 && p.ops_per_s > 0 && std::isfinite(p.intensity) && std::isfinite(p.ops_per_s)) {
      drawable.push_back(&p);
      xr.add(p.intensity);
      yr.add(p.ops_per_s);
    } else {
      notes.push_back(fmt::format("{} (intensity {}, {} {}/s; log axes need positive values)", p.label,
                                  format_number(p.intensity, {}), format_number(p.ops_per_s, NumberFormat::si()),
                                  c.ops_unit));
    }
  }
  if (c.machines.empty() && drawable.empty()) {
    return empty_figure("roofline", c.title, c.caption, "No data: no machines and no layers", notes);
  }
  xr.finish();
  // The bandwidth slope at the left end of the axis is part of the picture.
  for (const auto& machine : c.machines) yr.add(machine.bytes_per_s * xr.lo);
  yr.finish();
  // Points that fell below the capped y range are dropped with a note rather than drawn on the edge.
  std::erase_if(drawable, [&](const RooflinePoint* p) {
    if (p->ops_per_s >= yr.lo && p->intensity >= xr.lo) return false;
    notes.push_back(fmt::format("{} (below the plotted range)", p->label));
    return true;
  });

  std::vector<std::string> groups;
  for (const auto* p : drawable) {
    if (std::find(groups.begin(), groups.end(), p->group) == groups.end()) groups.push_back(p->group);
  }
  std::vector<LegendItem> items;
  for (size_t m = 0; m < c.machines.size(); ++m) {
    const Machine& machine = c.machines[m];
    items.push_back({fmt::format("{} ({}, {})", machine.name, compact_si(machine.peak_ops_per_s, c.ops_unit + "/s"),
                                 compact_si(machine.bytes_per_s, "B/s")),
                     machine_colors[m], Swatch::line});
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    items.push_back({groups[g].empty() ? "layers" : groups[g], color("", g, what), Swatch::dot});
  }

  std::vector<double> yt = log_ticks(yr.lo, yr.hi);
  double tick_w = 0;
  for (double v : yt) tick_w = std::max(tick_w, text_width(format_log_tick(v, c.ops_unit + "/s"), 11));
  double left = 12 + 22 + tick_w + 10;
  double width = left + kPlotWidth + 24;
  double legend_w = width - 24;
  double legend_h = legend_height(items, legend_w) + 6;
  Rect plot{left, kTitleHeight + legend_h + 8, kPlotWidth, kPlotHeight};
  double height = plot.bottom() + 10 + 11 + 6 + 26;
  auto x_px = [&](double v) { return plot.x + plot.w * log_fraction(v, xr.lo, xr.hi); };
  auto y_px = [&](double v) { return plot.bottom() - plot.h * log_fraction(v, yr.lo, yr.hi); };

  std::string body;
  legend(body, items, 12, kTitleHeight, legend_w);
  emit(body,
       "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-x-min=\"{}\" data-x-max=\"{}\" "
       "data-y-min=\"{}\" data-y-max=\"{}\"/>\n",
       num(plot.x), num(plot.y), num(plot.w), num(plot.h), xr.lo, xr.hi, yr.lo, yr.hi);
  emit(body, "<g class=\"axis y-axis\">");
  for (double v : yt) {
    double y = y_px(v);
    emit(body, "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(plot.x), num(y), num(plot.right()),
         num(y));
    emit(body, "<text class=\"tick\" x=\"{}\" y=\"{}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>", num(plot.x - 6),
         num(y), escape(format_log_tick(v, c.ops_unit + "/s")));
  }
  emit(body, "<text class=\"axis-label\" transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
       num(24), num(plot.y + plot.h / 2), escape("performance (" + c.ops_unit + "/s, log scale)"));
  emit(body, "</g>\n<g class=\"axis x-axis\">");
  for (double v : log_ticks(xr.lo, xr.hi)) {
    double x = x_px(v);
    emit(body, "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(x), num(plot.y), num(x),
         num(plot.bottom()));
    emit(body, "<text class=\"tick\" x=\"{}\" y=\"{}\" dy=\"0.8em\" text-anchor=\"middle\">{}</text>", num(x),
         num(plot.bottom() + 6), escape(format_log_tick(v, "")));
  }
  emit(body, "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", num(plot.x + plot.w / 2),
       num(height - 8), escape("arithmetic intensity (" + c.ops_unit + "/byte, log scale)"));
  emit(body, "</g>\n");

  for (size_t m = 0; m < c.machines.size(); ++m) {
    const Machine& machine = c.machines[m];
    double ridge = machine.peak_ops_per_s / machine.bytes_per_s;
    // The slope enters the plot at the left edge or, if it is below the range there, at the
    // bottom edge; both ends are computed rather than clipped, so no clip-path (and no id) is needed.
    double x_start = std::max(xr.lo, yr.lo / machine.bytes_per_s);
    std::string points;
    if (x_start < ridge) {
      points += fmt::format("{},{} ", num(x_px(x_start)), num(y_px(machine.bytes_per_s * x_start)));
    }
    double x_kink = std::max(ridge, xr.lo);
    points += fmt::format("{},{} {},{}", num(x_px(x_kink)),
                          num(y_px(std::min(machine.peak_ops_per_s, machine.bytes_per_s * x_kink))), num(x_px(xr.hi)),
                          num(y_px(machine.peak_ops_per_s)));
    std::string tip = fmt::format("{}: peak {}, bandwidth {}, ridge at {} {}/byte", machine.name,
                                  format_number(machine.peak_ops_per_s, NumberFormat::si(2, c.ops_unit + "/s")),
                                  format_number(machine.bytes_per_s, NumberFormat::si(2, "B/s")),
                                  format_number(ridge, NumberFormat::plain(2)), c.ops_unit);
    emit(body,
         "<g class=\"machine\" data-machine=\"{}\" data-ridge=\"{}\"><polyline class=\"roof\" points=\"{}\" "
         "fill=\"none\" "
         "stroke=\"{}\"/><line class=\"ridge\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" "
         "stroke=\"{}\"/><title>{}</title></g>\n",
         escape(machine.name), ridge, points, machine_colors[m], num(x_px(ridge)), num(y_px(machine.peak_ops_per_s)),
         num(x_px(ridge)), num(plot.bottom()), machine_colors[m], escape(tip));
  }

  body += "<g class=\"marks\">\n";
  std::vector<LabelBox> taken;
  std::string labels;
  for (const auto* p : drawable) {
    size_t g = static_cast<size_t>(std::find(groups.begin(), groups.end(), p->group) - groups.begin());
    double x = x_px(p->intensity);
    double y = y_px(p->ops_per_s);
    std::string tip = fmt::format("{}{}: {} {}/byte, {}", p->label, p->group.empty() ? "" : " (" + p->group + ")",
                                  format_number(p->intensity, NumberFormat::plain(2)), c.ops_unit,
                                  format_number(p->ops_per_s, NumberFormat::si(2, c.ops_unit + "/s")));
    emit(body,
         "<circle class=\"point\" cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\" data-label=\"{}\" data-x=\"{}\" "
         "data-value=\"{}\"><title>{}</title></circle>\n",
         num(x), num(y), color("", g, what), escape(p->label), p->intensity, p->ops_per_s, escape(tip));
    // Labels go right of their point; one that would overlap an earlier label or leave the plot
    // is left out (the tooltip still names the point).
    std::string shown = truncate(p->label, 18);
    double w = text_width(shown, kLabelFont);
    LabelBox box{x + 6, y - 6 - kLabelFont, x + 6 + w, y - 4};
    bool fits = box.x1 <= plot.right() && box.y0 >= plot.y;
    bool free = std::none_of(taken.begin(), taken.end(), [&](const LabelBox& t) { return t.overlaps(box); });
    if (!shown.empty() && fits && free) {
      taken.push_back(box);
      emit(labels, "<text class=\"point-label\" x=\"{}\" y=\"{}\">{}</text>\n", num(box.x0), num(box.y1 - 1),
           escape(shown));
    }
  }
  body += "</g>\n<g class=\"point-labels\">\n" + labels + "</g>\n";
  return figure("roofline", c.title, c.caption, notes, width, height, body);
}

}  // namespace eff::html::svg
