// The AMX-BF16 direct conv (deft/conv_amx.h) against a double-precision conv written out here:
// (1) on the bf16-rounded weights and activations, within fp32 accumulation's worst-case bound
// (catches any wrong index, tap or padding: those are O(1) errors); (2) on the fp32 operands, within
// bf16's bound for the rounded operands (2^-8 relative per product). Shapes cover channel and
// filter tails (C = 1, 3, 40; M = 5, 48), padding on one side only, dilation, bias + ReLU, dropped
// synapses (SVE) and 1 vs 2 threads bit for bit. Skipped where the CPU or kernel lacks AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "deft/conv_amx.h"
#include "deft/formats.h"

namespace eff::deft {

namespace {

struct Case {
  int64_t m, c, h, w, kh, kw, pt, pl, pb, pr, dh, dw;
};

float round_bf16(float x) {
  return from_deft16(to_bf16(x));
}

void check(const Case& k, bool relu, bool drop_some, int threads_a = 1, int threads_b = 1) {
  std::mt19937 rng(static_cast<uint32_t>(k.m * 131 + k.c * 7 + k.h));
  std::normal_distribution<float> d(0.f, 1.f);
  ConvShape s;
  s.c = k.c, s.h = k.h, s.w = k.w, s.kh = k.kh, s.kw = k.kw, s.pad_top = k.pt, s.pad_left = k.pl, s.dh = k.dh,
  s.dw = k.dw;
  s.oh = k.h + k.pt + k.pb - (k.kh - 1) * k.dh;
  s.ow = k.w + k.pl + k.pr - (k.kw - 1) * k.dw;
  const int64_t taps = k.kh * k.kw, depth = k.c * taps;
  std::vector<int32_t> syn;
  for (int64_t q = 0; q < depth; ++q)
    if (!drop_some || q % 5 != 2) syn.push_back(static_cast<int32_t>(q));
  const int64_t kept = static_cast<int64_t>(syn.size());
  std::vector<float> w(k.m * kept), x(k.c * k.h * k.w), bias(k.m);
  for (float& v : w) v = d(rng);
  for (float& v : x) v = d(rng);
  for (float& v : bias) v = d(rng);
  x[0] = 0.f;  // an exact zero and a value that rounds in bf16
  x[1] = 1.0f + 1.0f / 1024;
  const AmxConvWeights p = amx_pack_conv(w.data(), k.m, syn, k.c, k.kh, k.kw);
  const Epilogue e{bias.data(), relu};
  std::vector<float> y(k.m * s.pixels()), y2(y.size());
  AmxConvScratch scratch, scratch2;
  amx_conv(p, x.data(), s, k.pb, k.pr, e, y.data(), scratch, threads_a);
  amx_conv(p, x.data(), s, k.pb, k.pr, e, y2.data(), scratch2, threads_b);
  // A second image through the same scratch: the zero borders must survive.
  amx_conv(p, x.data(), s, k.pb, k.pr, e, y2.data(), scratch2, threads_b);
  int bad = 0;
  for (int64_t f = 0; f < k.m; ++f)
    for (int64_t oy = 0; oy < s.oh; ++oy)
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        double exact = bias[f], rounded = bias[f], magnitude = std::fabs(bias[f]);
        int64_t terms = 1;
        for (int64_t q = 0; q < kept; ++q) {
          const int64_t ch = syn[q] / taps, t = syn[q] % taps;
          const int64_t iy = oy + (t / k.kw) * k.dh - k.pt, ix = ox + (t % k.kw) * k.dw - k.pl;
          if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
          const float xv = x[(ch * k.h + iy) * k.w + ix], wv = w[f * kept + q];
          exact += double(xv) * wv;
          rounded += double(round_bf16(xv)) * round_bf16(wv);
          magnitude += std::fabs(double(xv) * wv);
          ++terms;
        }
        if (relu) exact = std::max(exact, 0.0), rounded = std::max(rounded, 0.0);
        const size_t at = static_cast<size_t>((f * s.oh + oy) * s.ow + ox);
        const double got = y[at];
        const double accumulation = double(terms + 1) * std::ldexp(magnitude, -24);
        const bool off_rounded = std::fabs(got - rounded) > accumulation;
        const bool off_exact = std::fabs(got - exact) > std::ldexp(magnitude, -7) + accumulation;
        if ((off_rounded || off_exact || y[at] != y2[at]) && bad++ == 0)
          ADD_FAILURE() << "filter " << f << " pixel (" << oy << "," << ox << "): got " << got << " (other threads "
                        << y2[at] << "), bf16 operands " << rounded << ", fp32 " << exact;
      }
  EXPECT_EQ(bad, 0);
}

}  // namespace

TEST(DeftConvAmx, MatchesTheConvWithinBf16Bounds) {
  if (!amx_available()) GTEST_SKIP() << "no AMX-BF16 (or the kernel refused the tile state)";
  check({32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1}, false, false);  // vgg-like, one block of filters
  check({5, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1}, true, false);     // first layer: C = 1, M tail
  check({48, 3, 9, 11, 3, 3, 0, 2, 1, 0, 1, 1}, true, false);     // uneven padding, odd sizes
  check({48, 40, 7, 7, 3, 3, 2, 2, 2, 2, 2, 2}, false, false);    // dilation 2, channel tail
  check({16, 40, 6, 5, 1, 1, 0, 0, 0, 0, 1, 1}, true, false);     // 1x1
  check({32, 33, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1}, true, true);      // SVE-dropped synapses are 0
}

TEST(DeftConvAmx, SameOnOneAndTwoThreads) {
  if (!amx_available()) GTEST_SKIP() << "no AMX-BF16 (or the kernel refused the tile state)";
  check({64, 64, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1}, true, false, 1, 2);  // 62 MFLOP: a team of two
}

TEST(DeftConvAmx, FitsOnlyStrideOne) {
  ConvShape s;
  EXPECT_TRUE(amx_conv_fits(s));
  s.sw = 2;
  EXPECT_FALSE(amx_conv_fits(s));
}

}  // namespace eff::deft
