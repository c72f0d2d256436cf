// Clipping thresholds for data-free uniform quantization (seed 003; docs/quantize.md). Every
// method works on magnitudes |x| and returns the threshold alpha of a grid with `levels` steps
// on each side of zero: the quantizer maps |x| to min(round(|x| / s), levels) * s, s = alpha /
// levels (symmetric signed b bits: levels = 2^(b-1) - 1; non-negative data: 2^b - 1).
//   none  alpha = max |x|
//   mse   alpha minimising the mean squared quantization error over the tensor
//   aciq  alpha minimising the closed-form error of a Laplace or Gaussian fit (Banner et al.,
//         "Post training 4-bit quantization", 2019), whichever fits the data better
//   kl    TensorRT's entropy calibration (Migacz, GTC'17): the histogram range whose quantized
//         distribution is closest to the clipped one in KL divergence
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eff::quant {

enum class ClipMethod { kNone, kMse, kAciq, kKl };

// "none", "mse", "aciq", "kl"; UsageError naming `flag` otherwise.
ClipMethod parse_clip_method(const std::string& s, const std::string& flag = "--clip");
const char* clip_method_name(ClipMethod m);

// Moments of |x| and a histogram of |x| over [0, max_abs] in equal bins: what the methods need
// of activations, which are seen a batch at a time (max_abs must be known before the first add).
struct MagnitudeStats {
  int64_t count = 0;
  double max_abs = 0;
  double sum_abs = 0, sum_sq = 0;
  // Empty when no histogram was asked for. Exact zeros are not counted (pytorch-quantization's
  // skip_zeros): every grid holds them exactly, and the spike of a ReLU's zeros in bin 0 would
  // otherwise drive KL calibration to a range of a few bins.
  std::vector<double> bins;
  double bin_width() const { return bins.empty() || max_abs <= 0 ? 0 : max_abs / static_cast<double>(bins.size()); }
  // Counts and moments of x[0..n). Values beyond max_abs go to the last bin.
  void add(const float* x, int64_t n);
};
// TensorRT's histogram size.
constexpr int kHistogramBins = 2048;
MagnitudeStats magnitude_stats(const float* x, int64_t n, int bins = kHistogramBins);

// Closed-form expected squared error of clipping at alpha plus uniform rounding noise (s^2 / 12,
// s = alpha / levels) for zero-mean Laplace(b) and Gaussian(sigma) data (Banner et al. eq. 5, 9
// with 2^M bins over [-alpha, alpha], i.e. levels = 2^(M-1)).
double laplace_clip_error(double alpha, double b, double levels);
double gaussian_clip_error(double alpha, double sigma, double levels);
// Their minimisers (golden-section search; both errors are unimodal in alpha).
double aciq_laplace_alpha(double b, double levels);
double aciq_gaussian_alpha(double sigma, double levels);

// Empirical squared error of quantizing |x| with threshold alpha (sum over the values).
double quantization_sse(const float* x, int64_t n, double alpha, int levels);

// The thresholds. `x`-based forms see every value (weights; tensors beyond 2^20 values are
// searched on an evenly strided sample of 2^20); the stats-based forms see moments and the
// histogram (activations). A tensor of zeros gives 0.
double clip_threshold(ClipMethod m, const float* x, int64_t n, int levels);
double clip_threshold(ClipMethod m, const MagnitudeStats& s, int levels);

double mse_threshold(const float* x, int64_t n, int levels);
double mse_threshold(const MagnitudeStats& s, int levels);
// Fits both zero-mean distributions to the moments of |x| (b = mean |x|, sigma^2 = mean x^2:
// their maximum-likelihood estimates) and takes the closed-form optimum of the one whose
// likelihood is higher, capped at max |x|.
double aciq_threshold(const MagnitudeStats& s, int levels);

// TensorRT entropy calibration on `bins` (a histogram of |x| from 0 in equal bins): for every
// candidate i (bins kept) from max(levels + 1, first_candidate) to bins.size(), P = bins[0, i)
// with the clipped tail added to bin i - 1, Q = bins[0, i) merged into levels + 1 groups and
// spread back over P's non-zero bins; the first i of least KL(P || Q) wins and the threshold is
// i bin widths. TensorRT starts at 128 of 2048 bins (a range of at least 1/16 of the maximum):
// below 8 bits, starting at levels + 1 lets a histogram with a gap near zero (normalised image
// pixels) reach KL 0 at a range of a few bins. With `max_candidates` > 0 the candidates are
// evenly thinned to about that many (per-channel weights).
int kl_best_bins(const std::vector<double>& bins, int levels, int max_candidates = 0, int first_candidate = 128);
// KL(P || Q) of one candidate (exposed for tests).
double kl_candidate_divergence(const std::vector<double>& bins, int keep, int levels);
double kl_threshold(const MagnitudeStats& s, int levels, int max_candidates = 0);

// Squared quantization error of the histogram's values (spread evenly over each bin) with
// threshold alpha: what mse_threshold minimises.
double histogram_sse(const MagnitudeStats& s, double alpha, int levels);
// `--clip kl`: kl_threshold, unless its squared error on the histogram is more than
// kKlMaxErrorRatio times that of mse_threshold's; then mse_threshold. KL compares the shape of
// the clipped distribution with its quantized copy, not what clipping loses: on a histogram
// dominated by one value (Fashion-MNIST's normalised background, about half of the first layer's
// inputs) it settles just above that spike at 4-6 bits and saturates every brighter pixel.
constexpr double kKlMaxErrorRatio = 10.0;
double kl_guarded_threshold(const MagnitudeStats& s, int levels, int max_candidates = 0);

}  // namespace eff::quant
