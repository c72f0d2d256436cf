// Per-layer analyses of src/profile/layer_stats.h: compute and memory per seed 002's formulas on
// layers worked out by hand, roofline placement on both sides of the ridge, DeftNN synapse-vector
// redundancy on constructed rows (identical, scaled, negated, orthogonal, constant), and the
// partial-sum correlation of channel gating where the answer is known.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "profile/layer_stats.h"

namespace eff::profile {

TEST(ProfileCompute, ConvLayerWorkedByHand) {
  // 8x8x4 input, 8 filters of 3x3x4, stride 1, pad 1 -> 8x8x8 output.
  LayerGeometry g;
  g.kind = "conv";
  g.Nx = g.Ny = 8;
  g.Ni = 4;
  g.Kx = g.Ky = 3;
  g.Nf = 8;
  g.Ox = g.Oy = 8;
  g.macs = 8 * 8 * 8 * 4 * 3 * 3;  // 18432
  const ComputeMemory c = compute_memory(g, 16);
  EXPECT_EQ(c.macs, 18432);
  EXPECT_EQ(c.ops, 36864);
  EXPECT_EQ(c.weights, 288);        // 8 * 4 * 9
  EXPECT_EQ(c.input_values, 256);   // 8 * 8 * 4
  EXPECT_EQ(c.output_values, 512);  // 8 * 8 * 8
  EXPECT_DOUBLE_EQ(c.weight_bytes, 576);
  EXPECT_DOUBLE_EQ(c.input_bytes, 512);
  EXPECT_DOUBLE_EQ(c.output_bytes, 1024);
  EXPECT_DOUBLE_EQ(c.intensity_weights, 64.0);              // 36864 / 576
  EXPECT_DOUBLE_EQ(c.intensity_offchip, 36864.0 / 2112.0);  // 576 + 512 + 1024
  EXPECT_DOUBLE_EQ(c.intensity_onchip, 24.0);               // 36864 / 1536
}

TEST(ProfileCompute, FullyConnectedIntensityIsTwoOpsPerWeightByte) {
  // Seed 002: 2 * IN * OUT / (IN * OUT * BITS / 8) = 2 at 8 bits, 1 at 16 bits.
  LayerGeometry g;
  g.kind = "fc";
  g.Ni = 1152;
  g.Nf = 256;
  g.macs = 1152 * 256;
  EXPECT_DOUBLE_EQ(compute_memory(g, 8).intensity_weights, 2.0);
  EXPECT_DOUBLE_EQ(compute_memory(g, 16).intensity_weights, 1.0);
  EXPECT_EQ(compute_memory(g, 8).input_values, 1152);
  EXPECT_EQ(compute_memory(g, 8).output_values, 256);
}

TEST(ProfileCompute, GroupedConvCountsWeightsPerGroup) {
  LayerGeometry g;
  g.kind = "conv";
  g.Ni = 8;
  g.Nf = 16;
  g.groups = 4;
  g.Kx = g.Ky = 3;
  EXPECT_EQ(compute_memory(g, 16).weights, 16 * 2 * 9);
}

TEST(ProfileRoofline, MemoryBoundBelowTheRidgeComputeBoundAbove) {
  const Machine m{"toy", 100.0, 10.0, ""};  // ridge at 10 ops/byte
  const RooflinePlacement low = place_on_roofline(m, 4.0);
  EXPECT_DOUBLE_EQ(low.ridge, 10.0);
  EXPECT_DOUBLE_EQ(low.attainable, 40.0);  // 4 ops/byte * 10 bytes/s
  EXPECT_TRUE(low.memory_bound);
  const RooflinePlacement high = place_on_roofline(m, 20.0);
  EXPECT_DOUBLE_EQ(high.attainable, 100.0);
  EXPECT_FALSE(high.memory_bound);
}

TEST(ProfileRoofline, MachineSpecsParseOrFailWithTheFlagNamed) {
  const Machine m = parse_machine("npu=1e12,2.5e10");
  EXPECT_EQ(m.name, "npu");
  EXPECT_DOUBLE_EQ(m.peak_ops_per_s, 1e12);
  EXPECT_DOUBLE_EQ(m.bytes_per_s, 2.5e10);
  EXPECT_THROW(parse_machine("npu=abc,1"), UsageError);
  EXPECT_THROW(parse_machine("npu=1,-1"), UsageError);
  EXPECT_THROW(parse_machine("npu"), UsageError);
  EXPECT_THROW(parse_machine("=1,2"), UsageError);
}

TEST(ProfileRoofline, DefaultMachinesIncludeDaDianNaoFromTheSeed) {
  const auto ms = default_machines();
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms[0].name, "cpu");
  EXPECT_GT(ms[0].peak_ops_per_s, 0);
  EXPECT_EQ(ms[1].name, "dadiannao");
  EXPECT_DOUBLE_EQ(ms[1].peak_ops_per_s, 7.8e12);  // 3.9 Tmul/s, one multiply + one add each
}

// ---- synapse vectors ------------------------------------------------------------------------------

namespace {

// Rows: 0 base, 1 = 2 x base, 2 = -base, 3 orthogonal to base after centring, 4 constant,
// 5 = base, 6 = -2 x base.
const std::vector<float> kRows = {1,  2, 3, 4, 2, 4, 6, 8, -1, -2, -3, -4, 1,  -1,
                                  -1, 1, 5, 5, 5, 5, 1, 2, 3,  4,  -2, -4, -6, -8};

}  // namespace

TEST(ProfileSynapse, ScaledAndIdenticalRowsAreRepresentedNegatedAndOrthogonalOnesAreNot) {
  // alpha 0.99: rho = 1 for {0, 1, 5} and for {2, 6}; -1 between the two sets; row 3 has rho 0
  // with all of them ((-1.5, -.5, .5, 1.5) . (1, -1, -1, 1) = 0); row 4 has no variance.
  // Greedy: rows 0, 1, 5 each represent 2; keep row 0 (lowest index), drop 1 and 5. Then row 2
  // represents row 6: drop it. Represented: 3.
  // alpha -1: every pair of non-constant rows qualifies; row 0 represents the other 5.
  const SynapseRedundancy r = synapse_redundancy(kRows.data(), 7, 4, {0.99, -1.0}, 0, 1);
  EXPECT_EQ(r.rows, 7);
  EXPECT_EQ(r.rows_examined, 7);
  EXPECT_EQ(r.constant_rows, 1);
  EXPECT_EQ(r.represented, (std::vector<int64_t>{3, 5}));
  EXPECT_DOUBLE_EQ(r.fraction(0), 3.0 / 7);
}

TEST(ProfileSynapse, SamplingExaminesAtMostMaxRowsAndIsRepeatable) {
  const SynapseRedundancy a = synapse_redundancy(kRows.data(), 7, 4, {0.99}, 3, 42);
  const SynapseRedundancy b = synapse_redundancy(kRows.data(), 7, 4, {0.99}, 3, 42);
  EXPECT_EQ(a.rows, 7);
  EXPECT_EQ(a.rows_examined, 3);
  EXPECT_LE(a.represented[0], 2);
  EXPECT_EQ(a.represented, b.represented);
  EXPECT_EQ(a.constant_rows, b.constant_rows);
}

TEST(ProfileSynapse, FullyConnectedLayoutsGiveTheSameRows) {
  // FC with Ni = 3 inputs, Nf = 4 filters. Input rows (weights each input meets in the 4 filters):
  // input 0: (1, 2, 3, 4), input 1: (2, 4, 6, 8), input 2: (1, -1, -1, 1).
  LayerGeometry g;
  g.kind = "fc";
  g.Ni = 3;
  g.Nf = 4;
  g.macs = 12;
  const std::vector<float> kn = {1, 2, 3, 4, 2, 4, 6, 8, 1, -1, -1, 1};  // [Ni][Nf]
  std::vector<float> nk(12);
  for (int k = 0; k < 3; ++k) {
    for (int f = 0; f < 4; ++f) nk[f * 3 + k] = kn[k * 4 + f];
  }
  const auto a = layer_synapse_redundancy(g, kn.data(), false, {0.99}, 0, 1);
  const auto b = layer_synapse_redundancy(g, nk.data(), true, {0.99}, 0, 1);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->represented[0], 1);
  EXPECT_EQ(b->represented[0], 1);
}

TEST(ProfileSynapse, ConvRowsAreChannelTapPairsPerGroup) {
  // Conv 2 channels, 1x2 kernel, 2 filters, 1 group: rows (c, kx) over filters f:
  // W[f][c][0][kx]; filter 0 = (c0: 1, 2 | c1: 3, 6), filter 1 = (c0: 2, 4 | c1: 6, 12).
  // Rows: (c0,k0) = (1, 2), (c0,k1) = (2, 4), (c1,k0) = (3, 6), (c1,k1) = (6, 12): all rho = 1,
  // so one row represents the other 3.
  LayerGeometry g;
  g.kind = "conv";
  g.Ni = 2;
  g.Nf = 2;
  g.Kx = 2;
  const std::vector<float> w = {1, 2, 3, 6, 2, 4, 6, 12};
  const auto r = layer_synapse_redundancy(g, w.data(), false, {0.99}, 0, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rows, 4);
  EXPECT_EQ(r->represented[0], 3);
  // Depthwise-like groups leave one filter per group: no vectors to correlate.
  g.groups = 2;
  EXPECT_FALSE(layer_synapse_redundancy(g, w.data(), false, {0.99}, 0, 1));
}

// ---- partial sums ------------------------------------------------------------------------------

namespace {

LayerGeometry pointwise(int64_t ni, int64_t ny, int64_t nx, int64_t nf) {
  LayerGeometry g;
  g.kind = "conv";
  g.Ni = ni;
  g.Ny = g.Oy = ny;
  g.Nx = g.Ox = nx;
  g.Nf = nf;
  g.macs = ny * nx * nf * ni;
  return g;
}

}  // namespace

TEST(ProfilePartialSums, ChannelsBeyondTheFractionAllZeroGiveCorrelationOne) {
  // 1x1 conv, 4 channels over 2x2 positions, one filter of all-ones weights.
  // Channel 0 = (1, 2, 3, 4), channel 1 = (1, 0, 1, 0), channels 2, 3 zero.
  // p/c = 1/2 (channels 0-1) equals the full sum: r = 1.
  // p/c = 1/4 (channel 0): x = (1, 2, 3, 4), y = (2, 2, 4, 4); centred (-1.5, -.5, .5, 1.5) and
  // (-1, -1, 1, 1): cov 4, var 5 and 4 -> r = 4 / sqrt(20) = 0.894427191.
  // p/c = 1/8: floor(4 / 8) = 0 channels: no pairs.
  const LayerGeometry g = pointwise(4, 2, 2, 1);
  const std::vector<float> acts = {1, 2, 3, 4, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const std::vector<float> w = {1, 1, 1, 1};
  std::vector<Pearson> out;
  accumulate_partial_sums(g, acts.data(), w.data(), false, {1, 2, 4, 8}, 64, 7, 0, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_NEAR(*out[0].r(), 1.0, 1e-12);
  EXPECT_NEAR(*out[1].r(), 1.0, 1e-12);
  EXPECT_NEAR(*out[2].r(), 4.0 / std::sqrt(20.0), 1e-12);
  EXPECT_EQ(out[3].n, 0);
  EXPECT_FALSE(out[3].r());
  EXPECT_EQ(out[1].n, 4);  // 4 outputs, fewer than the 64 samples asked for: all taken
}

TEST(ProfilePartialSums, PaddedTapsReadZeros) {
  // 3x3 kernel, pad 1, 1x1 input with 2 channels (a0, a1) and 1 filter whose centre taps are 1:
  // the only output is a0 + a1 and its first-half partial sum is a0. Over two images (1, 1) and
  // (2, 0): x = (1, 2), y = (2, 2): y has no variance -> no correlation.
  LayerGeometry g;
  g.kind = "conv";
  g.Ni = 2;
  g.Ny = g.Nx = 1;
  g.Ky = g.Kx = 3;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  g.Oy = g.Ox = 1;
  g.Nf = 1;
  g.macs = 18;
  std::vector<float> w(18, 0.0f);
  w[4] = 1;      // channel 0 centre
  w[9 + 4] = 1;  // channel 1 centre
  std::vector<Pearson> out;
  const std::vector<float> img0 = {1, 1}, img1 = {2, 0};
  accumulate_partial_sums(g, img0.data(), w.data(), false, {2}, 64, 7, 0, out);
  accumulate_partial_sums(g, img1.data(), w.data(), false, {2}, 64, 7, 1, out);
  EXPECT_EQ(out[0].n, 2);
  EXPECT_DOUBLE_EQ(out[0].sx, 3.0);
  EXPECT_DOUBLE_EQ(out[0].sy, 4.0);
  EXPECT_FALSE(out[0].r());
}

TEST(ProfilePartialSums, FullyConnectedUsesTheWeightLayout) {
  // FC 2 inputs, 2 outputs, [Nf][Ni] weights ((1, 0), (0, 1)); input (3, 5).
  // Output 0: partial (first input) 3, full 3; output 1: partial 0, full 5.
  LayerGeometry g;
  g.kind = "fc";
  g.Ni = 2;
  g.Nf = 2;
  g.macs = 4;
  const std::vector<float> w = {1, 0, 0, 1}, a = {3, 5};
  std::vector<Pearson> out;
  accumulate_partial_sums(g, a.data(), w.data(), true, {2}, 64, 7, 0, out);
  EXPECT_EQ(out[0].n, 2);
  EXPECT_DOUBLE_EQ(out[0].sx, 3.0);
  EXPECT_DOUBLE_EQ(out[0].sy, 8.0);
  EXPECT_DOUBLE_EQ(out[0].sxy, 9.0);
}

TEST(ProfilePartialSums, SamplingIsAFunctionOfSeedAndImageOnly) {
  const LayerGeometry g = pointwise(4, 8, 8, 4);
  std::vector<float> acts(4 * 64), w(16);
  for (size_t i = 0; i < acts.size(); ++i) acts[i] = static_cast<float>((i * 37) % 11) - 3.0f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 5) % 7) - 2.0f;
  std::vector<Pearson> a, b;
  accumulate_partial_sums(g, acts.data(), w.data(), false, {2}, 16, 3, 5, a);
  accumulate_partial_sums(g, acts.data(), w.data(), false, {2}, 16, 3, 5, b);
  EXPECT_EQ(a[0].n, 16);
  EXPECT_EQ(a[0].sxy, b[0].sxy);
}

}  // namespace eff::profile
