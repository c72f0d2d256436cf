#include "report/html/axis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace eff::html {

namespace {

// k * step carries last-bit noise (3 * 0.2 = 0.6000000000000001); going through the decimal text
// gives the double nearest to the tick as written, so ticks compare and print cleanly.
double clean(double v, double step) {
  if (decimals_for_step(step) >= 9) return v;  // too fine for fixed decimals; keep the raw value
  double r = std::stod(fmt::format("{:.{}f}", v, decimals_for_step(step)));
  return r == 0 ? 0.0 : r;
}

}  // namespace

LinearTicks nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = hi = 0;
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
    if (lo == hi) hi = 1;
  }
  target = std::max(target, 1);
  double raw = (hi - lo) / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (double m : {1.0, 2.0, 5.0}) {
    // The tolerance keeps 0.2 (raw) at 0.2 rather than tipping to 0.5 by rounding noise.
    if (m * magnitude >= raw * (1 - 1e-9)) {
      step = m * magnitude;
      break;
    }
  }
  LinearTicks t;
  t.step = step;
  double first = std::floor(lo / step + 1e-9);
  double last = std::ceil(hi / step - 1e-9);
  t.lo = clean(first * step, step);
  t.hi = clean(last * step, step);
  // An integer count, capped: near 2^53 adding 1 to a double no longer changes it, and a loop on
  // the double would never end.
  int64_t n = std::clamp<int64_t>(std::llround(last - first), 0, 1000);
  for (int64_t i = 0; i <= n; ++i) t.values.push_back(clean((first + static_cast<double>(i)) * step, step));
  return t;
}

LinearTicks nice_ticks_fixed_max(double lo, double hi, int target) {
  LinearTicks t = nice_ticks(lo, hi, target);
  if (!std::isfinite(hi) || hi <= t.lo) return t;
  t.hi = hi;
  std::erase_if(t.values, [&](double v) { return v > hi * (1 + 1e-12) + 1e-300; });
  return t;
}

double log_fraction(double value, double lo, double hi) {
  return (std::log10(value) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi > lo) || !std::isfinite(hi)) return ticks;
  int first = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
  int last = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  for (int e = first; e <= last; ++e) ticks.push_back(std::pow(10.0, e));
  if (ticks.size() >= 2) return ticks;
  ticks.clear();
  for (int e = first - 1; e <= last; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
    }
  }
  return ticks;
}

}  // namespace eff::html
