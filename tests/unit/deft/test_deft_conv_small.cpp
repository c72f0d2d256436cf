// The small-channel direct conv (deft/conv_small.h) against the kernel family's scalar definition,
// gemm_reference() on the layer's im2row rows (written out independently of the conv's plane
// layout): bit for bit, for every format, on the AVX-512 and the portable kernel, 1 and 2 threads,
// whole batches vs image by image. Shapes: lenet5's conv1 / conv2, the 1-channel 3x3 first layers,
// uneven padding, dilation, filter tails (M = 1, 6, 13), odd K (the bf16 pair's zero half) and
// dropped synapses (SVE); the fused 2 x 2 MaxPool against the max of the reference's windows (odd
// output sizes: the last row / column dropped); a fused residual shortcut against the reference's
// sum plus the shortcut, then the ReLU.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "deft/conv_small.h"
#include "deft/gemm.h"

namespace eff::deft {

namespace {

struct Case {
  int64_t m, c, h, w, kh, kw, pt, pl, pb, pr, dh = 1, dw = 1, n = 1;
};

void check(const Case& k, Format f, bool relu, bool drop_some) {
  std::mt19937 rng(static_cast<uint32_t>(k.m * 131 + k.c * 7 + k.h + static_cast<int>(f)));
  std::normal_distribution<float> d(0.f, 1.f);
  ConvShape s;
  s.c = k.c, s.h = k.h, s.w = k.w, s.kh = k.kh, s.kw = k.kw, s.pad_top = k.pt, s.pad_left = k.pl, s.dh = k.dh,
  s.dw = k.dw;
  s.oh = k.h + k.pt + k.pb - (k.kh - 1) * k.dh;
  s.ow = k.w + k.pl + k.pr - (k.kw - 1) * k.dw;
  ASSERT_TRUE(small_conv_fits(s));
  const int64_t depth = k.c * k.kh * k.kw;
  std::vector<int32_t> syn;
  for (int64_t q = 0; q < depth; ++q)
    if (!drop_some || q % 4 != 1) syn.push_back(static_cast<int32_t>(q));
  const int64_t kept = static_cast<int64_t>(syn.size()), pixels = s.pixels();
  const int64_t in_len = k.c * k.h * k.w, out_len = k.m * pixels;
  std::vector<float> w(k.m * kept), x(k.n * in_len), bias(k.m);
  for (float& v : w) v = d(rng);
  for (float& v : x) v = d(rng);
  for (float& v : bias) v = d(rng);
  x[0] = 0.f;
  x[1] = -0.f;
  const PackedWeights p = pack_weights(f, w.data(), k.m, kept, kept);
  const SmallConvWeights sw = small_pack_conv(p, syn, k.kh, k.kw);
  const Epilogue e{bias.data(), relu};
  // The reference: im2row (pixels x kept) of each image, then the scalar GEMM.
  std::vector<float> want(k.n * out_len), rows(pixels * kept), c(pixels * k.m);
  for (int64_t i = 0; i < k.n; ++i) {
    im2row(x.data() + i * in_len, s, syn, 0, pixels, rows.data(), kept);
    gemm_reference(p, rows.data(), pixels, kept, c.data(), k.m, e);
    for (int64_t pix = 0; pix < pixels; ++pix)
      for (int64_t f2 = 0; f2 < k.m; ++f2) want[i * out_len + f2 * pixels + pix] = c[pix * k.m + f2];
  }
  // The same with a shortcut added after the bias (reference without its ReLU), then the ReLU.
  std::vector<float> shortcut(want.size()), with_shortcut(want.size());
  for (float& v : shortcut) v = d(rng);
  const Epilogue bias_only{bias.data(), false};
  for (int64_t i = 0; i < k.n; ++i) {
    im2row(x.data() + i * in_len, s, syn, 0, pixels, rows.data(), kept);
    gemm_reference(p, rows.data(), pixels, kept, c.data(), k.m, bias_only);
    for (int64_t pix = 0; pix < pixels; ++pix)
      for (int64_t f2 = 0; f2 < k.m; ++f2) {
        const int64_t at = i * out_len + f2 * pixels + pix;
        const float sum = c[pix * k.m + f2] + shortcut[at];
        with_shortcut[at] = relu ? (sum > 0.f ? sum : 0.f) : sum;
      }
  }
  std::vector<Isa> isas{Isa::kPortable};
  if (best_isa() == Isa::kAvx512) isas.push_back(Isa::kAvx512);
  SmallConvScratch planes;
  for (Isa isa : isas)
    for (int threads : {1, 2}) {
      std::vector<float> y(want.size(), 7.f);
      small_conv(sw, x.data(), k.n, s, k.pb, k.pr, e, y.data(), planes, isa, threads);
      EXPECT_EQ(0, std::memcmp(y.data(), want.data(), y.size() * sizeof(float)))
          << format_name(f) << " " << isa_name(isa) << " threads " << threads << " m " << k.m << " c " << k.c;
      // Image by image through the same scratch.
      std::vector<float> y1(want.size(), 7.f);
      for (int64_t i = 0; i < k.n; ++i)
        small_conv(sw, x.data() + i * in_len, 1, s, k.pb, k.pr, e, y1.data() + i * out_len, planes, isa, threads);
      EXPECT_EQ(0, std::memcmp(y1.data(), want.data(), y1.size() * sizeof(float)));
      // The fused 2 x 2 MaxPool: the max of each window of the reference output (floor: an odd
      // last row / column is dropped).
      const int64_t ph = s.oh / 2, pw = s.ow / 2;
      std::vector<float> pooled(k.n * k.m * ph * pw), yp(pooled.size(), 7.f);
      auto mx = [](float a, float b) { return a > b ? a : b; };
      for (int64_t i = 0; i < k.n * k.m; ++i)
        for (int64_t py = 0; py < ph; ++py)
          for (int64_t px = 0; px < pw; ++px) {
            const float* at = want.data() + i * pixels + 2 * py * s.ow + 2 * px;
            pooled[(i * ph + py) * pw + px] = mx(mx(at[0], at[s.ow]), mx(at[1], at[s.ow + 1]));
          }
      small_conv(sw, x.data(), k.n, s, k.pb, k.pr, e, yp.data(), planes, isa, threads, true);
      EXPECT_EQ(0, std::memcmp(yp.data(), pooled.data(), yp.size() * sizeof(float)))
          << "pooled " << format_name(f) << " " << isa_name(isa) << " m " << k.m << " c " << k.c;
      // A fused residual: (conv + bias) + shortcut, then the ReLU, as the unfused Add and Relu nodes.
      std::vector<float> yr(want.size(), 7.f);
      small_conv(sw, x.data(), k.n, s, k.pb, k.pr, Epilogue{bias.data(), relu, shortcut.data()}, yr.data(), planes, isa,
                 threads);
      EXPECT_EQ(0, std::memcmp(yr.data(), with_shortcut.data(), yr.size() * sizeof(float)))
          << "residual " << format_name(f) << " " << isa_name(isa) << " m " << k.m << " c " << k.c;
    }
}

const Case kCases[] = {
    {6, 1, 28, 28, 5, 5, 2, 2, 2, 2},            // lenet5 conv1
    {16, 6, 14, 14, 5, 5, 0, 0, 0, 0, 1, 1, 3},  // lenet5 conv2, a batch of 3
    {32, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 2},  // vgg / resnet first layer
    {13, 3, 9, 17, 3, 2, 2, 0, 1, 3},            // uneven padding, filter tail, odd K
    {1, 2, 11, 7, 3, 3, 2, 2, 2, 2, 2, 1},       // dilation 2 x 1, one filter
    {20, 2, 9, 31, 3, 3, 1, 1, 1, 1, 1, 1, 2},   // 16 + 4 filters in the lanes, odd rows, long rows
};

}  // namespace

TEST(DeftConvSmall, EqualsTheScalarReferenceBitForBit) {
  for (const Case& k : kCases)
    for (Format f : gemm_formats()) {
      check(k, f, true, false);
      check(k, f, false, true);
    }
}

TEST(DeftConvSmall, FitsOnlyStrideOneFewChannels) {
  ConvShape s;
  s.c = 1;
  EXPECT_TRUE(small_conv_fits(s));
  s.c = kSmallConvChannels + 1;
  EXPECT_FALSE(small_conv_fits(s));
  s.c = 3;
  s.sh = 2;
  EXPECT_FALSE(small_conv_fits(s));
}

}  // namespace eff::deft
