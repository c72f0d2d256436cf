// Dense tensors: a dtype, a shape and shared storage (64-byte aligned when allocated here; large
// model weights share the parsed file's bytes, 16-byte aligned).
// Views (reshape) share storage; clone() copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace eff {

enum class DType : uint8_t { kFloat32, kFloat16, kFloat64, kInt64, kInt32, kInt16, kInt8, kUInt8, kBool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtype_of<int16_t>() {
  return DType::kInt16;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[1, 3, 224, 224]"

// Number of elements; throws ShapeError on negative dims or overflow.
int64_t shape_numel(const Shape& s);

// Largest tensor the engine will allocate (bytes). Input files that claim more are refused
// before any allocation. Adjustable for users with huge models.
size_t max_tensor_bytes();
void set_max_tensor_bytes(size_t bytes);

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-initialised storage. Throws ShapeError past max_tensor_bytes().
  Tensor(DType dtype, Shape shape);
  // Shares storage of at least `capacity` bytes: a buffer from aligned_alloc_bytes() (the buffer
  // pool), or bytes another owner keeps alive (model weights shared with the parsed file).
  Tensor(DType dtype, Shape shape, std::shared_ptr<std::byte[]> storage, size_t capacity);

  template <class T>
  static Tensor from(Shape shape, const std::vector<T>& values);
  template <class T>
  static Tensor scalar(T v) {
    return from<T>({}, {v});
  }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  size_t capacity() const { return capacity_; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <class T>
  T* data() {
    check_type(dtype_of<T>());
    return reinterpret_cast<T*>(storage_.get());
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>());
    return reinterpret_cast<const T*>(storage_.get());
  }
  // Reads element i converted to double / int64 whatever the dtype (for small shape tensors).
  double get_f64(int64_t i) const;
  int64_t get_i64(int64_t i) const;
  std::vector<int64_t> to_i64_vector() const;
  std::vector<float> to_f32_vector() const;

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  Tensor clone() const;
  // Converts element type (float16 <-> float32, ints, bool) into a new tensor.
  Tensor cast(DType to) const;

  const std::shared_ptr<std::byte[]>& storage() const { return storage_; }

 private:
  void check_type(DType want) const;

  DType dtype_ = DType::kFloat32;
  Shape shape_;
  int64_t numel_ = 0;
  size_t capacity_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

std::shared_ptr<std::byte[]> aligned_alloc_bytes(size_t bytes);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

template <class T>
Tensor Tensor::from(Shape shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), std::move(shape));
  if (static_cast<int64_t>(values.size()) != t.numel()) {
    fail<ShapeError>("Tensor::from: {} values for shape {}", values.size(), shape_str(t.shape()));
  }
  T* d = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) d[i] = values[i];
  return t;
}

}  // namespace eff
