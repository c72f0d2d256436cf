// Guards against a compiler bug rather than our code: GCC 12.2 built {4, 4, 4, 4, 0, 0, 0, 0} as
// eight 4s when it could use 512-bit vectors (CMakeLists.txt sets -mprefer-vector-width=256). The
// KL clipping test failed with it on an AVX-512 EPYC; these name the cause when it comes back.
#include <gtest/gtest.h>

#include <vector>

namespace {

// Sums with distinct weights, so a wrong element anywhere changes the result.
template <typename T>
double weighted_sum(const std::vector<T>& v) {
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += static_cast<double>(v[i]) * static_cast<double>(i + 1);
  return s;
}

__attribute__((noinline)) std::vector<double> doubles_half_zero() {
  return {4, 4, 4, 4, 0, 0, 0, 0};
}
__attribute__((noinline)) std::vector<float> floats_half_zero() {
  return {4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0};
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// The same constant inside a region built for AVX-512, as the kernel files' regions are.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl")
__attribute__((noinline)) std::vector<double> doubles_half_zero_avx512() {
  return {4, 4, 4, 4, 0, 0, 0, 0};
}
#pragma GCC pop_options
#endif

TEST(Toolchain, VectorConstantsWithAZeroUpperHalfKeepTheirValues) {
  EXPECT_EQ(weighted_sum(doubles_half_zero()), 4.0 * (1 + 2 + 3 + 4));
  EXPECT_EQ(weighted_sum(floats_half_zero()), 4.0 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8));
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    EXPECT_EQ(weighted_sum(doubles_half_zero_avx512()), 4.0 * (1 + 2 + 3 + 4));
  }
#endif
}

}  // namespace
