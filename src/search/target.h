// What a search must keep: top-1 accuracy relative to fp32 (seed 001 Table 2 keeps 100%), an
// absolute loss in points, the SNR of the outputs against fp32, or top-1 agreement with fp32
// (the last two need no labels). An evaluation counts, image by image, what the target needs, and
// can stop as soon as the outcome is certain either way.
// Top-1 targets are judged per image: the images fp32 gets right that the candidate gets wrong
// ("lost") must not exceed what the target allows; images the candidate gains do not pay for
// lost ones. A net count (correct >= required) lets a search pick configurations whose random
// gains on the search subset hide real losses, and those losses show on any other subset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eff::search {

enum class Metric { kTop1, kOutputSnr, kTop1Agreement };

struct Target {
  Metric metric = Metric::kTop1;
  double keep = 1.0;            // kTop1: fraction of fp32 top-1 kept; kTop1Agreement: fraction agreeing
  double max_loss_points = -1;  // kTop1: when >= 0, at most this many points below fp32 (instead of keep)
  double min_snr_db = 30;       // kOutputSnr
};

// UsageError (one line) for targets that make no sense: keep outside (0, 1], a negative or
// non-finite loss, SNR without a finite bound.
void validate_target(const Target& t);
std::string describe_target(const Target& t);
// "99%", "99.5%" or "99" (a percentage in (0, 100]) as a fraction; UsageError naming `flag`.
double parse_percentage(const std::string& text, const std::string& flag);
// "top1", "output-snr" or "top1-agreement"; UsageError otherwise.
Metric parse_metric(const std::string& text);
std::string metric_name(Metric m);

// What the fp32 model does on a set: the reference every evaluation is judged against.
struct Reference {
  int64_t images = 0;
  int64_t correct = 0;            // fp32 top-1 correct (labelled sets)
  std::vector<int64_t> top1;      // fp32 prediction per image
  std::vector<float> outputs;     // first output, all images (for the SNR)
  int64_t outputs_per_image = 0;  //
  double signal_energy = 0;       // sum of squared fp32 outputs
  double accuracy() const { return images ? 100.0 * double(correct) / double(images) : 0.0; }
};

// Counts of one evaluation, possibly stopped early (then `images` < the set's size).
struct Tally {
  int64_t images = 0;
  int64_t correct = 0;
  int64_t agree = 0;
  int64_t lost = 0;  // images fp32 gets right and this run gets wrong (labelled sets)
  double noise_energy = 0;
  bool complete = false;
  bool met = false;
};

// The rule applied to a reference: what must be reached, and when it is certain.
// `as_stated`: the target as the user states it, net counts and no margin (top-1 correct >=
// ceil(keep x fp32 correct), or >= fp32 correct - the points allowed): for the report subset,
// which is never searched on and so is an honest estimate of what the found formats keep.
class Judge {
 public:
  Judge(const Target& t, const Reference& ref, bool labelled, bool as_stated = false);
  // Met / missed whatever the remaining images do (for early stopping), given counts so far.
  bool surely_met(const Tally& t) const;
  bool surely_missed(const Tally& t) const;
  // On a complete tally.
  bool met(const Tally& t) const;
  // The metric's value, more is better: top-1 targets, the retained top-1 (points of the images
  // both fp32 and the run get right, so only lost images lower it); agreement in points; SNR in dB.
  double score(const Tally& t) const;
  // The fp32 model's value of the same metric.
  double reference_score() const;
  // Agreement: the number of agreeing images needed; top-1: the number of lost images allowed
  // (as stated: of correct images needed); -1 for the SNR target.
  int64_t required_count() const { return required_; }

 private:
  Target target_;
  int64_t total_ = 0;
  int64_t required_ = -1;
  bool as_stated_ = false;
  double signal_ = 0;
  double ref_correct_ = 0;
};

double snr_db(double signal, double noise);

}  // namespace eff::search
