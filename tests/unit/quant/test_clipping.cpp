// Clipping thresholds (src/quant/clipping.h) against published and hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "quant/clipping.h"

namespace eff::quant {
namespace {

// Banner, Nahshan, Soudry, "Post training 4-bit quantization of convolutional networks for
// rapid-deployment" (NeurIPS 2019), section 4: optimal clipping alpha* in units of b (Laplace) and
// sigma (Gaussian) for M-bit quantization (2^M bins over [-alpha, alpha]: levels = 2^(M-1)).
TEST(QuantClipping, AciqMatchesPublishedLaplaceValues) {
  const double published[] = {2.83, 3.89, 5.03, 6.2, 7.41, 8.64, 9.89};  // M = 2..8
  for (int m = 2; m <= 8; ++m) {
    const double levels = std::ldexp(1.0, m - 1);
    EXPECT_NEAR(aciq_laplace_alpha(1.0, levels), published[m - 2], 0.01) << m << " bits";
    // Scale-equivariant: alpha is proportional to b.
    EXPECT_NEAR(aciq_laplace_alpha(0.25, levels), 0.25 * published[m - 2], 0.0025) << m << " bits";
  }
}

TEST(QuantClipping, AciqMatchesPublishedGaussianValues) {
  const double published[] = {1.24, 1.71, 2.15, 2.55, 2.94, 3.29, 3.61, 3.92};  // M = 1..8
  for (int m = 1; m <= 8; ++m) {
    const double levels = std::ldexp(1.0, m - 1);
    EXPECT_NEAR(aciq_gaussian_alpha(1.0, levels), published[m - 1], 0.01) << m << " bits";
  }
}

TEST(QuantClipping, ClosedFormsAtHandComputedPoints) {
  // Laplace b = 1, alpha = 2, 1 level: 2 e^-2 + 4/12.
  EXPECT_NEAR(laplace_clip_error(2, 1, 1), 2 * std::exp(-2.0) + 4.0 / 12, 1e-12);
  // Gaussian sigma = 1, alpha = 0: clipping everything to 0 costs E[x^2] = 1.
  EXPECT_NEAR(gaussian_clip_error(0, 1, 1), 1.0, 1e-12);
}

std::vector<float> laplace_sample(int64_t n, double b, uint32_t seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> e(1.0 / b);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = static_cast<float>(sign(rng) ? e(rng) : -e(rng));
  return x;
}

// The empirical MSE optimum of a large Laplace sample is the analytical one for the grid used:
// 4-bit symmetric, 7 levels a side, minimise 2 b^2 e^(-alpha/b) + (alpha/7)^2 / 12: solved by
// hand (Newton on alpha e^alpha = 12 * 49 = 588): alpha* = 4.807 b.
TEST(QuantClipping, MseOfLaplaceSampleLandsOnAnalyticalOptimum) {
  const auto x = laplace_sample(int64_t{1} << 20, 0.5, 7);
  const double alpha = mse_threshold(x.data(), static_cast<int64_t>(x.size()), 7);
  EXPECT_NEAR(alpha, 4.807 * 0.5, 0.03 * 4.807 * 0.5);
  // The analytical minimiser of the closed form for this grid agrees with the hand solution.
  EXPECT_NEAR(aciq_laplace_alpha(0.5, 7), 4.807 * 0.5, 0.005);
  // And ACIQ, which fits b from the sample and picks Laplace over Gaussian, lands there too.
  const MagnitudeStats s = magnitude_stats(x.data(), static_cast<int64_t>(x.size()));
  EXPECT_NEAR(aciq_threshold(s, 7), 4.807 * 0.5, 0.02);
  // The histogram form of MSE (activations) finds the same optimum.
  EXPECT_NEAR(mse_threshold(s, 7), 4.807 * 0.5, 0.04 * 4.807 * 0.5);
}

TEST(QuantClipping, AciqPicksGaussianForGaussianData) {
  std::mt19937 rng(3);
  std::normal_distribution<double> g(0, 2.0);
  std::vector<float> x(200000);
  for (auto& v : x) v = static_cast<float>(g(rng));
  const MagnitudeStats s = magnitude_stats(x.data(), static_cast<int64_t>(x.size()), 0);
  // 8 bits, 127 levels: the Gaussian optimum for that grid, sigma = 2 (the Laplace one would be ~2x).
  EXPECT_NEAR(aciq_threshold(s, 127), aciq_gaussian_alpha(2.0, 127), 0.05);
}

TEST(QuantClipping, SseIsExactOnHandValues) {
  // alpha 1, 2 levels: step 0.5. |x| = 0.2 -> 0 (err .04), 0.8 -> 1 (err .04), 1.5 -> 1 (err .25).
  const float x[] = {0.2f, -0.8f, 1.5f};
  EXPECT_NEAR(quantization_sse(x, 3, 1.0, 2), 0.04 + 0.04 + 0.25, 1e-6);
}

// TensorRT's entropy calibration on an 8-bin histogram with 2 output groups (levels = 1),
// every candidate by hand (bins kept i; P with the clipped tail in bin i-1; Q from the bins
// without the tail, merged into 2 groups of i/2 bins (the rest to the last) and spread over P's
// non-zero bins):
//   i = 2: P = [4, 12] / 16, Q = [4, 4] / 8        KL = .25 ln .5 + .75 ln 1.5 = 0.13081
//   i = 3: P = [4, 4, 8] / 16, Q = [4, 4, 4] / 12  KL = 2 (.25 ln .75) + .5 ln 1.5 = 0.05889
//   i = 4: P = Q = [4, 4, 4, 4]                     KL = 0
//   i > 4: the empty bins add nothing                KL = 0
// The first minimum is i = 4: the threshold is 4 bin widths.
TEST(QuantClipping, KlOnHistogramWithKnownAnswer) {
  const std::vector<double> bins = {4, 4, 4, 4, 0, 0, 0, 0};
  EXPECT_NEAR(kl_candidate_divergence(bins, 2, 1), 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-12);
  EXPECT_NEAR(kl_candidate_divergence(bins, 3, 1), 0.5 * std::log(0.75) + 0.5 * std::log(1.5), 1e-12);
  EXPECT_NEAR(kl_candidate_divergence(bins, 4, 1), 0.0, 1e-12);
  EXPECT_EQ(kl_best_bins(bins, 1, 0, 0), 4);
  // TensorRT's start at 128 bins keeps every bin of this small histogram.
  EXPECT_EQ(kl_best_bins(bins, 1), 8);
}

TEST(QuantClipping, KlClipsTheTailOfALaplaceSample) {
  // A piecewise-constant histogram aligned with the groups costs KL nothing at any range, so the
  // known-answer case above is small; on a peaked sample the entropy calibration must clip.
  const auto x = laplace_sample(int64_t{1} << 20, 1.0, 11);
  const MagnitudeStats s = magnitude_stats(x.data(), static_cast<int64_t>(x.size()));
  const double alpha = kl_threshold(s, 7);
  EXPECT_LT(alpha, 0.6 * s.max_abs);
  EXPECT_GT(alpha, 2.0);
}

TEST(QuantClipping, KlIgnoresTheZerosOfAReluOutput) {
  // Half the values exactly 0 (a ReLU's output), the rest |Laplace(1)|: on a 4-bit unsigned grid
  // (15 levels) the zeros must not pull the range down to a few bins.
  auto x = laplace_sample(int64_t{1} << 18, 1.0, 5);
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 2 ? std::fabs(x[i]) : 0.0f;
  const MagnitudeStats s = magnitude_stats(x.data(), static_cast<int64_t>(x.size()));
  EXPECT_EQ(s.count, static_cast<int64_t>(x.size()));
  EXPECT_GT(kl_threshold(s, 15), 2.0);
}

// Fashion-MNIST's first-layer input: half the pixels are background, one normalised value
// ((0 - 0.286) / 0.353 = -0.8102), the others' intensity p in (0, 1] denser towards bright
// (density 2p here) in steps of 1/255, normalised up to 2.02. KL alone settles just above the spike of |x| at 0.81
// on a 4-bit signed grid and saturates every brighter pixel; the guarded form sees that clip lose
// more than kKlMaxErrorRatio times MSE's squared error and takes MSE's threshold.
TEST(QuantClipping, KlGuardRefusesAClipJustAboveASpike) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> x(int64_t{1} << 18);
  for (size_t i = 0; i < x.size(); ++i) {
    const double p = i % 2 ? std::ceil(255 * std::sqrt(u(rng))) / 255 : 0.0;  // 8-bit pixels
    x[i] = static_cast<float>((p - 0.2860) / 0.3530);
  }
  const MagnitudeStats s = magnitude_stats(x.data(), static_cast<int64_t>(x.size()));
  const int levels = 7;
  const double kl = kl_threshold(s, levels);
  EXPECT_LT(kl, 1.0);  // the failure the guard exists for (without the spike, KL keeps 2.0)
  const double mse = mse_threshold(s, levels);
  EXPECT_GT(histogram_sse(s, kl, levels), kKlMaxErrorRatio * histogram_sse(s, mse, levels));
  EXPECT_DOUBLE_EQ(kl_guarded_threshold(s, levels), mse);
  EXPECT_DOUBLE_EQ(clip_threshold(ClipMethod::kKl, s, levels), mse);
  EXPECT_GT(mse, 1.5);  // keeps most bright pixels
}

// Where KL's clip is a reasonable trade (a Laplace tail), the guard leaves it alone.
TEST(QuantClipping, KlGuardKeepsKlOnALaplaceSample) {
  const auto x = laplace_sample(int64_t{1} << 20, 1.0, 11);
  const MagnitudeStats s = magnitude_stats(x.data(), static_cast<int64_t>(x.size()));
  for (int levels : {7, 31, 127}) {
    EXPECT_DOUBLE_EQ(kl_guarded_threshold(s, levels), kl_threshold(s, levels)) << levels;
  }
}

// histogram_sse by hand: one value per bin spread over 4 points; alpha = 2 bins, 1 level.
TEST(QuantClipping, HistogramSseByHand) {
  MagnitudeStats s;
  s.max_abs = 4;
  s.bins = {0, 0, 0, 1};  // bin [3, 4): points 3.125 3.375 3.625 3.875
  // levels 1, alpha 2: everything saturates at 2.
  const double e = (1.125 * 1.125 + 1.375 * 1.375 + 1.625 * 1.625 + 1.875 * 1.875) / 4;
  EXPECT_NEAR(histogram_sse(s, 2.0, 1), e, 1e-12);
  // alpha 4, 4 levels: step 1, the points round to 3, 3, 4, 4.
  const double e4 = (0.125 * 0.125 + 0.375 * 0.375 + 0.375 * 0.375 + 0.125 * 0.125) / 4;
  EXPECT_NEAR(histogram_sse(s, 4.0, 4), e4, 1e-12);
}

TEST(QuantClipping, NoneIsMaxAndZerosGiveZero) {
  const float x[] = {0.5f, -3.0f, 2.0f};
  EXPECT_FLOAT_EQ(clip_threshold(ClipMethod::kNone, x, 3, 7), 3.0f);
  const float z[] = {0, 0, 0, 0};
  for (auto m : {ClipMethod::kNone, ClipMethod::kMse, ClipMethod::kAciq, ClipMethod::kKl}) {
    EXPECT_EQ(clip_threshold(m, z, 4, 7), 0.0) << clip_method_name(m);
  }
}

TEST(QuantClipping, ParseRefusesUnknownMethod) {
  EXPECT_EQ(parse_clip_method("kl"), ClipMethod::kKl);
  try {
    parse_clip_method("entropy");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--clip 'entropy'"), std::string::npos);
  }
}

}  // namespace
}  // namespace eff::quant
