// Axis arithmetic for the report's charts, kept apart from the SVG so that tests can check the
// rules by hand (docs/report.md, "Axes").
#pragma once

#include <string>
#include <vector>

#include "report/html/html_report.h"

namespace eff::html {

// Linear "nice" ticks. Rule: step = the smallest of {1, 2, 5} x 10^k that is at least
// (hi - lo) / target; the axis runs from floor(lo / step) * step to ceil(hi / step) * step with
// a tick at every step. A zero range [v, v] is widened to include 0 ([0, 1] when v is 0).
struct LinearTicks {
  double lo = 0;
  double hi = 1;
  double step = 0.2;
  std::vector<double> values;
};
LinearTicks nice_ticks(double lo, double hi, int target = 5);

// Ticks for an axis that must end exactly at `hi` (BarChart::y_max): nice_ticks(lo, hi), then the
// top is set to `hi` and ticks above it dropped.
LinearTicks nice_ticks_fixed_max(double lo, double hi, int target = 5);

// Digits after the point needed to show multiples of `step` exactly (0.25 -> 2, 20 -> 0).
int decimals_for_step(double step);

// A tick label: `value` in `format`, with as many decimals as the tick step needs. For SI, the
// prefix is chosen from `magnitude` (the largest |tick|) so that all ticks of an axis share it.
std::string format_tick(double value, double step, double magnitude, const NumberFormat& format);

// Logarithmic axis over [lo, hi] (both > 0): position in [0, 1] of `value`.
double log_fraction(double value, double lo, double hi);
// Ticks at the powers of ten in [lo, hi]; when fewer than two fit, also 2x and 5x multiples.
std::vector<double> log_ticks(double lo, double hi);
// A compact label for a log-axis tick (0.1, 1, 10, 1 k, 2 G ...), with `unit` after an SI prefix.
std::string format_log_tick(double value, const std::string& unit);

}  // namespace eff::html
