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
  int64_t sh = 1, sw = 1, n = 1;  // strides, images in the batch
};

float round_bf16(float x) {
  return from_deft16(to_bf16(x));
}

void check(const Case& k, bool relu, bool drop_some, int threads_a = 1, int threads_b = 1) {
  std::mt19937 rng(static_cast<uint32_t>(k.m * 131 + k.c * 7 + k.h));
  std::normal_distribution<float> d(0.f, 1.f);
  ConvShape s;
  s.c = k.c, s.h = k.h, s.w = k.w, s.kh = k.kh, s.kw = k.kw, s.pad_top = k.pt, s.pad_left = k.pl, s.dh = k.dh,
  s.dw = k.dw, s.sh = k.sh, s.sw = k.sw;
  s.oh = (k.h + k.pt + k.pb - (k.kh - 1) * k.dh - 1) / k.sh + 1;
  s.ow = (k.w + k.pl + k.pr - (k.kw - 1) * k.dw - 1) / k.sw + 1;
  const int64_t taps = k.kh * k.kw, depth = k.c * taps;
  std::vector<int32_t> syn;
  for (int64_t q = 0; q < depth; ++q)
    if (!drop_some || q % 5 != 2) syn.push_back(static_cast<int32_t>(q));
  const int64_t kept = static_cast<int64_t>(syn.size());
  const int64_t in_len = k.c * k.h * k.w, out_len = k.m * s.pixels();
  std::vector<float> w(k.m * kept), x(k.n * in_len), bias(k.m);
  for (float& v : w) v = d(rng);
  for (float& v : x) v = d(rng);
  for (float& v : bias) v = d(rng);
  x[0] = 0.f;  // an exact zero and a value that rounds in bf16
  x[1] = 1.0f + 1.0f / 1024;
  const AmxConvWeights p = amx_pack_conv(w.data(), k.m, syn, k.c, k.kh, k.kw);
  const Epilogue e{bias.data(), relu};
  std::vector<float> y(k.n * out_len), y2(y.size()), y1(y.size());
  AmxConvScratch scratch, scratch2, scratch1;
  amx_conv(p, x.data(), k.n, s, k.pb, k.pr, e, y.data(), scratch, threads_a);
  amx_conv(p, x.data(), k.n, s, k.pb, k.pr, e, y2.data(), scratch2, threads_b);
  // A second batch through the same scratch: the zero borders must survive.
  amx_conv(p, x.data(), k.n, s, k.pb, k.pr, e, y2.data(), scratch2, threads_b);
  // Each image alone gives what it gives in the batch, bit for bit.
  for (int64_t i = 0; i < k.n; ++i)
    amx_conv(p, x.data() + i * in_len, 1, s, k.pb, k.pr, e, y1.data() + i * out_len, scratch1, threads_a);
  int bad = 0;
  for (int64_t i = 0; i < k.n; ++i)
    for (int64_t f = 0; f < k.m; ++f)
      for (int64_t oy = 0; oy < s.oh; ++oy)
        for (int64_t ox = 0; ox < s.ow; ++ox) {
          double exact = bias[f], rounded = bias[f], magnitude = std::fabs(bias[f]);
          int64_t terms = 1;
          for (int64_t q = 0; q < kept; ++q) {
            const int64_t ch = syn[q] / taps, t = syn[q] % taps;
            const int64_t iy = oy * k.sh + (t / k.kw) * k.dh - k.pt, ix = ox * k.sw + (t % k.kw) * k.dw - k.pl;
            if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
            const float xv = x[i * in_len + (ch * k.h + iy) * k.w + ix], wv = w[f * kept + q];
            exact += double(xv) * wv;
            rounded += double(round_bf16(xv)) * round_bf16(wv);
            magnitude += std::fabs(double(xv) * wv);
            ++terms;
          }
          if (relu) exact = std::max(exact, 0.0), rounded = std::max(rounded, 0.0);
          const size_t at = static_cast<size_t>(i * out_len + (f * s.oh + oy) * s.ow + ox);
          const double got = y[at];
          const double accumulation = double(terms + 1) * std::ldexp(magnitude, -24);
          const bool off_rounded = std::fabs(got - rounded) > accumulation;
          const bool off_exact = std::fabs(got - exact) > std::ldexp(magnitude, -7) + accumulation;
          if ((off_rounded || off_exact || y[at] != y2[at] || y[at] != y1[at]) && bad++ == 0)
            ADD_FAILURE() << "image " << i << " filter " << f << " pixel (" << oy << "," << ox << "): got " << got
                          << " (other threads " << y2[at] << ", alone " << y1[at] << "), bf16 operands " << rounded
                          << ", fp32 " << exact;
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
  check({64, 64, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1}, true, false, 1, 2);           // 62 MFLOP: a team of two
  check({64, 32, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8}, true, false, 1, 2);  // 8 images: tasks across the batch
}

TEST(DeftConvAmx, StridedConvsMatchTheConv) {
  if (!amx_available()) GTEST_SKIP() << "no AMX-BF16 (or the kernel refused the tile state)";
  check({32, 16, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2}, true, false);   // resnet's stride-2 3x3
  check({48, 16, 28, 28, 1, 1, 0, 0, 0, 0, 1, 1, 2, 2}, false, false);  // its 1x1 stride-2 shortcut
  check({5, 3, 9, 12, 3, 3, 0, 1, 2, 0, 1, 1, 2, 2}, true, false);      // odd sizes, uneven padding, tails
  check({16, 33, 11, 10, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2}, false, false);  // dilation 2 with stride 2
  check({16, 8, 10, 13, 3, 3, 1, 1, 1, 1, 1, 1, 3, 2}, true, true);     // stride 3 x 2, SVE drops
}

TEST(DeftConvAmx, BatchSameAsImageByImage) {
  if (!amx_available()) GTEST_SKIP() << "no AMX-BF16 (or the kernel refused the tile state)";
  check({48, 20, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3}, true, false);
  check({32, 32, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 4}, false, false, 1, 2);  // strided batch, two threads
  // ~120 KiB of planes per image: the batch goes in chunks of 4 images (4 + 1 here).
  check({32, 64, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5}, true, false, 1, 2);
}

TEST(DeftConvAmx, FitsAnyStride) {
  ConvShape s;
  EXPECT_TRUE(amx_conv_fits(s));
  s.sw = 2;
  EXPECT_TRUE(amx_conv_fits(s));
}

}  // namespace eff::deft
