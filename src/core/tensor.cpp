#include "core/tensor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace eff {

namespace {
std::atomic<size_t> g_max_tensor_bytes{size_t{8} << 30};  // 8 GiB
}

size_t max_tensor_bytes() {
  return g_max_tensor_bytes.load();
}
void set_max_tensor_bytes(size_t bytes) {
  g_max_tensor_bytes.store(bytes);
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32:
      return 4;
    case DType::kFloat16:
      return 2;
    case DType::kFloat64:
      return 8;
    case DType::kInt64:
      return 8;
    case DType::kInt32:
      return 4;
    case DType::kInt16:
      return 2;
    case DType::kInt8:
      return 1;
    case DType::kUInt8:
      return 1;
    case DType::kBool:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kInt16:
      return "int16";
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) fail<ShapeError>("shape {} has a negative dimension", shape_str(s));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      fail<ShapeError>("shape {} has too many elements", shape_str(s));
    }
    n *= d;
  }
  return n;
}

std::shared_ptr<std::byte[]> aligned_alloc_bytes(size_t bytes) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) fail<ShapeError>("out of memory allocating {} bytes", bytes);
  std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  if (static_cast<size_t>(numel_) > max_tensor_bytes() / dtype_size(dtype_)) {
    fail<ShapeError>("tensor of shape {} ({}) exceeds the {} byte limit", shape_str(shape_), dtype_name(dtype_),
                     max_tensor_bytes());
  }
  capacity_ = nbytes();
  storage_ = aligned_alloc_bytes(capacity_);
}

Tensor::Tensor(DType dtype, Shape shape, std::shared_ptr<std::byte[]> storage, size_t capacity)
    : dtype_(dtype), shape_(std::move(shape)), capacity_(capacity), storage_(std::move(storage)) {
  numel_ = shape_numel(shape_);
  EFF_ASSERT(nbytes() <= capacity_);
}

void Tensor::check_type(DType want) const {
  if (want != dtype_) {
    fail<ShapeError>("tensor of type {} accessed as {}", dtype_name(dtype_), dtype_name(want));
  }
}

double Tensor::get_f64(int64_t i) const {
  const std::byte* p = storage_.get();
  switch (dtype_) {
    case DType::kFloat32:
      return reinterpret_cast<const float*>(p)[i];
    case DType::kFloat16:
      return half_to_float(reinterpret_cast<const uint16_t*>(p)[i]);
    case DType::kFloat64:
      return reinterpret_cast<const double*>(p)[i];
    case DType::kInt64:
      return static_cast<double>(reinterpret_cast<const int64_t*>(p)[i]);
    case DType::kInt32:
      return reinterpret_cast<const int32_t*>(p)[i];
    case DType::kInt16:
      return reinterpret_cast<const int16_t*>(p)[i];
    case DType::kInt8:
      return reinterpret_cast<const int8_t*>(p)[i];
    case DType::kUInt8:
      return reinterpret_cast<const uint8_t*>(p)[i];
    case DType::kBool:
      return reinterpret_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
  }
  return 0;
}

int64_t Tensor::get_i64(int64_t i) const {
  const std::byte* p = storage_.get();
  switch (dtype_) {
    case DType::kInt64:
      return reinterpret_cast<const int64_t*>(p)[i];
    case DType::kInt32:
      return reinterpret_cast<const int32_t*>(p)[i];
    case DType::kInt16:
      return reinterpret_cast<const int16_t*>(p)[i];
    case DType::kInt8:
      return reinterpret_cast<const int8_t*>(p)[i];
    case DType::kUInt8:
      return reinterpret_cast<const uint8_t*>(p)[i];
    case DType::kBool:
      return reinterpret_cast<const uint8_t*>(p)[i] ? 1 : 0;
    default: {
      double v = get_f64(i);
      if (!std::isfinite(v)) return 0;
      return static_cast<int64_t>(v);
    }
  }
}

std::vector<int64_t> Tensor::to_i64_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[i] = get_i64(i);
  return v;
}

std::vector<float> Tensor::to_f32_vector() const {
  std::vector<float> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[i] = static_cast<float>(get_f64(i));
  return v;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_) {
    fail<ShapeError>("cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

namespace {
template <class To>
void convert_into(const Tensor& src, To* dst) {
  const int64_t n = src.numel();
  if constexpr (std::is_floating_point_v<To>) {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src.get_f64(i));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src.get_i64(i));
  }
}
}  // namespace

Tensor Tensor::cast(DType to) const {
  if (to == dtype_) return clone();
  Tensor t(to, shape_);
  const int64_t n = numel_;
  switch (to) {
    case DType::kFloat32:
      convert_into(*this, t.data<float>());
      break;
    case DType::kFloat64:
      convert_into(*this, t.data<double>());
      break;
    case DType::kInt64:
      convert_into(*this, t.data<int64_t>());
      break;
    case DType::kInt32:
      convert_into(*this, t.data<int32_t>());
      break;
    case DType::kInt16:
      convert_into(*this, t.data<int16_t>());
      break;
    case DType::kInt8:
      convert_into(*this, t.data<int8_t>());
      break;
    case DType::kUInt8:
      convert_into(*this, t.data<uint8_t>());
      break;
    case DType::kFloat16: {
      auto* d = reinterpret_cast<uint16_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) d[i] = float_to_half(static_cast<float>(get_f64(i)));
      break;
    }
    case DType::kBool: {
      auto* d = reinterpret_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) d[i] = get_f64(i) != 0.0 ? 1 : 0;
      break;
    }
  }
  return t;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return sign | (absx > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (absx >= 0x477ff000u) return sign | 0x7c00u;  // rounds to inf
  if (absx < 0x38800000u) {                        // subnormal or zero in half
    float a;
    std::memcpy(&a, &absx, 4);
    // Round to nearest even in units of 2^-24.
    const float scaled = a * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  const uint32_t mant = absx & 0x7fffffu;
  const uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return sign | static_cast<uint16_t>(h);
}

}  // namespace eff
