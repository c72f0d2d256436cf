// Tests of the self-contained HTML report (src/report/html). Map:
//   ReportEscape    text and attribute escaping, UTF-8 repair, a hostile layer name end to end
//   ReportAxis      nice ticks, tick labels, number formats, log axes (rules in docs/report.md)
//   ReportBarChart  bar geometry read back from the rendered SVG, stacks, reference lines
//   ReportLineChart gaps at missing values, categorical and numeric x
//   ReportRoofline  ridge point, slope, log placement of points
//   ReportDocument  structure, determinism, degenerate input, sections, tables, writing
// How to add a case: build the smallest chart that shows the behaviour, render it, and read the
// geometry back with `elements(...)`/`attr(...)`; compute the expected numbers by hand in a
// comment. The browser-level check (fonts, layout, console errors) is tests/browser/.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../data/data_test_util.h"
#include "core/error.h"
#include "report/html/axis.h"
#include "report/html/html_report.h"
#include "report/html/svg.h"

namespace eff::html {
namespace {

using Attributes = std::map<std::string, std::string>;

// Every element whose start tag begins with `start` (e.g. `<rect class="bar"`), as its attributes.
// Attribute values never contain '>' or '"' (escape() turns them into entities), so the tag ends
// at the first '>' and each value at the next '"'. (Hand-parsed: GCC 12 warns inside <regex>
// under the sanitizer build.)
std::vector<Attributes> elements(const std::string& html, const std::string& start) {
  std::vector<Attributes> found;
  for (size_t pos = html.find(start); pos != std::string::npos; pos = html.find(start, pos + 1)) {
    std::string tag = html.substr(pos, html.find('>', pos) - pos);
    Attributes attributes;
    for (size_t eq = tag.find("=\""); eq != std::string::npos; eq = tag.find("=\"", eq + 1)) {
      size_t name_start = tag.rfind(' ', eq) + 1;
      size_t value_end = tag.find('"', eq + 2);
      attributes[tag.substr(name_start, eq - name_start)] = tag.substr(eq + 2, value_end - eq - 2);
      eq = value_end;
    }
    found.push_back(attributes);
  }
  return found;
}

double attr(const Attributes& a, const std::string& name) {
  auto it = a.find(name);
  if (it == a.end()) {
    ADD_FAILURE() << "no attribute " << name;
    return NAN;
  }
  return std::stod(it->second);
}

struct Box {
  double x, y, w, h;
};
Box box(const Attributes& a) {
  return {attr(a, "x"), attr(a, "y"), attr(a, "width"), attr(a, "height")};
}

Box plot_area(const std::string& html) {
  auto areas = elements(html, "<rect class=\"plot-area\"");
  EXPECT_EQ(areas.size(), 1u);
  return areas.empty() ? Box{0, 0, 0, 0} : box(areas[0]);
}

struct Point {
  double x, y;
};
std::vector<Point> polyline_points(const std::string& points) {
  std::vector<Point> out;
  std::istringstream in(points);
  std::string pair;
  while (in >> pair) {
    size_t comma = pair.find(',');
    out.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
  }
  return out;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

std::string render_one(const BarChart& chart) {
  HtmlReport report("t");
  report.section("s", "S").bar_chart(chart);
  return report.render();
}

BarChart two_bars(double a, double b) {
  BarChart c;
  c.title = "two bars";
  c.categories = {"a", "b"};
  c.series = {{"s", {a, b}, ""}};
  c.y_max = 1.0;
  return c;
}

// Coordinates are printed with two decimals, so geometry matches to within 0.005 (plus slack).
constexpr double kPixel = 0.011;

// ---------------------------------------------------------------------------------------------
TEST(ReportEscape, MarkupCharactersBecomeEntities) {
  EXPECT_EQ(escape("<conv&\"1\">'"), "&lt;conv&amp;&quot;1&quot;&gt;&#39;");
  EXPECT_EQ(escape("plain text"), "plain text");
}

TEST(ReportEscape, InvalidUtf8AndControlCharactersBecomeReplacementCharacters) {
  // \x01 is a control character, \xff is never valid UTF-8, \xc3 alone is a truncated sequence,
  // \xed\xa0\x80 encodes a surrogate; "µ" (\xc2\xb5) is valid and kept, and so is a newline.
  EXPECT_EQ(escape("a\x01"
                   "b\xff"
                   "c\xc3"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD");
  EXPECT_EQ(escape("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(escape("\xc2\xb5s\n"), "\xc2\xb5s\n");
}

TEST(ReportEscape, HostileLayerNameIsEscapedEverywhereItAppears) {
  const std::string name = "<conv&\"1\">";
  const std::string escaped = "&lt;conv&amp;&quot;1&quot;&gt;";
  HtmlReport report(name, name);
  report.set_footer(name);
  Section& s = report.section("s", name, name);
  s.subheading(name).note(name).key_values({{name, name}});
  BarChart bar = two_bars(0.1, 0.2);
  bar.title = bar.caption = bar.x_label = bar.y_label = name;
  bar.categories = {name, "b"};
  bar.series.push_back({name, {0.3, 0.4}, ""});
  bar.reference_lines = {{name, 0.5}};
  s.bar_chart(bar);
  LineChart line;
  line.title = name;
  line.categories = {name};
  line.series = {{name, {}, {1.0}, ""}};
  s.line_chart(line);
  RooflineChart roof;
  roof.title = name;
  roof.machines = {{name, 1e12, 1e11, ""}};
  roof.points = {{name, 1, 1e11, name}};
  s.roofline(roof);
  s.table(Table{name, {name, "v"}, {{name, Cell(1.0)}}});
  std::string html = report.render();
  EXPECT_EQ(html.find("<conv"), std::string::npos);
  EXPECT_EQ(html.find("conv&\""), std::string::npos);
  EXPECT_EQ(html.find("conv&amp;\""), std::string::npos);
  // Title, subtitle, footer, heading (and its nav link), intro, subheading, note, key and value,
  // chart titles/captions/labels/series/categories/tooltips, machine, point, table: well over 30.
  EXPECT_GT(count(html, escaped), 30u);
}

TEST(ReportEscape, TruncationKeepsBothEndsAndWholeCodePoints) {
  // 5 code points: head (5 - 1) * 2 / 5 = 1, an ellipsis, tail 3.
  EXPECT_EQ(svg::truncate("abcdefghij", 5), "a\xE2\x80\xA6hij");
  EXPECT_EQ(svg::truncate("short", 10), "short");
  // Ten two-byte "µ": the cut falls between code points, never inside one.
  std::string micro;
  for (int i = 0; i < 10; ++i) micro += "\xC2\xB5";
  std::string cut = svg::truncate(micro, 5);
  EXPECT_EQ(cut, "\xC2\xB5\xE2\x80\xA6\xC2\xB5\xC2\xB5\xC2\xB5");
  EXPECT_EQ(escape(cut), cut);  // still valid UTF-8
}

// ---------------------------------------------------------------------------------------------
TEST(ReportAxis, NiceTicksFollowTheOneTwoFiveRule) {
  // [0, 1], 5 ticks wanted: raw step 0.2 -> 2 x 10^-1 = 0.2; ticks 0, 0.2, ..., 1.
  LinearTicks t = nice_ticks(0, 1);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  EXPECT_EQ(t.values, (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  // [0, 0.51]: raw 0.102 -> 1 x 10^-1 is too small, 2 x 10^-1 fits; top = ceil(0.51/0.2)*0.2 = 0.6.
  t = nice_ticks(0, 0.51);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  EXPECT_DOUBLE_EQ(t.hi, 0.6);
  EXPECT_EQ(t.values.size(), 4u);
  // [0, 7]: raw 1.4 -> 2; ticks 0, 2, 4, 6, 8.
  t = nice_ticks(0, 7);
  EXPECT_EQ(t.values, (std::vector<double>{0, 2, 4, 6, 8}));
  // [-3, 7]: raw 2 -> 2; floor(-3/2) = -2 -> -4; ceil(7/2) = 4 -> 8.
  t = nice_ticks(-3, 7);
  EXPECT_DOUBLE_EQ(t.lo, -4);
  EXPECT_DOUBLE_EQ(t.hi, 8);
  // [0, 4000]: raw 800 -> 1, 2 and 5 x 100 are too small -> 1000; ticks 0..4000.
  t = nice_ticks(0, 4000);
  EXPECT_DOUBLE_EQ(t.step, 1000);
  EXPECT_EQ(t.values.size(), 5u);
}

TEST(ReportAxis, ZeroRangesWidenToIncludeZero) {
  LinearTicks t = nice_ticks(0, 0);  // -> [0, 1]
  EXPECT_DOUBLE_EQ(t.lo, 0);
  EXPECT_DOUBLE_EQ(t.hi, 1);
  t = nice_ticks(5, 5);  // -> [0, 5], raw 1 -> step 1
  EXPECT_DOUBLE_EQ(t.lo, 0);
  EXPECT_DOUBLE_EQ(t.hi, 5);
  EXPECT_DOUBLE_EQ(t.step, 1);
  t = nice_ticks(NAN, 3);  // non-finite input falls back to [0, 1] rather than looping
  EXPECT_DOUBLE_EQ(t.hi, 1);
}

TEST(ReportAxis, TinyAndHugeRangesStayFiniteAndBounded) {
  // [0, 1e-12]: raw 2e-13 -> step 2e-13; six distinct ticks, none collapsed to 0 by rounding.
  LinearTicks t = nice_ticks(0, 1e-12);
  EXPECT_EQ(t.values.size(), 6u);
  EXPECT_GT(t.hi, t.lo);
  EXPECT_GT(t.values[1], 0);
  // [1e16, 1e16 + 1]: a step of 0.2 is below the double spacing there (2); the tick count stays
  // bounded instead of looping forever.
  t = nice_ticks(1e16, 1e16 + 2);
  EXPECT_LE(t.values.size(), 1001u);
}

TEST(ReportAxis, FixedMaximumEndsTheAxisExactly) {
  // [0, 16]: raw 3.2 -> 5; ticks 0, 5, 10, 15 (20 dropped) and the axis ends at 16.
  LinearTicks t = nice_ticks_fixed_max(0, 16);
  EXPECT_DOUBLE_EQ(t.hi, 16);
  EXPECT_EQ(t.values, (std::vector<double>{0, 5, 10, 15}));
}

TEST(ReportAxis, TickLabelsUseTheDecimalsTheStepNeeds) {
  EXPECT_EQ(decimals_for_step(0.25), 2);
  EXPECT_EQ(decimals_for_step(0.2), 1);
  EXPECT_EQ(decimals_for_step(20), 0);
  EXPECT_EQ(decimals_for_step(0.001), 3);
  EXPECT_EQ(format_tick(0.2, 0.2, 1, NumberFormat::percent(1)), "20%");
  EXPECT_EQ(format_tick(0.05, 0.05, 1, NumberFormat::percent()), "5%");
  EXPECT_EQ(format_tick(0.025, 0.025, 1, NumberFormat::percent()), "2.5%");
  // SI ticks share the prefix of the largest tick: 4e9 -> G; 2.5e9 at step 5e8 -> "2.5 G".
  EXPECT_EQ(format_tick(2e9, 1e9, 4e9, NumberFormat::si()), "2 G");
  EXPECT_EQ(format_tick(2.5e9, 5e8, 4e9, NumberFormat::si()), "2.5 G");
  EXPECT_EQ(format_tick(5e8, 5e8, 4e9, NumberFormat::si(2, "B/s")), "0.5 GB/s");
  EXPECT_EQ(format_tick(3, 1, 3, NumberFormat::plain(2, "bits")), "3 bits");
}

TEST(ReportAxis, NumberFormatsAreFixedPrecision) {
  EXPECT_EQ(format_number(0.44, NumberFormat::percent(1)), "44.0%");
  EXPECT_EQ(format_number(1.2e9, NumberFormat::si(2, "ops/s")), "1.20 Gops/s");
  EXPECT_EQ(format_number(999.999e9, NumberFormat::si(2)), "1.00 T");  // rounds up into the next prefix
  EXPECT_EQ(format_number(0.0005, NumberFormat::si(1)), "500.0 \xC2\xB5");
  EXPECT_EQ(format_number(0, NumberFormat::si(2, "B")), "0.00 B");
  EXPECT_EQ(format_number(1234.5678, NumberFormat::plain(2)), "1234.57");
  EXPECT_EQ(format_number(-0.0001, NumberFormat::plain(2)), "0.00");  // never "-0.00"
  EXPECT_EQ(format_number(NAN, {}), "NaN");
  EXPECT_EQ(format_number(-INFINITY, {}), "-inf");
}

TEST(ReportAxis, LogPlacementIsLinearInDecades) {
  // 0.1 .. 1000 spans 4 decades; 10 is 2 decades in: halfway.
  EXPECT_NEAR(log_fraction(10, 0.1, 1000), 0.5, 1e-12);
  EXPECT_NEAR(log_fraction(0.1, 0.1, 1000), 0.0, 1e-12);
  EXPECT_NEAR(log_fraction(1000, 0.1, 1000), 1.0, 1e-12);
  EXPECT_EQ(log_ticks(0.5, 200), (std::vector<double>{1, 10, 100}));
  // Inside one decade no power of ten fits twice, so 2x and 5x ticks are added.
  EXPECT_EQ(log_ticks(2, 9), (std::vector<double>{2, 5}));
  EXPECT_TRUE(log_ticks(0, 10).empty());
}

// ---------------------------------------------------------------------------------------------
TEST(ReportBarChart, HalfTheAxisMaximumIsHalfThePlotHeight) {
  std::string html = render_one(two_bars(0.5, 1.0));
  Box plot = plot_area(html);
  auto bars = elements(html, "<rect class=\"bar\"");
  ASSERT_EQ(bars.size(), 2u);
  Box half = box(bars[0]);
  Box full = box(bars[1]);
  EXPECT_NEAR(half.h, plot.h / 2, kPixel);
  EXPECT_NEAR(half.y + half.h, plot.y + plot.h, kPixel);  // grows from the bottom (zero)
  EXPECT_NEAR(full.h, plot.h, kPixel);
  EXPECT_NEAR(full.y, plot.y, kPixel);
  EXPECT_EQ(bars[0].at("data-value"), "0.5");
  EXPECT_EQ(bars[0].at("data-category"), "a");
  // Each bar sits in its own half of the plot width.
  EXPECT_LT(half.x + half.w, plot.x + plot.w / 2);
  EXPECT_GT(full.x, plot.x + plot.w / 2);
}

TEST(ReportBarChart, NegativeValuesHangBelowTheZeroLine) {
  BarChart c = two_bars(-1, 1);
  c.y_max.reset();
  // nice_ticks(-1, 1): raw 0.4 -> 0.5; axis [-1, 1], zero in the middle.
  std::string html = render_one(c);
  Box plot = plot_area(html);
  auto bars = elements(html, "<rect class=\"bar\"");
  ASSERT_EQ(bars.size(), 2u);
  Box down = box(bars[0]);
  Box up = box(bars[1]);
  EXPECT_NEAR(down.y, plot.y + plot.h / 2, kPixel);
  EXPECT_NEAR(down.h, plot.h / 2, kPixel);
  EXPECT_NEAR(up.y + up.h, plot.y + plot.h / 2, kPixel);
}

TEST(ReportBarChart, GroupedSeriesSitSideBySideWithoutOverlap) {
  BarChart c = two_bars(0.2, 0.4);
  c.series.push_back({"t", {0.6, 0.8}, ""});
  c.series.push_back({"u", {0.1, 0.3}, ""});
  std::string html = render_one(c);
  auto bars = elements(html, "<rect class=\"bar\"");
  ASSERT_EQ(bars.size(), 6u);  // series-major: s/a, s/b, t/a, t/b, u/a, u/b
  Box sa = box(bars[0]), ta = box(bars[2]), ua = box(bars[4]);
  EXPECT_LE(sa.x + sa.w, ta.x + 1e-9);
  EXPECT_LE(ta.x + ta.w, ua.x + 1e-9);
  EXPECT_EQ(count(html, "<g class=\"legend\">"), 1u);
  // Three distinct palette colours.
  EXPECT_NE(bars[0].at("fill"), bars[2].at("fill"));
  EXPECT_NE(bars[2].at("fill"), bars[4].at("fill"));
}

TEST(ReportBarChart, StackedSeriesStartWhereThePreviousEnds) {
  BarChart c;
  c.title = "stack";
  c.layout = BarChart::Layout::stacked;
  c.categories = {"conv1"};
  c.series = {{"zero", {0.3}, ""}, {"near-zero", {0.2}, ""}};
  c.y_max = 1.0;
  std::string html = render_one(c);
  EXPECT_NE(html.find("data-chart-kind=\"stacked-bar\""), std::string::npos);
  Box plot = plot_area(html);
  auto bars = elements(html, "<rect class=\"bar\"");
  ASSERT_EQ(bars.size(), 2u);
  Box zero = box(bars[0]), near = box(bars[1]);
  EXPECT_NEAR(zero.h, 0.3 * plot.h, kPixel);
  EXPECT_NEAR(near.h, 0.2 * plot.h, kPixel);
  EXPECT_NEAR(near.y + near.h, zero.y, kPixel);        // near-zero sits on top of zero
  EXPECT_NEAR(near.y, plot.y + 0.5 * plot.h, kPixel);  // together they reach 0.5
  EXPECT_DOUBLE_EQ(zero.x, near.x);
}

TEST(ReportBarChart, StackedNegativeValueIsAUsageErrorNamingTheChart) {
  BarChart c = two_bars(0.2, -0.1);
  c.layout = BarChart::Layout::stacked;
  try {
    render_one(c);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'two bars'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'b'"), std::string::npos) << e.what();
  }
}

TEST(ReportBarChart, MismatchedSeriesLengthOrBadColourIsAUsageError) {
  BarChart c = two_bars(0.2, 0.1);
  c.series[0].values.push_back(0.3);
  EXPECT_THROW(render_one(c), UsageError);
  c = two_bars(0.2, 0.1);
  c.series[0].color = "red\" onclick=\"x";
  EXPECT_THROW(render_one(c), UsageError);
  c.series[0].color = "#abc";
  EXPECT_NO_THROW(render_one(c));
  c.y_max = NAN;
  EXPECT_THROW(render_one(c), UsageError);
}

TEST(ReportBarChart, ReferenceLineSitsAtItsValue) {
  BarChart c = two_bars(0.5, 1.0);
  c.reference_lines = {{"average", 0.25}};
  std::string html = render_one(c);
  Box plot = plot_area(html);
  auto lines = elements(html, "<line class=\"reference-line\"");
  ASSERT_EQ(lines.size(), 1u);
  // 0.25 of a [0, 1] axis is 3/4 of the way down from the top.
  EXPECT_NEAR(attr(lines[0], "y1"), plot.y + 0.75 * plot.h, kPixel);
  EXPECT_NE(html.find("average: 0.25"), std::string::npos);
}

TEST(ReportBarChart, EveryBarCarriesATooltipWithItsFormattedValue) {
  BarChart c = two_bars(0.5, 0.125);
  c.format = NumberFormat::percent(1);
  std::string html = render_one(c);
  EXPECT_EQ(count(html, "<rect class=\"bar\""), 2u);
  // Each bar's start tag is followed directly by its tooltip.
  for (size_t pos = html.find("<rect class=\"bar\""); pos != std::string::npos;
       pos = html.find("<rect class=\"bar\"", pos + 1)) {
    EXPECT_EQ(html.compare(html.find('>', pos) + 1, 7, "<title>"), 0);
  }
  EXPECT_NE(html.find("<title>a / s: 50.0%</title>"), std::string::npos);
  EXPECT_NE(html.find("<title>b / s: 12.5%</title>"), std::string::npos);
}

TEST(ReportBarChart, ManyLongCategoriesAreRotatedTruncatedAndWidenTheChart) {
  BarChart c;
  c.title = "many";
  for (int i = 0; i < 60; ++i) {
    c.categories.push_back("features.block" + std::to_string(i) + ".residual_branch.conv_with_a_long_name");
  }
  c.series = {{"s", std::vector<double>(60, 0.5), ""}};
  std::string html = render_one(c);
  EXPECT_EQ(count(html, "rotate(-45)"), 60u);
  // Truncated to 26 code points: the first 10 ("features.b"), an ellipsis, and the last 15 of
  // "conv_with_a_long_name" (21) without its first 6 ("conv_w"): "ith_a_long_name".
  EXPECT_NE(html.find(">features.b\xE2\x80\xA6ith_a_long_name</text>"), std::string::npos);
  EXPECT_NE(html.find("<title>features.block0.residual_branch.conv_with_a_long_name</title>"), std::string::npos);
  Box plot = plot_area(html);
  EXPECT_GE(plot.w, 60 * 26.0);  // at least the minimum band per category
}

TEST(ReportBarChart, HistogramLabelsItsBinsByEdges) {
  BarChart h = histogram_chart("hist", {0, 0.5, 1}, {3, 1}, NumberFormat::plain(1));
  EXPECT_EQ(h.categories, (std::vector<std::string>{"[0.0, 0.5)", "[0.5, 1.0)"}));
  EXPECT_THROW(histogram_chart("bad", {0, 1}, {1, 2}), UsageError);
}

// ---------------------------------------------------------------------------------------------
TEST(ReportLineChart, MissingValueBreaksTheLineAndIsNamedInTheCaption) {
  LineChart c;
  c.title = "speedup";
  c.categories = {"a", "b", "c", "d", "e"};
  c.series = {{"Stripes", {}, {1, 2, NAN, 2, 1}, ""}};
  HtmlReport report("t");
  report.section("s", "S").line_chart(c);
  std::string html = report.render();
  auto lines = elements(html, "<polyline class=\"line\"");
  ASSERT_EQ(lines.size(), 2u);  // a-b and d-e; nothing bridges c
  EXPECT_EQ(polyline_points(lines[0].at("points")).size(), 2u);
  EXPECT_EQ(count(html, "<circle class=\"point\""), 4u);
  EXPECT_NE(html.find("Not drawn: Stripes at c (NaN)"), std::string::npos);
  EXPECT_EQ(html.find("=\"nan\""), std::string::npos);
}

TEST(ReportLineChart, NumericXIsPlacedOnANiceLinearAxis) {
  LineChart c;
  c.title = "accuracy";
  // x in [2, 12]: raw step 10/5 = 2 -> axis [2, 12]; x = 7 is halfway.
  c.series = {{"vgg", {2, 7, 12}, {0.5, 0.9, 0.92}, ""}};
  c.y_max = 1.0;
  HtmlReport report("t");
  report.section("s", "S").line_chart(c);
  std::string html = report.render();
  Box plot = plot_area(html);
  auto points = elements(html, "<circle class=\"point\"");
  ASSERT_EQ(points.size(), 3u);
  EXPECT_NEAR(attr(points[0], "cx"), plot.x, kPixel);
  EXPECT_NEAR(attr(points[1], "cx"), plot.x + plot.w / 2, kPixel);
  EXPECT_NEAR(attr(points[2], "cx"), plot.x + plot.w, kPixel);
  // y in [0, 1] (y_min defaults to 0 for non-negative data): 0.5 is mid-height.
  EXPECT_NEAR(attr(points[0], "cy"), plot.y + plot.h / 2, kPixel);
  c.series[0].x.pop_back();
  EXPECT_THROW(HtmlReport("t").section("s", "S").line_chart(c), UsageError);
}

// ---------------------------------------------------------------------------------------------
// One machine (peak 1e12 ops/s, 1e11 B/s: ridge at 10 ops/B) and two layers, (1, 1e11) on the
// slope and (100, 1e12) on the roof. x data spans [1, 100] (ridge 10 inside), padded by 2 ->
// [0.5, 200]. y: the slope at x = 0.5 is 5e10, the top is 1e12, padded -> [2.5e10, 2e12].
RooflineChart one_machine() {
  RooflineChart c;
  c.title = "roof";
  c.machines = {{"m", 1e12, 1e11, ""}};
  c.points = {{"on-slope", 1, 1e11, "attained"}, {"on-roof", 100, 1e12, "attained"}};
  return c;
}

std::string render_roofline(const RooflineChart& c) {
  HtmlReport report("t");
  report.section("s", "S").roofline(c);
  return report.render();
}

TEST(ReportRoofline, AxisRangesArePaddedDataRanges) {
  std::string html = render_roofline(one_machine());
  auto area = elements(html, "<rect class=\"plot-area\"");
  ASSERT_EQ(area.size(), 1u);
  EXPECT_DOUBLE_EQ(attr(area[0], "data-x-min"), 0.5);
  EXPECT_DOUBLE_EQ(attr(area[0], "data-x-max"), 200);
  EXPECT_DOUBLE_EQ(attr(area[0], "data-y-min"), 2.5e10);
  EXPECT_DOUBLE_EQ(attr(area[0], "data-y-max"), 2e12);
}

TEST(ReportRoofline, SlopeMeetsTheRoofAtTheRidgePoint) {
  std::string html = render_roofline(one_machine());
  Box plot = plot_area(html);
  auto roofs = elements(html, "<polyline class=\"roof\"");
  ASSERT_EQ(roofs.size(), 1u);
  std::vector<Point> p = polyline_points(roofs[0].at("points"));
  ASSERT_EQ(p.size(), 3u);  // slope start, ridge, roof end
  // Ridge x: log(10 / 0.5) / log(200 / 0.5) = log 20 / log 400 = 1/2 of the width.
  EXPECT_NEAR(p[1].x, plot.x + plot.w / 2, kPixel);
  // Ridge y (the peak): log(1e12 / 2.5e10) / log(2e12 / 2.5e10) = log 40 / log 80 of the height.
  double peak_fraction = std::log10(40.0) / std::log10(80.0);
  EXPECT_NEAR(p[1].y, plot.y + plot.h * (1 - peak_fraction), kPixel);
  // The roof is flat from the ridge to the right edge; the slope starts at the left edge at 5e10.
  EXPECT_NEAR(p[2].y, p[1].y, kPixel);
  EXPECT_NEAR(p[2].x, plot.x + plot.w, kPixel);
  EXPECT_NEAR(p[0].x, plot.x, kPixel);
  EXPECT_NEAR(p[0].y, plot.y + plot.h * (1 - std::log10(2.0) / std::log10(80.0)), kPixel);
  // On log-log axes a bandwidth line rises one decade per decade: in pixels per decade,
  // the y rise over x run is 1.
  double x_px_per_decade = plot.w / std::log10(400.0);
  double y_px_per_decade = plot.h / std::log10(80.0);
  EXPECT_NEAR(((p[0].y - p[1].y) / y_px_per_decade) / ((p[1].x - p[0].x) / x_px_per_decade), 1.0, 1e-3);
  auto machine = elements(html, "<g class=\"machine\"");
  ASSERT_EQ(machine.size(), 1u);
  EXPECT_DOUBLE_EQ(attr(machine[0], "data-ridge"), 10);
}

TEST(ReportRoofline, LayersOnTheSlopeAndOnTheRoofLieOnTheLines) {
  std::string html = render_roofline(one_machine());
  std::vector<Point> roof = polyline_points(elements(html, "<polyline class=\"roof\"")[0].at("points"));
  auto points = elements(html, "<circle class=\"point\"");
  ASSERT_EQ(points.size(), 2u);
  Point on_slope{attr(points[0], "cx"), attr(points[0], "cy")};
  Point on_roof{attr(points[1], "cx"), attr(points[1], "cy")};
  // Collinear with the slope segment: the cross product of (roof0->roof1) and (roof0->point) is 0.
  double cross =
      (roof[1].x - roof[0].x) * (on_slope.y - roof[0].y) - (roof[1].y - roof[0].y) * (on_slope.x - roof[0].x);
  EXPECT_NEAR(cross / std::hypot(roof[1].x - roof[0].x, roof[1].y - roof[0].y), 0.0, 0.02);
  EXPECT_NEAR(on_roof.y, roof[1].y, kPixel);
  EXPECT_NE(html.find("on-slope (attained): 1.00 ops/byte, 100.00 Gops/s"), std::string::npos);
}

TEST(ReportRoofline, NonPositivePointsAreListedNotDrawnAndBadMachinesAreErrors) {
  RooflineChart c = one_machine();
  c.points.push_back({"fc3", 0, 1e9, ""});
  c.points.push_back({"fc4", 3, NAN, ""});
  std::string html = render_roofline(c);
  EXPECT_EQ(count(html, "<circle class=\"point\""), 2u);
  EXPECT_NE(html.find("fc3 (intensity 0.00"), std::string::npos);
  EXPECT_NE(html.find("fc4 (intensity 3.00"), std::string::npos);
  EXPECT_EQ(html.find("=\"nan\""), std::string::npos);
  c.machines.push_back({"broken", 0, 1e9, ""});
  EXPECT_THROW(render_roofline(c), UsageError);
  c.machines.back() = {"broken", 1e9, INFINITY, ""};
  EXPECT_THROW(render_roofline(c), UsageError);
}

TEST(ReportRoofline, SeveralMachinesEachGetARoof) {
  RooflineChart c = one_machine();
  c.machines.push_back({"small", 1e10, 1e9, ""});  // ridge also at 10, lower roof
  std::string html = render_roofline(c);
  auto roofs = elements(html, "<polyline class=\"roof\"");
  ASSERT_EQ(roofs.size(), 2u);
  std::vector<Point> big = polyline_points(roofs[0].at("points"));
  std::vector<Point> small = polyline_points(roofs[1].at("points"));
  EXPECT_NEAR(big[1].x, small[1].x, kPixel);  // same ridge intensity
  EXPECT_GT(small[1].y, big[1].y);            // lower peak is lower on the page
}

// ---------------------------------------------------------------------------------------------
HtmlReport sample_report() {
  HtmlReport report("sample", "sub");
  Section& a = report.section("values", "Value profile", "intro");
  a.bar_chart(two_bars(0.25, 0.75));
  a.table(Table{"t", {"layer", "zeros"}, {{"conv1", Cell(0.5, NumberFormat::percent(1))}, {"conv2", Cell(0.25)}}});
  Section& b = report.section("roof", "Roofline");
  b.roofline(one_machine());
  LineChart line;
  line.title = "l";
  line.categories = {"x", "y"};
  line.series = {{"s", {}, {1, 2}, ""}};
  b.line_chart(line);
  return report;
}

TEST(ReportDocument, SameInputGivesByteIdenticalOutput) {
  std::string first = sample_report().render();
  EXPECT_EQ(first, sample_report().render());
  HtmlReport report = sample_report();
  EXPECT_EQ(report.render(), report.render());
}

TEST(ReportDocument, EveryChartIsAFigureWithOneSvgTitleAndCaption) {
  HtmlReport report = sample_report();
  std::string html = report.render();
  EXPECT_EQ(report.chart_count(), 3);
  EXPECT_EQ(count(html, "<figure class=\"chart\" data-chart-kind=\""), 3u);
  EXPECT_EQ(count(html, "<svg "), 3u);
  EXPECT_EQ(count(html, "</figcaption>"), 3u);
  EXPECT_EQ(count(html, "role=\"img\" aria-label=\""), 3u);
  EXPECT_NE(html.find("data-chart-kind=\"bar\""), std::string::npos);
  EXPECT_NE(html.find("data-chart-kind=\"roofline\""), std::string::npos);
  EXPECT_NE(html.find("data-chart-kind=\"line\""), std::string::npos);
  EXPECT_NE(html.find("<body data-expected-charts=\"3\">"), std::string::npos);
}

TEST(ReportDocument, IsSelfContainedWithANavigationEntryPerSection) {
  std::string html = sample_report().render();
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  size_t values = html.find("<li><a href=\"#values\">Value profile</a></li>");
  size_t roof = html.find("<li><a href=\"#roof\">Roofline</a></li>");
  ASSERT_NE(values, std::string::npos);
  ASSERT_NE(roof, std::string::npos);
  EXPECT_LT(values, roof);  // sections in the order they were added
  EXPECT_NE(html.find("<section class=\"report-section\" id=\"roof\">"), std::string::npos);
}

TEST(ReportDocument, DegenerateChartsSayWhyInsteadOfDrawingBrokenSvg) {
  HtmlReport report("t");
  Section& s = report.section("s", "S");
  BarChart none;
  none.title = "no layers";
  s.bar_chart(none);
  BarChart zeros = two_bars(0, 0);
  zeros.y_max.reset();
  s.bar_chart(zeros);
  BarChart nan = two_bars(NAN, INFINITY);
  s.bar_chart(nan);
  RooflineChart empty_roof;
  empty_roof.title = "empty roof";
  s.roofline(empty_roof);
  LineChart no_series;
  s.line_chart(no_series);
  std::string html = report.render();
  EXPECT_EQ(report.chart_count(), 5);
  EXPECT_EQ(count(html, "<svg "), 5u);
  EXPECT_NE(html.find(">No data: no categories</text>"), std::string::npos);
  EXPECT_NE(html.find(">No data: every value is missing (NaN or infinite)</text>"), std::string::npos);
  EXPECT_NE(html.find(">No data: no machines and no layers</text>"), std::string::npos);
  EXPECT_NE(html.find(">No data: no series</text>"), std::string::npos);
  EXPECT_NE(html.find("Not drawn: a / s (NaN), b / s (+inf)."), std::string::npos);
  // All zeros: axis [0, 1] and two zero-height bars.
  auto bars = elements(html, "<rect class=\"bar\"");
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_DOUBLE_EQ(attr(bars[0], "height"), 0);
  for (const char* bad : {"nan", "inf"}) {
    EXPECT_EQ(html.find(std::string("=\"") + bad), std::string::npos) << bad;
    EXPECT_EQ(html.find(std::string(",") + bad), std::string::npos) << bad;
  }
}

TEST(ReportDocument, ReportWithoutSectionsStillRenders) {
  std::string html = HtmlReport("empty").render();
  EXPECT_NE(html.find("<body data-expected-charts=\"0\">"), std::string::npos);
  EXPECT_NE(html.find("This report has no sections."), std::string::npos);
}

TEST(ReportDocument, SectionIdsAreCheckedAndFindable) {
  HtmlReport report("t");
  report.section("value-profile", "Value profile");
  EXPECT_THROW(report.section("value-profile", "again"), UsageError);
  EXPECT_THROW(report.section("has space", "x"), UsageError);
  EXPECT_THROW(report.section("", "x"), UsageError);
  EXPECT_THROW(report.section("a\"b", "x"), UsageError);
  ASSERT_NE(report.find_section("value-profile"), nullptr);
  EXPECT_EQ(report.find_section("value-profile")->heading(), "Value profile");
  EXPECT_EQ(report.find_section("sim"), nullptr);
}

TEST(ReportDocument, TablesRightAlignNumericColumnsAndKeepExactSortValues) {
  HtmlReport report("t");
  report.section("s", "S").table(Table{"cap",
                                       {"layer", "MACs", "note"},
                                       {{"conv1", Cell(1.5e6, NumberFormat::si(1)), "x"},
                                        {"conv2", Cell(12345678LL), ""},
                                        {"fc", "", "y"},
                                        {"fc2", Cell(uint64_t{1} << 40), ""}}});
  std::string html = report.render();
  EXPECT_NE(
      html.find("<th scope=\"col\">layer</th><th class=\"num\" scope=\"col\">MACs</th><th scope=\"col\">note</th>"),
      std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\" data-v=\"1500000\">1.5 M</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\" data-v=\"12345678\">12345678</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\" data-v=\"1099511627776\">1099511627776</td>"), std::string::npos);
  EXPECT_NE(html.find("<div class=\"table-wrap\">"), std::string::npos);
  EXPECT_THROW(report.section("bad", "B").table(Table{"ragged", {"a", "b"}, {{"1"}}}), UsageError);
}

TEST(ReportDocument, WriteStoresExactlyTheRenderedText) {
  testing::ScratchDir dir;
  HtmlReport report = sample_report();
  report.write(dir.file("report.html"));
  EXPECT_EQ(testing::read_bytes(dir.file("report.html")), report.render());
  EXPECT_THROW(report.write(dir.file("missing-dir/report.html")), DataError);
}

}  // namespace
}  // namespace eff::html
