// Synapse vector elimination (src/deft/sve.h): exact duplicates at alpha = 1 removed and nothing
// else, lossless with the fold; the fold exact for a linear function of the representative; the
// paper's scale; Figure 5's swaps worked by hand and equal to the compacting copy.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "deft/gemm.h"
#include "deft/sve.h"

namespace eff::deft {

namespace {

// n samples of k synapses; columns listed in `copies` (dst, src, a, b) are a * column src + b.
std::vector<float> calibration(int64_t n, int64_t k, const std::vector<std::tuple<int, int, float, float>>& copies,
                               uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n * k));
  for (float& v : x) v = d(rng);
  for (int64_t s = 0; s < n; ++s)
    for (const auto& [dst, src, a, b] : copies) x[s * k + dst] = a * x[s * k + src] + b;
  return x;
}

std::vector<float> product(const float* w, int64_t m, int64_t k, const float* bias, const float* s, int64_t j,
                           int64_t lds) {
  std::vector<float> out(static_cast<size_t>(j * m));
  for (int64_t r = 0; r < j; ++r)
    for (int64_t i = 0; i < m; ++i) {
      double acc = bias ? bias[i] : 0;
      for (int64_t kk = 0; kk < k; ++kk) acc += double(w[i * k + kk]) * s[r * lds + kk];
      out[r * m + i] = static_cast<float>(acc);
    }
  return out;
}

}  // namespace

TEST(DeftSve, AlphaOneRemovesExactlyTheDuplicatesAndTheFoldIsLossless) {
  const int64_t n = 300, k = 16, m = 5;
  // Columns 10..15 duplicate 3, 7, 3, 0, 9, 1; columns 0..9 are independent noise.
  const auto x =
      calibration(n, k, {{10, 3, 1, 0}, {11, 7, 1, 0}, {12, 3, 1, 0}, {13, 0, 1, 0}, {14, 9, 1, 0}, {15, 1, 1, 0}}, 1);
  const SvePlan p = sve_select(x.data(), n, k, k, 1.0);
  EXPECT_EQ(p.dropped(), 6);
  const int expected_rep[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 7, 3, 0, 9, 1};
  for (int i = 0; i < k; ++i) EXPECT_EQ(p.representative[i], expected_rep[i]) << i;

  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> w(m * k), bias(m);
  for (float& v : w) v = d(rng);
  for (float& v : bias) v = d(rng);
  const auto full = product(w.data(), m, k, bias.data(), x.data(), n, k);
  const SveWeights f = sve_weights(p, w.data(), m, k, bias.data(), Compensation::kFold);
  ASSERT_EQ(f.depth, 10);
  std::vector<float> compact(n * f.depth);
  sve_gather_rows(p, x.data(), n, k, compact.data());
  const auto got = product(f.weights.data(), m, f.depth, f.bias.data(), compact.data(), n, f.depth);
  for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(got[i], full[i], 1e-4 * (1 + std::fabs(full[i])));
}

TEST(DeftSve, FoldIsExactForALinearFunctionOfTheRepresentative) {
  const int64_t n = 200, k = 6, m = 3;
  const auto x = calibration(n, k, {{4, 1, 2.5f, 0.75f}}, 3);  // synapse 4 = 2.5 * synapse 1 + 0.75
  const SvePlan p = sve_select(x.data(), n, k, k, 0.9999);
  ASSERT_EQ(p.dropped(), 1);
  EXPECT_EQ(p.representative[4], 1);
  EXPECT_NEAR(p.slope[4], 2.5f, 1e-5);
  EXPECT_NEAR(p.offset[4], 0.75f, 1e-5);
  const std::vector<float> w = {1, 2, 3, 4, 5, 6, -1, 0.5f, 0, 2, -3, 1, 0, 0, 1, 1, 1, 1};
  const SveWeights f = sve_weights(p, w.data(), m, k, nullptr, Compensation::kFold);
  // Row 0: synapse 1's weight 2 + 2.5 * 5 = 14.5; bias 0.75 * 5.
  EXPECT_NEAR(f.weights[1], 14.5f, 1e-5);
  EXPECT_NEAR(f.bias[0], 3.75f, 1e-5);
  std::vector<float> compact(n * f.depth);
  sve_gather_rows(p, x.data(), n, k, compact.data());
  const auto full = product(w.data(), m, k, nullptr, x.data(), n, k);
  const auto got = product(f.weights.data(), m, f.depth, f.bias.data(), compact.data(), n, f.depth);
  for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(got[i], full[i], 1e-4 * (1 + std::fabs(full[i])));
}

TEST(DeftSve, ScaleCompensationIsKOverKMinusD) {
  const int64_t n = 100, k = 4;
  const auto x = calibration(n, k, {{2, 0, 1, 0}}, 4);
  const SvePlan p = sve_select(x.data(), n, k, k, 1.0);
  ASSERT_EQ(p.dropped(), 1);
  const std::vector<float> w = {3, 6, 9, 12};
  const SveWeights s = sve_weights(p, w.data(), 1, k, nullptr, Compensation::kScale);
  ASSERT_EQ(s.depth, 3);
  // Kept synapses 0, 1, 3 (3 swapped into position 2), each weight times 4/3.
  EXPECT_FLOAT_EQ(s.weights[0], 4.f);
  EXPECT_FLOAT_EQ(s.weights[1], 8.f);
  EXPECT_FLOAT_EQ(s.weights[2], 16.f);
}

TEST(DeftSve, Figure5SwapsMisplacedPairsOnly) {
  // K = 6, synapses 1 and 4 dropped (duplicates of 0 and 2 ... here 1 = 0 and 4 = 2): K - D = 4;
  // position 1 holds a dropped synapse and position 5 a kept one: one swap (1, 5).
  const int64_t n = 50, k = 6;
  const auto x = calibration(n, k, {{1, 0, 1, 0}, {4, 2, 1, 0}}, 5);
  const SvePlan p = sve_select(x.data(), n, k, k, 1.0);
  ASSERT_EQ(p.swaps.size(), 1u);
  EXPECT_EQ(p.swaps[0], std::make_pair(1, 5));
  EXPECT_EQ(p.order, (std::vector<int32_t>{0, 5, 2, 3}));
  std::vector<float> swapped = x, gathered(n * 4);
  sve_swap_rows(p, swapped.data(), n, k);
  sve_gather_rows(p, x.data(), n, k, gathered.data());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t q = 0; q < 4; ++q) EXPECT_EQ(swapped[s * k + q], gathered[s * 4 + q]);
}

TEST(DeftSve, ConstantSynapsesAreKept) {
  const int64_t n = 20, k = 3;
  std::vector<float> x(n * k);
  for (int64_t s = 0; s < n; ++s) x[s * k] = float(s), x[s * k + 1] = 2.f, x[s * k + 2] = float(s * s);
  const SvePlan p = sve_select(x.data(), n, k, k, 0.5);
  EXPECT_EQ(p.constant, 1);
  EXPECT_EQ(p.representative[1], 1);
  EXPECT_EQ(p.dropped(), 1);  // s and s^2 correlate at ~0.97 on 0..19
}

}  // namespace eff::deft
