#include <gtest/gtest.h>

#include "core/tensor.h"

namespace eff {

TEST(Tensor, RefusesHugeShapeBeforeAllocating) {
  EXPECT_THROW(Tensor(DType::kFloat32, {1000000, 1000000}), ShapeError);
  EXPECT_THROW(shape_numel({-1, 3}), ShapeError);
  EXPECT_THROW(shape_numel({int64_t{1} << 40, int64_t{1} << 40}), ShapeError);
}

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v = t.reshaped({3, 2});
  v.data<float>()[0] = 42;
  EXPECT_EQ(t.data<float>()[0], 42);
  EXPECT_THROW(t.reshaped({4, 2}), ShapeError);
}

TEST(Tensor, HalfConversionRoundTripsKnownValues) {
  // 0x3c00 = 1.0, 0xc000 = -2.0, 0x7bff = 65504 (max half), 0x0001 = 2^-24 (smallest subnormal).
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), 5.9604644775390625e-08f);
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);  // overflow to +inf
  EXPECT_EQ(float_to_half(5.9604644775390625e-08f), 0x0001);
  // 1 + 2^-11 is halfway between 1.0 and the next half (1 + 2^-10): ties to even -> 1.0.
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);
}

TEST(Tensor, CastConvertsTypes) {
  Tensor t = Tensor::from<float>({3}, {1.7f, -2.2f, 0.0f});
  Tensor i = t.cast(DType::kInt64);
  EXPECT_EQ(i.data<int64_t>()[0], 1);
  EXPECT_EQ(i.data<int64_t>()[1], -2);
  EXPECT_THROW(t.data<int32_t>(), ShapeError);
}

}  // namespace eff
