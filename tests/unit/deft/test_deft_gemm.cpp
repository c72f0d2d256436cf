// DeftNN formats and kernels (src/deft): hand-computed codes of each format, the bf16 dot-product
// step's order and rounding on a case where fused, even-first and odd-first give three different
// answers, and every kernel of the family equal to the scalar reference bit for bit (tails in
// both dimensions, bias and ReLU, both ISAs, 1 and 2 threads).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "deft/formats.h"
#include "deft/gemm.h"

namespace eff::deft {

TEST(DeftFormats, Deft16RoundsToNearestEven) {
  EXPECT_EQ(to_deft16(1.0f), 0x3F80);
  EXPECT_EQ(to_deft16(bits_to_float(0x3F808000)), 0x3F80);  // tie, even stays
  EXPECT_EQ(to_deft16(bits_to_float(0x3F818000)), 0x3F82);  // tie, odd rounds up
  EXPECT_EQ(to_deft16(bits_to_float(0x3F808001)), 0x3F81);
  EXPECT_EQ(from_deft16(0xC040), -3.0f);
}

TEST(DeftFormats, Deft16QHighValueKeepsTheLowValuesBits) {
  // Word (hi = 1.0, lo = 0xC000): the high value reads 0x3F80C000 = 1 + 0xC000 * 2^-23.
  const uint32_t w = pack_deft16q(0xC000, 0x3F80);
  EXPECT_EQ(deft16q_high(w), 1.0f + 49152.0f / 8388608.0f);
  EXPECT_EQ(deft16q_low(w), -2.0f);  // 0xC000 << 16
}

TEST(DeftFormats, Fp8CodesWorkedByHand) {
  const Fp8Spec s{4, 7};                 // 1 sign, 4 exponent, 3 mantissa bits, bias 7
  EXPECT_EQ(fp8_decode(0x38, s), 1.0f);  // e = 7, m = 0
  EXPECT_EQ(fp8_decode(0xB8, s), -1.0f);
  EXPECT_EQ(fp8_decode(0x3C, s), 1.5f);                  // m = 100b
  EXPECT_EQ(fp8_decode(0x08, s), std::ldexp(1.0f, -6));  // e = 1: 2^(1-7)
  EXPECT_EQ(fp8_decode(0x07, s), 0.0f);                  // e = 0: zero, whatever the mantissa
  EXPECT_EQ(fp8_decode(0x7F, s), 480.0f);                // 2^8 * 1.875
  EXPECT_EQ(fp8_decode(0x00, s), 0.0f);
  EXPECT_EQ(fp8_encode(1.0f, s), 0x38);
  EXPECT_EQ(fp8_encode(1e6f, s), 0x7F);     // saturates
  EXPECT_EQ(fp8_encode(1.0625f, s), 0x38);  // tie between 1 and 1.125: even code
  EXPECT_EQ(fp8_encode(1.1875f, s), 0x3A);  // tie between 1.125 and 1.25
  for (int e = 1; e <= 7; ++e) {
    const Fp8Spec t{e, (1 << (e - 1)) - 1};
    for (int c = 1; c < 256; ++c) {
      if ((c & 0x7F) >> (7 - e) == 0) continue;  // e = 0: all decode to 0
      EXPECT_EQ(fp8_encode(fp8_decode(static_cast<uint8_t>(c), t), t), c) << "e=" << e << " code " << c;
    }
  }
}

TEST(DeftFormats, Fp8SpecSpendsBitsOnMantissaForANarrowRange) {
  // Values in one binade [0.5, 1): one exponent bit and bias 2 give 6 mantissa bits there (step
  // 2^-7, error <= 2^-8); any wider exponent has coarser steps.
  std::vector<float> w;
  for (int i = 0; i < 100; ++i) w.push_back((i % 2 ? -1.f : 1.f) * (0.5f + 0.00497f * i));
  const Fp8Spec s = choose_fp8_spec(w);
  EXPECT_EQ(s.exp_bits, 1);
  EXPECT_EQ(s.bias, 2);
  for (float x : w) EXPECT_LE(std::fabs(fp8_decode(fp8_encode(x, s), s) - x), 1.0f / 256) << x;
}

TEST(DeftFormats, Bf16DotStepOddPairFirstEachSumRounded) {
  // acc 1, pairs (even, odd) = (-2^24, 2^24) . (1, 1): odd first gives (1 + 2^24 -> 2^24) - 2^24 = 0;
  // even first would give 1, one fused sum 1 as well.
  const uint32_t a = 0xCB80u | 0x4B80u << 16, b = 0x3F80u | 0x3F80u << 16;
  EXPECT_EQ(bf16_dot_step(1.0f, a, b), 0.0f);
  EXPECT_EQ(bf16_dot_step(1.0f, 0x4000u | 0x4040u << 16, 0x3F00u | 0x3F80u << 16), 5.0f);  // 1 + 3*1 + 2*.5
}

TEST(DeftFormats, Bf16DotStepMatchesTheCpu) {
  if (best_isa() != Isa::kAvx512) GTEST_SKIP() << "no AVX-512 BF16 on this CPU";
  // The same case through the kernel: one weight row (-2^24, 2^24), activations (1, 1), no bias.
  const float w[2] = {-16777216.0f, 16777216.0f}, s[2] = {1.0f, 1.0f};
  const PackedWeights p = pack_weights(Format::kBf16Dot, w, 1, 2, 2);
  float c = -1;
  gemm(p, s, 1, 2, &c, 1, {}, Isa::kAvx512);
  EXPECT_EQ(c, 0.0f);  // acc starts at 0 here: (0 + 2^24) - 2^24
}

namespace {
std::vector<float> random_values(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}
}  // namespace

TEST(DeftGemm, EveryKernelEqualsItsReferenceBitForBit) {
  const int64_t m = 45, k = 37, j = 13;  // tails: 45 = 32 + 13 lanes, 13 = 2 * 6 + 1 rows, odd K
  const auto w = random_values(m * k, 1, 0.2f), s = random_values(j * (k + 3), 2, 1.0f);
  const auto bias = random_values(m, 3, 0.5f);
  std::vector<Isa> isas = {Isa::kPortable};
  if (best_isa() == Isa::kAvx512) isas.push_back(Isa::kAvx512);
  for (Format f : gemm_formats()) {
    const PackedWeights p = pack_weights(f, w.data(), m, k, k);
    for (bool relu : {false, true}) {
      const Epilogue e{bias.data(), relu};
      std::vector<float> ref(j * (m + 1), 7.f);
      gemm_reference(p, s.data(), j, k + 3, ref.data(), m + 1, e);
      for (Isa isa : isas) {
        for (int threads : {1, 2}) {
          std::vector<float> got(j * (m + 1), 7.f);
          gemm(p, s.data(), j, k + 3, got.data(), m + 1, e, isa, threads);
          EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)))
              << format_name(f) << " on " << isa_name(isa) << ", relu " << relu << ", threads " << threads;
        }
      }
    }
  }
}

TEST(DeftGemm, SmallBatchesOverPanelGroupsEqualTheReference) {
  // Batches of 1 and 2 run each row over up to 4 panels at once: panel groups 4 + 3 (m = 200) and
  // 4 + 4 + 1 with a tail of 8 lanes (m = 264), strided S too; the larger one is past the size
  // where the GEMM takes a team, so 2 threads split its panel groups (fastest ISA, two formats, one row: the test stays
  // cheap).
  std::vector<Isa> isas = {Isa::kPortable};
  if (best_isa() == Isa::kAvx512) isas.push_back(Isa::kAvx512);
  for (const auto& [m, k] : {std::pair<int64_t, int64_t>{200, 37}, {264, 15200}}) {
    const auto w = random_values(m * k, 11, 0.05f), s = random_values(2 * k, 12, 1.0f);
    const auto bias = random_values(m, 13, 0.5f);
    std::vector<float> st(2 * k);  // S stored K x 2
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t kk = 0; kk < k; ++kk) st[kk * 2 + r] = s[r * k + kk];
    for (Format f : gemm_formats()) {
      if (k > 1000 && f != Format::kDeft16Q && f != Format::kBf16Dot) continue;  // seconds, not more
      const PackedWeights p = pack_weights(f, w.data(), m, k, k);
      const Epilogue e{bias.data(), f == Format::kFp8};
      for (int64_t j : {1, 2}) {
        if (k > 1000 && j == 2) continue;
        std::vector<float> ref(j * (m + 1), 7.f);
        gemm_reference(p, s.data(), j, k, ref.data(), m + 1, e);
        for (Isa isa : isas) {
          if (k > 1000 && isa != isas.back()) continue;  // the large case: the fastest ISA only
          for (int threads : {1, 2}) {
            std::vector<float> got(j * (m + 1), 7.f), strided(j * (m + 1), 7.f);
            gemm(p, s.data(), j, k, got.data(), m + 1, e, isa, threads);
            gemm_strided(p, st.data(), j, 1, 2, strided.data(), m + 1, e, isa, threads);
            EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)))
                << format_name(f) << " m " << m << " j " << j << " on " << isa_name(isa) << ", threads " << threads;
            EXPECT_EQ(0, std::memcmp(strided.data(), ref.data(), got.size() * sizeof(float)))
                << "strided " << format_name(f) << " m " << m << " j " << j << " on " << isa_name(isa);
          }
        }
      }
    }
  }
}

TEST(DeftGemm, ColumnsEqualTheGatheredRows) {
  // An FC layer after SVE reads the kept inputs S[r][columns[k]]: 1-2 rows through the list, more
  // rows (and bf16dot) gathered first; either way the reference on the gathered rows, bit for bit.
  const int64_t m = 75, depth = 50, k = 31;
  const auto w = random_values(m * k, 21, 0.2f), s = random_values(6 * depth, 22, 1.0f);
  const auto bias = random_values(m, 23, 0.5f);
  std::vector<int32_t> columns;
  for (int64_t q = 0; q < k; ++q) columns.push_back(static_cast<int32_t>((q * 7 + 3) % depth));  // distinct, unordered
  std::vector<float> gathered(6 * k);
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t q = 0; q < k; ++q) gathered[r * k + q] = s[r * depth + columns[q]];
  std::vector<Isa> isas = {Isa::kPortable};
  if (best_isa() == Isa::kAvx512) isas.push_back(Isa::kAvx512);
  for (Format f : gemm_formats()) {
    const PackedWeights p = pack_weights(f, w.data(), m, k, k);
    const Epilogue e{bias.data(), true};
    for (int64_t j : {1, 2, 6}) {
      std::vector<float> ref(j * m);
      gemm_reference(p, gathered.data(), j, k, ref.data(), m, e);
      for (Isa isa : isas)
        for (int threads : {1, 2}) {
          std::vector<float> got(j * m), scratch;
          gemm_columns(p, s.data(), j, depth, columns.data(), got.data(), m, scratch, e, isa, threads);
          EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)))
              << format_name(f) << " j " << j << " on " << isa_name(isa) << ", threads " << threads;
        }
    }
  }
}

TEST(DeftGemm, StridedOperandGivesTheSameBits) {
  // S stored K x J (a conv's im2col) read with row stride 1 and step stride J.
  // 2 rows: the row tiles; 17: the 6-row tiles and a tail.
  for (const int64_t j : {2, 17}) {
    const int64_t m = 40, k = 21;
    const auto w = random_values(m * k, 6, 0.2f), s = random_values(j * k, 7, 1.0f);
    std::vector<float> st(k * j);
    for (int64_t r = 0; r < j; ++r)
      for (int64_t kk = 0; kk < k; ++kk) st[kk * j + r] = s[r * k + kk];
    for (Format f : gemm_formats()) {
      const PackedWeights p = pack_weights(f, w.data(), m, k, k);
      std::vector<float> ref(j * m), got(j * m);
      gemm_reference(p, s.data(), j, k, ref.data(), m);
      gemm_strided(p, st.data(), j, 1, j, got.data(), m, {}, best_isa());  // kAuto: bf16dot on AMX, not bit-equal
      EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), got.size() * sizeof(float))) << format_name(f) << " j " << j;
    }
  }
}

TEST(DeftGemm, StridedBf16PairsAreEachValueRounded) {
  // K x J storage (a conv's im2col) packed as J rows of K/2 pairs: pair p of row r holds
  // to_bf16(S[2p][r]) low and to_bf16(S[2p+1][r]) high (0 past odd K), NaN quieted, ties to even,
  // denormals rounded as normals; 37 rows cross two blocks of 16 and a tail.
  const int64_t k = 5, j = 37;
  const float specials[] = {
      1.0f,  bits_to_float(0x3F808000), bits_to_float(0x3F818000), bits_to_float(0x7F800001), bits_to_float(0x007FFFFF),
      -0.0f, bits_to_float(0xFF800000)};
  std::vector<float> st(k * j);
  for (int64_t i = 0; i < k * j; ++i) st[i] = i % 3 ? specials[i % 7] : float(i) * 0.37f - 20.f;
  std::vector<uint32_t> got(j * 3);
  pack_bf16_pairs(st.data(), j, k, 1, j, got.data());
  for (int64_t r = 0; r < j; ++r)
    for (int64_t p = 0; p < 3; ++p) {
      const uint32_t lo = to_bf16(st[2 * p * j + r]), hi = 2 * p + 1 < k ? to_bf16(st[(2 * p + 1) * j + r]) : 0;
      EXPECT_EQ(got[r * 3 + p], lo | hi << 16) << "row " << r << " pair " << p;
    }
  std::vector<uint32_t> by_step(3 * j);
  pack_bf16_pairs_by_step(st.data(), j, k, j, by_step.data());
  for (int64_t r = 0; r < j; ++r)
    for (int64_t p = 0; p < 3; ++p) EXPECT_EQ(by_step[p * j + r], got[r * 3 + p]) << "row " << r << " pair " << p;
  EXPECT_EQ(to_bf16(bits_to_float(0x7F800001)), 0x7FC0);  // quiet NaN
  EXPECT_EQ(to_bf16(bits_to_float(0x007FFFFF)), 0x0080);  // the largest denormal rounds up to a normal
}

TEST(DeftGemm, FormatsStayWithinTheirErrorBound) {
  const int64_t m = 40, k = 300, j = 3;
  const auto w = random_values(m * k, 4, 0.05f), s = random_values(j * k, 5, 1.0f);
  std::vector<float> exact(j * m), got(j * m);
  gemm(pack_weights(Format::kFp32, w.data(), m, k, k), s.data(), j, k, exact.data(), m);
  // Relative error per weight (and bf16 activation): 2^-9 for Deft-16 and bf16, 2^-8 + the spilled
  // bits for Deft-16Q, 2^-4 for fp8 with 3 mantissa bits; the bound is that times sum |s w|.
  const std::pair<Format, double> bounds[] = {{Format::kDeft16, 1.0 / 256},
                                              {Format::kDeft16Q, 1.0 / 128},
                                              {Format::kBf16Dot, 1.0 / 128},
                                              {Format::kFp8, 1.0 / 8}};
  for (const auto& [f, rel] : bounds) {
    gemm(pack_weights(f, w.data(), m, k, k), s.data(), j, k, got.data(), m);
    for (int64_t r = 0; r < j; ++r)
      for (int64_t i = 0; i < m; ++i) {
        double mag = 0;
        for (int64_t kk = 0; kk < k; ++kk) mag += std::fabs(s[r * k + kk] * w[i * k + kk]);
        EXPECT_LE(std::fabs(got[r * m + i] - exact[r * m + i]), rel * mag) << format_name(f);
      }
  }
}

}  // namespace eff::deft
