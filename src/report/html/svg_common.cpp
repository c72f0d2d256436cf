#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/error.h"
#include "report/html/svg.h"

namespace eff::html::svg {

namespace {

constexpr double kTickFont = 11;
constexpr double kLegendFont = 12;
constexpr double kLegendRow = 18;
constexpr double kSwatch = 11;
constexpr double kMaxCategoryChars = 26;

size_t code_points(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

double legend_item_width(const LegendItem& item) {
  return kSwatch + 6 + text_width(item.label, kLegendFont) + 18;
}

bool is_hex_color(const std::string& c) {
  if (c.size() != 4 && c.size() != 7) return false;
  if (c[0] != '#') return false;
  return std::all_of(c.begin() + 1, c.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); });
}

}  // namespace

std::string num(double v) {
  std::string s = fmt::format("{:.2f}", v);
  if (s == "-0.00") s = "0.00";
  return s;
}

double text_width(std::string_view text, double font_px) {
  return static_cast<double>(code_points(text)) * font_px * 0.58;
}

std::string truncate(std::string_view text, size_t max_chars) {
  size_t total = code_points(text);
  if (total <= max_chars || max_chars < 2) return std::string(text);
  // Layer names are paths ("/features/features.10/Conv", "block3.branch.conv_2"): the end tells
  // them apart, the start says where they are, so the middle goes.
  size_t head = (max_chars - 1) * 2 / 5;
  size_t tail = max_chars - 1 - head;
  auto byte_offset = [&](size_t code_point) {
    size_t seen = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if ((text[i] & 0xC0) != 0x80 && seen++ == code_point) return i;
    }
    return text.size();
  };
  return std::string(text.substr(0, byte_offset(head))) + "\xE2\x80\xA6" +  // U+2026
         std::string(text.substr(byte_offset(total - tail)));
}

std::string color(const std::string& requested, size_t index, std::string_view what) {
  // Tableau 10: distinct in print, on projectors and for the common colour-vision deficiencies.
  static constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                             "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  if (requested.empty()) return kPalette[index % std::size(kPalette)];
  if (!is_hex_color(requested)) fail<UsageError>("{}: color '{}' is not #rgb or #rrggbb", what, requested);
  return requested;
}

double legend_height(const std::vector<LegendItem>& items, double width) {
  if (items.empty()) return 0;
  double x = 0;
  int rows = 1;
  for (const auto& item : items) {
    double w = legend_item_width(item);
    if (x > 0 && x + w > width) {
      ++rows;
      x = 0;
    }
    x += w;
  }
  return rows * kLegendRow;
}

double legend(std::string& out, const std::vector<LegendItem>& items, double x0, double y0, double width) {
  if (items.empty()) return 0;
  emit(out, "<g class=\"legend\">");
  double x = 0;
  double y = 0;
  for (const auto& item : items) {
    double w = legend_item_width(item);
    if (x > 0 && x + w > width) {
      y += kLegendRow;
      x = 0;
    }
    double sx = x0 + x;
    double cy = y0 + y + kLegendRow / 2;
    switch (item.swatch) {
      case Swatch::box:
        emit(out, "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>", num(sx), num(cy - kSwatch / 2),
             num(kSwatch), num(kSwatch), item.color);
        break;
      case Swatch::line:
        emit(out, "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"/>", num(sx - 2),
             num(cy), num(sx + kSwatch + 2), num(cy), item.color);
        break;
      case Swatch::dot:
        emit(out, "<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"/>", num(sx + kSwatch / 2), num(cy), item.color);
        break;
    }
    emit(out, "<text x=\"{}\" y=\"{}\" dy=\"0.35em\">{}</text>", num(sx + kSwatch + 6), num(cy), escape(item.label));
    x += w;
  }
  emit(out, "</g>");
  return y + kLegendRow;
}

double y_to_px(double v, const LinearTicks& ticks, const Rect& plot) {
  double f = (v - ticks.lo) / (ticks.hi - ticks.lo);
  return plot.y + plot.h * (1 - std::clamp(f, 0.0, 1.0));
}

static double tick_magnitude(const LinearTicks& ticks) {
  return std::max(std::fabs(ticks.lo), std::fabs(ticks.hi));
}

// A labelled axis names its unit once, in the label; repeating it on every tick is clutter.
static NumberFormat tick_format(const NumberFormat& format, const std::string& label) {
  NumberFormat f = format;
  if (!label.empty()) f.unit.clear();
  return f;
}

double linear_y_axis_width(const LinearTicks& ticks, const NumberFormat& format, const std::string& label) {
  double widest = 0;
  for (double v : ticks.values) {
    widest = std::max(
        widest, text_width(format_tick(v, ticks.step, tick_magnitude(ticks), tick_format(format, label)), kTickFont));
  }
  return widest + 10 + (label.empty() ? 4 : 22);
}

void linear_y_axis(std::string& out, const LinearTicks& ticks, const NumberFormat& format, const Rect& plot,
                   const std::string& label) {
  emit(out, "<g class=\"axis y-axis\">");
  for (double v : ticks.values) {
    double y = y_to_px(v, ticks, plot);
    emit(out, "<line class=\"grid{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", v == 0 ? " zero" : "", num(plot.x),
         num(y), num(plot.right()), num(y));
    emit(out, "<text class=\"tick\" x=\"{}\" y=\"{}\" dy=\"0.35em\" text-anchor=\"end\">{}</text>", num(plot.x - 6),
         num(y), escape(format_tick(v, ticks.step, tick_magnitude(ticks), tick_format(format, label))));
  }
  if (!label.empty()) {
    double x = plot.x - linear_y_axis_width(ticks, format, label) + 12;
    emit(out, "<text class=\"axis-label\" transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
         num(x), num(plot.y + plot.h / 2), escape(label));
  }
  emit(out, "</g>");
}

CategoryAxis plan_category_axis(const std::vector<std::string>& categories, double band) {
  CategoryAxis axis;
  double widest = 0;
  for (const auto& c : categories) {
    axis.shown.push_back(truncate(c, static_cast<size_t>(kMaxCategoryChars)));
    widest = std::max(widest, text_width(axis.shown.back(), kTickFont));
  }
  axis.rotated = widest > band - 4;
  if (axis.rotated) {
    // A label rotated by -45 degrees anchored at its end spans widest / sqrt(2) down and left.
    axis.height = 10 + (widest + kTickFont) * 0.7072;
    axis.overhang = widest * 0.7072;
  } else {
    axis.height = 10 + kTickFont + 6;
  }
  return axis;
}

void category_axis(std::string& out, const CategoryAxis& axis, const std::vector<std::string>& categories,
                   const Rect& plot, double band) {
  emit(out, "<g class=\"axis x-axis\">");
  emit(out, "<line class=\"baseline\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>", num(plot.x), num(plot.bottom()),
       num(plot.right()), num(plot.bottom()));
  for (size_t i = 0; i < categories.size(); ++i) {
    double x = plot.x + band * (static_cast<double>(i) + 0.5);
    double y = plot.bottom() + 10;
    std::string full = escape(categories[i]);
    if (axis.rotated) {
      emit(out, "<text class=\"tick category\" transform=\"translate({},{}) rotate(-45)\" text-anchor=\"end\">",
           num(x + 3), num(y + 2));
    } else {
      emit(out, "<text class=\"tick category\" x=\"{}\" y=\"{}\" dy=\"0.8em\" text-anchor=\"middle\">", num(x),
           num(y - 4));
    }
    emit(out, "<title>{}</title>{}</text>", full, escape(axis.shown[i]));
  }
  emit(out, "</g>");
}

void reference_lines(std::string& out, const std::vector<ReferenceLine>& lines, const LinearTicks& ticks,
                     const NumberFormat& format, const Rect& plot) {
  for (const auto& line : lines) {
    if (!std::isfinite(line.value)) continue;
    double y = y_to_px(line.value, ticks, plot);
    std::string text = escape(fmt::format("{}: {}", line.label, format_number(line.value, format)));
    emit(out,
         "<g class=\"reference\"><line class=\"reference-line\" data-value=\"{}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" "
         "y2=\"{}\"/>"
         "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><title>{}</title></g>",
         line.value, num(plot.x), num(y), num(plot.right()), num(y), num(plot.right() - 4), num(y - 5), text, text);
  }
}

std::string summarize(const std::vector<std::string>& items, size_t max_items) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < max_items; ++i) {
    if (i > 0) s += ", ";
    s += items[i];
  }
  if (items.size() > max_items) s += fmt::format(" and {} more", items.size() - max_items);
  return s;
}

std::string figure(std::string_view kind, const std::string& title, const std::string& caption,
                   const std::vector<std::string>& notes, double width, double height, const std::string& body) {
  std::string out;
  emit(out, "<figure class=\"chart\" data-chart-kind=\"{}\">\n", kind);
  emit(out,
       "<svg class=\"chart-svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" "
       "aria-label=\"{}\">\n<title>{}</title>\n",
       num(width), num(height), num(width), num(height), escape(title), escape(title));
  emit(out, "<text class=\"chart-title\" x=\"12\" y=\"22\">{}</text>\n", escape(title));
  out += body;
  emit(out, "</svg>\n<figcaption>{}", escape(caption.empty() ? title : caption));
  if (!notes.empty()) emit(out, " <span class=\"chart-note\">Not drawn: {}.</span>", escape(summarize(notes)));
  emit(out, "</figcaption>\n</figure>\n");
  return out;
}

std::string empty_figure(std::string_view kind, const std::string& title, const std::string& caption,
                         const std::string& why, const std::vector<std::string>& notes) {
  constexpr double kWidth = 560;
  constexpr double kHeight = 140;
  std::string body;
  emit(body, "<rect class=\"plot-area empty\" x=\"12\" y=\"36\" width=\"{}\" height=\"{}\"/>", num(kWidth - 24),
       num(kHeight - 48));
  emit(body, "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(kWidth / 2),
       num(36 + (kHeight - 48) / 2 + 5), escape(why));
  return figure(kind, title, caption, notes, kWidth, kHeight, body);
}

}  // namespace eff::html::svg
