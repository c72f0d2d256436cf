#include "quant/clipping.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "core/error.h"

namespace eff::quant {

ClipMethod parse_clip_method(const std::string& s, const std::string& flag) {
  if (s == "none") return ClipMethod::kNone;
  if (s == "mse") return ClipMethod::kMse;
  if (s == "aciq") return ClipMethod::kAciq;
  if (s == "kl") return ClipMethod::kKl;
  fail<UsageError>("{} '{}': give none, mse, aciq or kl", flag, s);
}

const char* clip_method_name(ClipMethod m) {
  switch (m) {
    case ClipMethod::kNone:
      return "none";
    case ClipMethod::kMse:
      return "mse";
    case ClipMethod::kAciq:
      return "aciq";
    case ClipMethod::kKl:
      return "kl";
  }
  return "?";
}

void MagnitudeStats::add(const float* x, int64_t n) {
  const double inv_width = bins.empty() || max_abs <= 0 ? 0 : static_cast<double>(bins.size()) / max_abs;
  const int64_t last = static_cast<int64_t>(bins.size()) - 1;
  double s1 = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    s1 += a;
    s2 += a * a;
    if (last >= 0 && a != 0) bins[std::min(static_cast<int64_t>(a * inv_width), last)] += 1;
  }
  sum_abs += s1;
  sum_sq += s2;
  count += n;
}

MagnitudeStats magnitude_stats(const float* x, int64_t n, int bins) {
  MagnitudeStats s;
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  s.max_abs = m;
  s.bins.assign(static_cast<size_t>(std::max(bins, 0)), 0.0);
  s.add(x, n);
  return s;
}

double laplace_clip_error(double alpha, double b, double levels) {
  const double step = alpha / levels;
  return 2 * b * b * std::exp(-alpha / b) + step * step / 12;
}

double gaussian_clip_error(double alpha, double sigma, double levels) {
  const double step = alpha / levels;
  const double clip = (alpha * alpha + sigma * sigma) * std::erfc(alpha / (std::numbers::sqrt2 * sigma)) -
                      std::sqrt(2 / std::numbers::pi) * alpha * sigma * std::exp(-alpha * alpha / (2 * sigma * sigma));
  return clip + step * step / 12;
}

namespace {

// Minimum of a unimodal f on [lo, hi].
template <class F>
double golden_section(F f, double lo, double hi, int iterations = 100) {
  const double r = (std::sqrt(5.0) - 1) / 2;
  double a = lo, b = hi, c = b - r * (b - a), d = a + r * (b - a);
  double fc = f(c), fd = f(d);
  for (int i = 0; i < iterations; ++i) {
    if (fc < fd) {
      b = d, d = c, fd = fc, c = b - r * (b - a), fc = f(c);
    } else {
      a = c, c = d, fc = fd, d = a + r * (b - a), fd = f(d);
    }
  }
  return (a + b) / 2;
}

}  // namespace

double aciq_laplace_alpha(double b, double levels) {
  if (!(b > 0)) return 0;
  return golden_section([&](double a) { return laplace_clip_error(a, b, levels); }, 0, 64 * b);
}

double aciq_gaussian_alpha(double sigma, double levels) {
  if (!(sigma > 0)) return 0;
  return golden_section([&](double a) { return gaussian_clip_error(a, sigma, levels); }, 0, 32 * sigma);
}

double quantization_sse(const float* x, int64_t n, double alpha, int levels) {
  if (!(alpha > 0)) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
  }
  const float step = static_cast<float>(alpha / levels), inv = 1.0f / step, top = static_cast<float>(levels);
  double sum = 0;
  // Blocks of float sums keep the loop vectorised; doubles between blocks keep it accurate.
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    float s = 0;
    for (int64_t i = b; i < e; ++i) {
      const float a = std::fabs(x[i]);
      const float q = std::min(std::nearbyint(a * inv), top) * step;
      s += (a - q) * (a - q);
    }
    sum += s;
  }
  return sum;
}

double mse_threshold(const float* x, int64_t n, int levels) {
  constexpr int64_t kMaxSample = int64_t{1} << 20;
  std::vector<float> sample;
  if (n > kMaxSample) {
    const int64_t stride = (n + kMaxSample - 1) / kMaxSample;
    for (int64_t i = 0; i < n; i += stride) sample.push_back(x[i]);
    x = sample.data();
    n = static_cast<int64_t>(sample.size());
  }
  float m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(x[i]));
  if (m == 0) return 0;
  // A coarse scan finds the basin (the error is not quite unimodal on real data), golden-section
  // search refines within it.
  constexpr int kCoarse = 64;
  int best = kCoarse;
  double best_err = std::numeric_limits<double>::infinity();
  for (int k = 1; k <= kCoarse; ++k) {
    const double e = quantization_sse(x, n, m * k / kCoarse, levels);
    if (e < best_err) best_err = e, best = k;
  }
  const double lo = m * (best - 1) / kCoarse, hi = m * std::min(best + 1, kCoarse) / kCoarse;
  const double refined = golden_section([&](double a) { return quantization_sse(x, n, a, levels); }, lo, hi, 24);
  return quantization_sse(x, n, refined, levels) <= best_err ? refined : m * best / kCoarse;
}

double histogram_sse(const MagnitudeStats& s, double alpha, int levels) {
  // Values are taken as spread evenly over their bin (4 points per bin).
  constexpr int kPoints = 4;
  const int nb = static_cast<int>(s.bins.size());
  const double w = s.bin_width();
  if (nb == 0 || !(w > 0)) return 0;
  const double step = alpha > 0 ? alpha / levels : 0;
  double err = 0;
  for (int j = 0; j < nb; ++j) {
    if (s.bins[j] == 0) continue;
    double e = 0;
    for (int p = 0; p < kPoints; ++p) {
      const double a = w * (j + (p + 0.5) / kPoints);
      const double q = step > 0 ? std::min(std::nearbyint(a / step), static_cast<double>(levels)) * step : 0;
      e += (a - q) * (a - q);
    }
    err += s.bins[j] * e / kPoints;
  }
  return err;
}

double mse_threshold(const MagnitudeStats& s, int levels) {
  if (s.bins.empty() || s.max_abs <= 0) return s.max_abs;
  // The candidates are the bin edges (at most 512 of them, evenly thinned).
  const int nb = static_cast<int>(s.bins.size());
  const double w = s.bin_width();
  const int stride = std::max(1, nb / 512);
  double best_alpha = s.max_abs, best_err = std::numeric_limits<double>::infinity();
  for (int k = nb; k >= 1; k -= stride) {
    const double alpha = w * k;
    const double err = histogram_sse(s, alpha, levels);
    if (err < best_err) best_err = err, best_alpha = alpha;
  }
  return best_alpha;
}

double aciq_threshold(const MagnitudeStats& s, int levels) {
  if (s.count == 0 || s.max_abs <= 0) return 0;
  const double n = static_cast<double>(s.count);
  const double b = s.sum_abs / n, sigma = std::sqrt(s.sum_sq / n);
  if (!(b > 0) || !(sigma > 0)) return s.max_abs;
  const double ll_laplace = -std::log(2 * b) - 1;
  const double ll_gauss = -0.5 * std::log(2 * std::numbers::pi * sigma * sigma) - 0.5;
  const double alpha = ll_laplace >= ll_gauss ? aciq_laplace_alpha(b, levels) : aciq_gaussian_alpha(sigma, levels);
  return std::min(alpha, s.max_abs);
}

double kl_candidate_divergence(const std::vector<double>& bins, int keep, int levels) {
  const int groups = levels + 1;
  const int i = keep;
  EFF_ASSERT(i >= groups && i <= static_cast<int>(bins.size()));
  std::vector<double> p(bins.begin(), bins.begin() + i), q(static_cast<size_t>(i), 0.0);
  for (size_t j = static_cast<size_t>(i); j < bins.size(); ++j) p[i - 1] += bins[j];
  const int merged = i / groups;
  for (int g = 0; g < groups; ++g) {
    const int start = g * merged, stop = g == groups - 1 ? i : start + merged;
    double total = 0;
    int nonzero = 0;
    for (int j = start; j < stop; ++j) {
      total += bins[j];  // without the clipped tail: that is what the quantized range loses
      nonzero += p[j] != 0;
    }
    if (nonzero == 0) continue;
    for (int j = start; j < stop; ++j) q[j] = p[j] != 0 ? total / nonzero : 0;
  }
  double sp = 0, sq = 0;
  for (int j = 0; j < i; ++j) sp += p[j], sq += q[j];
  if (sp <= 0) return 0;
  if (sq <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (int j = 0; j < i; ++j) {
    if (p[j] == 0) continue;
    if (q[j] == 0) return std::numeric_limits<double>::infinity();
    const double pj = p[j] / sp, qj = q[j] / sq;
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

int kl_best_bins(const std::vector<double>& bins, int levels, int max_candidates, int first_candidate) {
  const int nb = static_cast<int>(bins.size());
  const int first = std::max(levels + 1, std::min(first_candidate, nb));
  if (nb <= first) return nb;
  const int span = nb - first;
  const int stride = max_candidates > 0 ? std::max(1, span / max_candidates) : 1;
  int best = nb;
  double best_kl = std::numeric_limits<double>::infinity();
  for (int i = first; i <= nb; i += stride) {
    const double kl = kl_candidate_divergence(bins, i, levels);
    if (kl < best_kl) best_kl = kl, best = i;
  }
  return best;
}

double kl_threshold(const MagnitudeStats& s, int levels, int max_candidates) {
  if (s.bins.empty() || s.max_abs <= 0) return s.max_abs;
  return kl_best_bins(s.bins, levels, max_candidates) * s.bin_width();
}

double kl_guarded_threshold(const MagnitudeStats& s, int levels, int max_candidates) {
  const double kl = kl_threshold(s, levels, max_candidates);
  if (s.bins.empty() || !(kl > 0)) return kl;
  const double mse = mse_threshold(s, levels);
  const double e_kl = histogram_sse(s, kl, levels), e_mse = histogram_sse(s, mse, levels);
  return e_kl > kKlMaxErrorRatio * e_mse ? mse : kl;
}

double clip_threshold(ClipMethod m, const MagnitudeStats& s, int levels) {
  switch (m) {
    case ClipMethod::kNone:
      return s.max_abs;
    case ClipMethod::kMse:
      return mse_threshold(s, levels);
    case ClipMethod::kAciq:
      return aciq_threshold(s, levels);
    case ClipMethod::kKl:
      return kl_guarded_threshold(s, levels);
  }
  return s.max_abs;
}

double clip_threshold(ClipMethod m, const float* x, int64_t n, int levels) {
  switch (m) {
    case ClipMethod::kNone: {
      float mx = 0;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, std::fabs(x[i]));
      return mx;
    }
    case ClipMethod::kMse:
      return mse_threshold(x, n, levels);
    case ClipMethod::kAciq:
      return aciq_threshold(magnitude_stats(x, n, 0), levels);
    case ClipMethod::kKl:
      return kl_guarded_threshold(magnitude_stats(x, n), levels, 256);
  }
  return 0;
}

}  // namespace eff::quant
