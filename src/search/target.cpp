#include "search/target.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace eff::search {

namespace {
// Where a fraction times a count lands within rounding of an integer, the integer is meant.
int64_t ceil_count(double x) {
  return static_cast<int64_t>(std::ceil(x - 1e-9));
}
int64_t floor_count(double x) {
  return static_cast<int64_t>(std::floor(x + 1e-9));
}
constexpr double kNoNoiseDb = 300;  // identical outputs: an SNR above any target
constexpr double kMarginZ = 1.645;  // one-sided 95%
}  // namespace

std::string metric_name(Metric m) {
  switch (m) {
    case Metric::kTop1:
      return "top1";
    case Metric::kOutputSnr:
      return "output-snr";
    case Metric::kTop1Agreement:
      return "top1-agreement";
  }
  return "?";
}

void validate_target(const Target& t) {
  if (!(t.keep > 0 && t.keep <= 1)) {
    fail<UsageError>("--keep {}% is not a target: give a percentage in (0, 100], e.g. --keep 99%", t.keep * 100);
  }
  if (t.metric == Metric::kTop1 && t.max_loss_points >= 0 && !std::isfinite(t.max_loss_points)) {
    fail<UsageError>("--max-loss must be a finite number of points");
  }
  if (t.metric == Metric::kOutputSnr && !std::isfinite(t.min_snr_db)) {
    fail<UsageError>("--min-snr-db must be a finite number of dB");
  }
}

std::string describe_target(const Target& t) {
  switch (t.metric) {
    case Metric::kTop1:
      return t.max_loss_points >= 0 ? fmt::format("top-1 at most {} points below fp32", t.max_loss_points)
                                    : fmt::format("keep {}% of the fp32 top-1 accuracy", t.keep * 100);
    case Metric::kOutputSnr:
      return fmt::format("output SNR against fp32 at least {} dB", t.min_snr_db);
    case Metric::kTop1Agreement:
      return fmt::format("top-1 agrees with fp32 on at least {}% of the images", t.keep * 100);
  }
  return "";
}

double parse_percentage(const std::string& text, const std::string& flag) {
  std::string t = text;
  if (!t.empty() && t.back() == '%') t.pop_back();
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(t, &used);
    if (used != t.size()) throw std::invalid_argument(t);
  } catch (const std::exception&) {
    fail<UsageError>("{} '{}': expected a percentage such as 99% or 100%", flag, text);
  }
  if (!(v > 0 && v <= 100)) fail<UsageError>("{} '{}': the percentage must be in (0, 100]", flag, text);
  return v / 100.0;
}

Metric parse_metric(const std::string& text) {
  if (text == "top1") return Metric::kTop1;
  if (text == "output-snr") return Metric::kOutputSnr;
  if (text == "top1-agreement") return Metric::kTop1Agreement;
  fail<UsageError>("--metric '{}': use top1, output-snr or top1-agreement", text);
}

double snr_db(double signal, double noise) {
  if (noise <= 0) return kNoNoiseDb;
  if (signal <= 0) return -kNoNoiseDb;
  return std::min(kNoNoiseDb, 10.0 * std::log10(signal / noise));
}

Judge::Judge(const Target& t, const Reference& ref, bool labelled, bool as_stated)
    : target_(t),
      total_(ref.images),
      as_stated_(as_stated && t.metric == Metric::kTop1),
      signal_(ref.signal_energy),
      ref_correct_(double(ref.correct)) {
  if (t.metric == Metric::kTop1 && !labelled) {
    fail<UsageError>("the top-1 target needs labels: use --metric output-snr or top1-agreement");
  }
  if (as_stated_) {
    required_ = t.max_loss_points >= 0 ? ceil_count(double(ref.correct) - t.max_loss_points / 100.0 * double(total_))
                                       : ceil_count(t.keep * double(ref.correct));
    required_ = std::max<int64_t>(0, required_);
  } else if (t.metric == Metric::kTop1) {
    // Lost images allowed: (1 - keep) of fp32's correct ones, or the points of --max-loss, less a
    // statistical margin: a configuration whose expected loss on new images is the whole allowance
    // a measures at most a - z sqrt(a) (lost images are roughly Poisson, variance ~ a) only 5% of
    // the time (z = 1.645, one-sided).
    const double allowance =
        t.max_loss_points >= 0 ? t.max_loss_points / 100.0 * double(total_) : (1.0 - t.keep) * double(ref.correct);
    required_ = std::max<int64_t>(0, floor_count(allowance - kMarginZ * std::sqrt(allowance)));
  } else if (t.metric == Metric::kTop1Agreement) {
    // The same margin on the images allowed to disagree with fp32; the report subset judges the
    // target as stated.
    const double allowance = (1.0 - t.keep) * double(total_);
    required_ = as_stated ? ceil_count(t.keep * double(total_))
                          : total_ - std::max<int64_t>(0, floor_count(allowance - kMarginZ * std::sqrt(allowance)));
  }
}

bool Judge::surely_met(const Tally& t) const {
  if (as_stated_) return t.correct >= required_;
  // Top-1: even if every remaining image were lost.
  if (target_.metric == Metric::kTop1) return t.lost + (total_ - t.images) <= required_;
  if (target_.metric == Metric::kTop1Agreement) return t.agree >= required_;
  return false;  // the SNR can still fall with every image to come
}

bool Judge::surely_missed(const Tally& t) const {
  const int64_t left = total_ - t.images;
  if (as_stated_) return t.correct + left < required_;
  if (target_.metric == Metric::kTop1) return t.lost > required_;
  if (target_.metric == Metric::kTop1Agreement) return t.agree + left < required_;
  // Noise only grows and the signal is known in full: a partial SNR below target stays below.
  return snr_db(signal_, t.noise_energy) < target_.min_snr_db;
}

bool Judge::met(const Tally& t) const {
  if (target_.metric == Metric::kOutputSnr) return snr_db(signal_, t.noise_energy) >= target_.min_snr_db;
  if (target_.metric == Metric::kTop1 && !as_stated_) return t.lost <= required_;
  return surely_met(t);
}

double Judge::score(const Tally& t) const {
  const double n = double(std::max<int64_t>(1, t.images));
  if (as_stated_) return 100.0 * double(t.correct) / n;
  switch (target_.metric) {
    case Metric::kTop1:  // lost images only grow: a partial tally's value bounds the final one
      return 100.0 * (ref_correct_ - double(t.lost)) / double(std::max<int64_t>(1, total_));
    case Metric::kTop1Agreement:
      return 100.0 * double(t.agree) / n;
    case Metric::kOutputSnr:
      return snr_db(signal_, t.noise_energy);
  }
  return 0;
}

double Judge::reference_score() const {
  switch (target_.metric) {
    case Metric::kTop1:
      return total_ ? 100.0 * ref_correct_ / double(total_) : 0.0;
    case Metric::kTop1Agreement:
      return 100.0;
    case Metric::kOutputSnr:
      return kNoNoiseDb;
  }
  return 0;
}

}  // namespace eff::search
