// Shared by the int8 tests: inputs, layout conversions, bit comparison and the pooling reference.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "deft/int8_layer.h"

namespace eff::deft::int8_test {

inline std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// NCHW <-> nChw16c (channels padded with zeros), one batch.
inline std::vector<float> blocked_of(const std::vector<float>& plain, int64_t n, int64_t c, int64_t pixels) {
  const int64_t cb = (c + 15) / 16;
  std::vector<float> b(static_cast<size_t>(n * cb * 16 * pixels), 0.f);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < pixels; ++p)
        b[((i * cb + ch / 16) * pixels + p) * 16 + ch % 16] = plain[(i * c + ch) * pixels + p];
  return b;
}
inline std::vector<float> plain_of(const std::vector<float>& blocked, int64_t n, int64_t c, int64_t pixels) {
  const int64_t cb = (c + 15) / 16;
  std::vector<float> p(static_cast<size_t>(n * c * pixels));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t q = 0; q < pixels; ++q)
        p[(i * c + ch) * pixels + q] = blocked[((i * cb + ch / 16) * pixels + q) * 16 + ch % 16];
  return p;
}

// Whether the channels a blocked tensor (n images, c channels, `pixels` a channel) pads its last
// block with hold 0.
inline bool padded_channels_zero(const std::vector<float>& blocked, int64_t n, int64_t c, int64_t pixels) {
  const int64_t cb = (c + 15) / 16;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = c; ch < cb * 16; ++ch)
      for (int64_t p = 0; p < pixels; ++p)
        if (blocked[((i * cb + ch / 16) * pixels + p) * 16 + ch % 16] != 0.f) return false;
  return true;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A conv run twice, conv(y, ActLayout::kPlain) and conv(y, ActLayout::kBlocked) (n images, m
// output channels of `pixels` each), checked against `ref` (NCHW) bit for bit, the blocked
// output's padded channels 0. `what` names the case in a failure.
template <class Conv>
void expect_both_layouts(const Conv& conv, const std::vector<float>& ref, int64_t n, int64_t m, int64_t pixels,
                         const std::string& what) {
  std::vector<float> yp(ref.size(), -7.f);
  conv(yp.data(), ActLayout::kPlain);
  EXPECT_TRUE(same_bits(yp, ref)) << "plain out, " << what;
  std::vector<float> yb(static_cast<size_t>(n * (m + 15) / 16 * 16 * pixels), -7.f);
  conv(yb.data(), ActLayout::kBlocked);
  EXPECT_TRUE(same_bits(plain_of(yb, n, m, pixels), ref)) << "blocked out, " << what;
  EXPECT_TRUE(padded_channels_zero(yb, n, m, pixels)) << what;
}

// A 2 x 2, stride 2 MaxPool of NCHW planes (floor), rows first: max(max(a, c), max(b, d)) with
// x > y ? x : y, as conv_small's fused pool.
inline std::vector<float> pool_of(const std::vector<float>& y, int64_t planes, int64_t oh, int64_t ow) {
  const int64_t ph = oh / 2, pw = ow / 2;
  auto mx = [](float a, float b) { return a > b ? a : b; };
  std::vector<float> out(static_cast<size_t>(planes * ph * pw));
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < ph; ++r)
      for (int64_t c = 0; c < pw; ++c) {
        const float* at = y.data() + p * oh * ow + 2 * r * ow + 2 * c;
        out[(p * ph + r) * pw + c] = mx(mx(at[0], at[ow]), mx(at[1], at[ow + 1]));
      }
  return out;
}

}  // namespace eff::deft::int8_test
