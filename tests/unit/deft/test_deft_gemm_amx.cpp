// The bf16dot GEMM on the AMX tile unit (deft/gemm_amx.cpp) against a double-precision GEMM written
// out here: (1) on the bf16-rounded weights and activations, within fp32 accumulation's worst-case
// bound (a wrong index, tail or padding is an O(1) error); (2) on the fp32 operands, within bf16's
// rounding of both operands (2^-8 relative each). Shapes cover batch 1 (one-row tiles), batch 13,
// 32 and 45 (row tiles padded), output tails (M = 5, 45, 100), K tails (odd K, K % 32 != 0) and a
// K of whole chunks; bias + ReLU; strided activations (a conv's im2col); 1 vs 2 threads bit for bit.
// Skipped where the CPU or the kernel lacks AMX.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "deft/conv_amx.h"
#include "deft/formats.h"
#include "deft/gemm.h"

namespace eff::deft {

namespace {

float round_bf16(float x) {
  return from_deft16(to_bf16(x));
}

// C = S W^T + bias through gemm(), S read with (row_stride, step_stride).
void check(int64_t m, int64_t k, int64_t j, bool relu, bool strided, int threads_a = 1, int threads_b = 1) {
  std::mt19937 rng(static_cast<uint32_t>(m * 1009 + k * 31 + j));
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> w(m * k), s(j * k), bias(m);
  for (float& v : w) v = d(rng);
  for (float& v : s) v = d(rng);
  for (float& v : bias) v = d(rng);
  s[0] = 0.f;                       // an exact zero
  s[1] = 1.0f + 1.0f / 1024;        // rounds in bf16
  std::vector<float> st(s.size());  // K x J, as a conv's im2col
  for (int64_t r = 0; r < j; ++r)
    for (int64_t q = 0; q < k; ++q) st[q * j + r] = s[r * k + q];
  const PackedWeights p = pack_weights(Format::kBf16Dot, w.data(), m, k, k);
  const Epilogue e{bias.data(), relu};
  const int64_t ldc = m + 3;  // the columns past M must stay untouched
  std::vector<float> c(j * ldc, 7.f), c2(c.size(), 7.f);
  if (strided) {
    gemm_strided(p, st.data(), j, 1, j, c.data(), ldc, e, Isa::kAmx, threads_a);
    gemm_strided(p, st.data(), j, 1, j, c2.data(), ldc, e, Isa::kAmx, threads_b);
  } else {
    gemm(p, s.data(), j, k, c.data(), ldc, e, Isa::kAmx, threads_a);
    gemm(p, s.data(), j, k, c2.data(), ldc, e, Isa::kAmx, threads_b);
  }
  int bad = 0;
  for (int64_t r = 0; r < j; ++r)
    for (int64_t i = 0; i < ldc; ++i) {
      const size_t at = static_cast<size_t>(r * ldc + i);
      if (i >= m) {
        if ((c[at] != 7.f || c2[at] != 7.f) && bad++ == 0)
          ADD_FAILURE() << "row " << r << " column " << i << " written";
        continue;
      }
      double exact = bias[i], rounded = bias[i], magnitude = std::fabs(bias[i]);
      for (int64_t q = 0; q < k; ++q) {
        const float sv = s[r * k + q], wv = w[i * k + q];
        exact += double(sv) * wv;
        rounded += double(round_bf16(sv)) * round_bf16(wv);
        magnitude += std::fabs(double(sv) * wv);
      }
      if (relu) exact = std::max(exact, 0.0), rounded = std::max(rounded, 0.0);
      const double got = c[at], accumulation = double(k + 2) * std::ldexp(magnitude, -24);
      const bool off_rounded = std::fabs(got - rounded) > accumulation;
      const bool off_exact = std::fabs(got - exact) > std::ldexp(magnitude, -7) + accumulation;
      if ((off_rounded || off_exact || std::memcmp(&c[at], &c2[at], 4) != 0) && bad++ == 0)
        ADD_FAILURE() << "m " << m << " k " << k << " j " << j << ": row " << r << " output " << i << ": got " << got
                      << " (other threads " << c2[at] << "), bf16 operands " << rounded << ", fp32 " << exact;
    }
  EXPECT_EQ(bad, 0) << "m " << m << " k " << k << " j " << j;
}

}  // namespace

TEST(DeftGemmAmx, MatchesTheGemmWithinBf16Bounds) {
  if (!amx_available()) GTEST_SKIP() << "no AMX-BF16 (or the kernel refused the tile state)";
  EXPECT_EQ(isa_for(Format::kBf16Dot), Isa::kAmx);
  EXPECT_EQ(isa_for(Format::kFp8, Isa::kAmx), best_isa());  // only bf16dot runs on the tiles
  check(45, 37, 1, true, false);                            // batch 1: one-row tiles; K tail (19 pairs = 16 + 3)
  check(5, 64, 13, false, false);                           // whole chunks of K (32 pairs), one output tile, few rows
  check(100, 300, 32, true, false);                         // two row tiles, a partial third panel
  check(64, 1153, 45, false, false);                        // padded second row block, odd K
  check(40, 21, 17, true, true);  // strided (K x J) activations, as the im2col convs read them
}

TEST(DeftGemmAmx, SameOnOneAndTwoThreads) {
  if (!amx_available()) GTEST_SKIP() << "no AMX-BF16 (or the kernel refused the tile state)";
  check(256, 1152, 32, true, false, 1, 2);  // vgg classifier.2 at batch 32: 19 MFLOP, a team of two
}

}  // namespace eff::deft
