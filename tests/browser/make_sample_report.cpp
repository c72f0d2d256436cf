// Writes a sample report that exercises every block of src/report/html, for the browser test
// (run_browser_test.sh) and for looking at by eye:
//   make_sample_report OUT.html EXPECTED.txt
// EXPECTED.txt lists how many charts of each kind the page must show ("bar 4" ...), one a line.
// The data is made up but shaped like a real profile: 20 layers with long names, one of them
// named <conv&"1"> to prove escaping, plus an empty chart and one with a NaN.
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "report/html/html_report.h"

namespace {

using namespace eff::html;

std::vector<std::string> layer_names() {
  std::vector<std::string> names = {"<conv&\"1\">"};
  for (int i = 2; i <= 20; ++i) {
    if (i % 5 == 0) {
      names.push_back(fmt::format("features.block{}.residual_branch.conv_{}", i / 5, i));
    } else if (i >= 18) {
      names.push_back(fmt::format("classifier.fc{}", i - 17));
    } else {
      names.push_back(fmt::format("conv{}_{}", 1 + i / 4, i % 4 + 1));
    }
  }
  return names;
}

// Smooth, deterministic made-up values in [lo, hi].
double wave(int i, double phase, double lo, double hi) {
  return lo + (hi - lo) * 0.5 * (1 + std::sin(0.7 * i + phase));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_sample_report OUT.html EXPECTED.txt\n");
    return 2;
  }
  try {
    std::vector<std::string> layers = layer_names();
    const int n = static_cast<int>(layers.size());
    std::map<std::string, int> expected;

    HtmlReport report("effectual sample report: vgg on fashion-mnist:test",
                      "A sample with made-up values, written by tests/browser/make_sample_report.");
    report.set_footer("effectual browser test sample; every chart is inline SVG, no network.");

    Section& run = report.section("run", "Run", "What was measured.");
    run.key_values({{"model", "models/vgg.onnx"},
                    {"data", "fashion-mnist:test (first 64 images)"},
                    {"layers", std::to_string(n)},
                    {"near-zero threshold", "|x| < 0.05"}});

    Section& values = report.section("value-profile", "Value profile",
                                     "Fractions of ineffectual input activations per conv/FC layer.");
    BarChart zeros;
    zeros.title = "Zero and near-zero activations per layer";
    zeros.caption =
        "Input activations that are exactly zero (bottom) or near zero (top), per layer; the dashed "
        "line is the network average of their sum.";
    zeros.categories = layers;
    zeros.layout = BarChart::Layout::stacked;
    zeros.format = NumberFormat::percent(1);
    zeros.y_max = 1.0;
    zeros.y_label = "fraction of activations";
    zeros.x_label = "layer";
    Series zero{"zero", {}, ""};
    Series near{"near-zero", {}, ""};
    double total = 0;
    for (int i = 0; i < n; ++i) {
      zero.values.push_back(i == 0 ? 0.0 : wave(i, 0.3, 0.25, 0.62));
      near.values.push_back(wave(i, 1.9, 0.03, 0.12));
      total += zero.values.back() + near.values.back();
    }
    zeros.series = {zero, near};
    zeros.reference_lines = {{"network average", total / n}};
    values.bar_chart(zeros);
    ++expected["stacked-bar"];

    BarChart precision;
    precision.title = "Activation precision per layer";
    precision.caption =
        "Bits needed per layer: a static per-layer profile against the average dynamic precision "
        "per group of 16 values.";
    precision.categories = layers;
    precision.format = NumberFormat::plain(1, "bits");
    precision.y_max = 16;
    precision.y_label = "bits";
    Series fixed{"static profile", {}, ""};
    Series dynamic{"dynamic (per group of 16)", {}, ""};
    for (int i = 0; i < n; ++i) {
      fixed.values.push_back(std::round(wave(i, 0.8, 6, 11)));
      dynamic.values.push_back(wave(i, 0.8, 3.5, 8.2));
    }
    precision.series = {fixed, dynamic};
    values.bar_chart(precision);
    ++expected["bar"];

    BarChart bits;
    bits.title = "Effectual bits";
    bits.caption = "Fraction of activation bits that are one (the work Pragmatic keeps), 16-bit fixed point.";
    bits.categories = layers;
    bits.format = NumberFormat::percent(1);
    bits.y_label = "one bits";
    Series ones{"effectual bits", {}, "#59a14f"};
    for (int i = 0; i < n; ++i) ones.values.push_back(wave(i, 2.5, 0.04, 0.14));
    bits.series = {ones};
    values.bar_chart(bits);
    ++expected["bar"];

    std::vector<double> edges;
    std::vector<double> counts;
    for (int b = 0; b <= 16; ++b) edges.push_back(b * 0.25);
    for (int b = 0; b < 16; ++b) counts.push_back(std::round(4000 * std::exp(-0.45 * b)));
    BarChart hist = histogram_chart("Activation magnitudes, conv2_1", edges, counts, NumberFormat::plain(2));
    hist.caption = "Histogram of non-zero input activations of conv2_1.";
    hist.x_label = "|activation|";
    values.bar_chart(hist);
    ++expected["bar"];

    Table table;
    table.caption = "Per-layer values (click a header to sort)";
    table.header = {"layer", "MACs", "zero", "near-zero", "static bits", "dynamic bits"};
    for (int i = 0; i < n; ++i) {
      table.rows.push_back(
          {layers[i], Cell(static_cast<double>((i + 3) * 1'234'567), NumberFormat::si(2)),
           Cell(zero.values[i], NumberFormat::percent(1)), Cell(near.values[i], NumberFormat::percent(1)),
           Cell(fixed.values[i], NumberFormat::plain(0)), Cell(dynamic.values[i], NumberFormat::plain(2))});
    }
    values.table(table);

    Section& roof = report.section("roofline", "Roofline", "Where each layer sits against two machines.");
    RooflineChart rc;
    rc.title = "Roofline: conv/FC layers";
    rc.caption = "Attainable performance = min(peak, bandwidth x intensity); dotted lines mark each ridge point.";
    rc.ops_unit = "MAC";
    rc.machines = {{"DaDianNao-like (16 tiles)", 4.1e12, 3.2e11, ""}, {"this CPU (2 cores)", 1.3e11, 2.0e10, ""}};
    for (int i = 0; i < n; ++i) {
      double intensity = std::pow(10.0, wave(i, 0.1, -0.3, 2.6));
      double bound = std::min(1.3e11, 2.0e10 * intensity);
      rc.points.push_back({layers[i], intensity, bound * wave(i, 1.0, 0.25, 0.8), "measured on this CPU"});
    }
    roof.roofline(rc);
    ++expected["roofline"];

    Section& sweep = report.section("sweep", "Precision sweep", "Accuracy as the activation precision shrinks.");
    LineChart acc;
    acc.title = "Top-1 accuracy against activation bits";
    acc.caption = "Uniform precision for all layers; the dashed line is the full-precision accuracy.";
    acc.x_label = "activation bits";
    acc.y_label = "top-1 accuracy";
    acc.x_format = NumberFormat::plain(0);
    acc.y_format = NumberFormat::percent(1);
    acc.y_max = 1.0;
    for (const char* model : {"lenet5", "vgg", "resnet"}) {
      LineSeries s{model, {}, {}, ""};
      double top = model[0] == 'l' ? 0.89 : model[0] == 'v' ? 0.925 : 0.918;
      for (int b = 2; b <= 12; ++b) {
        s.x.push_back(b);
        s.values.push_back(top * (1 - std::exp(-0.9 * (b - 1.2))));
      }
      acc.series.push_back(s);
    }
    acc.reference_lines = {{"vgg, float32", 0.925}};
    sweep.line_chart(acc);
    ++expected["line"];

    LineChart speed;
    speed.title = "Speedup over DaDianNao per layer";
    speed.caption = "Simulated speedup per layer for two designs (categorical x); one layer has no trace (NaN).";
    speed.categories = layers;
    speed.y_label = "speedup";
    speed.y_format = NumberFormat::plain(2, "x");
    for (const char* design : {"Stripes", "Pragmatic"}) {
      LineSeries s{design, {}, {}, ""};
      for (int i = 0; i < n; ++i) s.values.push_back(wave(i, design[0] == 'S' ? 0.4 : 2.0, 1.2, 3.6));
      s.values[9] = std::nan("");
      speed.series.push_back(s);
    }
    sweep.line_chart(speed);
    ++expected["line"];

    Section& edge = report.section("edge-cases", "Edge cases", "Charts with nothing to draw still render.");
    BarChart empty;
    empty.title = "A chart with no layers";
    edge.bar_chart(empty);
    ++expected["bar"];
    edge.note("The chart above has no data on purpose.");

    report.write(argv[1]);
    std::string listing;
    for (const auto& [kind, count] : expected) listing += fmt::format("{} {}\n", kind, count);
    eff::write_file_atomic(argv[2], listing);
  } catch (const eff::Error& e) {
    std::fprintf(stderr, "make_sample_report: %s\n", e.what());
    return 1;
  }
  return 0;
}
