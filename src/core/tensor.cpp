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

namespace {
// float16 and bool have no arithmetic C++ type of their own: they are stored as these and
// converted by the functions that read and write them.
struct Half {
  uint16_t bits;
};
struct Bool8 {
  uint8_t byte;
};

// The one place that maps a DType to the type its elements are stored as: calls f(T*) with a
// null pointer of that type, so each conversion below is written once as a template.
template <class F>
decltype(auto) with_storage_type(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32:
      return f(static_cast<float*>(nullptr));
    case DType::kFloat16:
      return f(static_cast<Half*>(nullptr));
    case DType::kFloat64:
      return f(static_cast<double*>(nullptr));
    case DType::kInt64:
      return f(static_cast<int64_t*>(nullptr));
    case DType::kInt32:
      return f(static_cast<int32_t*>(nullptr));
    case DType::kInt16:
      return f(static_cast<int16_t*>(nullptr));
    case DType::kInt8:
      return f(static_cast<int8_t*>(nullptr));
    case DType::kUInt8:
      return f(static_cast<uint8_t*>(nullptr));
    case DType::kBool:
      return f(static_cast<Bool8*>(nullptr));
  }
  fail<ShapeError>("unknown tensor element type {}", static_cast<int>(t));
}

template <class T>
double load_f64(const std::byte* p, int64_t i) {
  const T v = reinterpret_cast<const T*>(p)[i];
  if constexpr (std::is_same_v<T, Half>) {
    return half_to_float(v.bits);
  } else if constexpr (std::is_same_v<T, Bool8>) {
    return v.byte ? 1.0 : 0.0;
  } else {
    return static_cast<double>(v);
  }
}

template <class T>
void store_from_f64(std::byte* p, int64_t i, double v) {
  if constexpr (std::is_same_v<T, Half>) {
    reinterpret_cast<Half*>(p)[i] = Half{float_to_half(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<T, Bool8>) {
    reinterpret_cast<Bool8*>(p)[i] = Bool8{static_cast<uint8_t>(v != 0.0 ? 1 : 0)};
  } else {
    reinterpret_cast<T*>(p)[i] = static_cast<T>(v);
  }
}

template <class T>
const char* storage_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, Half>) return "float16";
  if constexpr (std::is_same_v<T, double>) return "float64";
  if constexpr (std::is_same_v<T, int64_t>) return "int64";
  if constexpr (std::is_same_v<T, int32_t>) return "int32";
  if constexpr (std::is_same_v<T, int16_t>) return "int16";
  if constexpr (std::is_same_v<T, int8_t>) return "int8";
  if constexpr (std::is_same_v<T, uint8_t>) return "uint8";
  if constexpr (std::is_same_v<T, Bool8>) return "bool";
}
}  // namespace

size_t dtype_size(DType t) {
  return with_storage_type(t, []<class T>(T*) { return sizeof(T); });
}

const char* dtype_name(DType t) {
  return with_storage_type(t, []<class T>(T*) { return storage_name<T>(); });
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
  if (!p) fail<TensorLimitError>("out of memory allocating {} bytes", bytes);
  std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  if (static_cast<size_t>(numel_) > max_tensor_bytes() / dtype_size(dtype_)) {
    fail<TensorLimitError>("tensor of shape {} ({}) exceeds the {} byte limit", shape_str(shape_), dtype_name(dtype_),
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
  return with_storage_type(dtype_, [&]<class T>(T*) { return load_f64<T>(storage_.get(), i); });
}

int64_t Tensor::get_i64(int64_t i) const {
  return with_storage_type(dtype_, [&]<class T>(T*) -> int64_t {
    if constexpr (std::is_integral_v<T>) {
      return reinterpret_cast<const T*>(storage_.get())[i];
    } else {
      // Floats truncate toward zero (ONNX Cast); a non-finite value has no integer and reads as 0.
      const double v = load_f64<T>(storage_.get(), i);
      return std::isfinite(v) ? static_cast<int64_t>(v) : 0;
    }
  });
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

Tensor Tensor::cast(DType to) const {
  if (to == dtype_) return clone();
  Tensor t(to, shape_);
  with_storage_type(to, [&]<class T>(T*) {
    auto* dst = static_cast<std::byte*>(t.raw());
    if constexpr (std::is_integral_v<T>) {
      // Integer targets go through int64 so large int64 values are not rounded by a double.
      for (int64_t i = 0; i < numel_; ++i) reinterpret_cast<T*>(dst)[i] = static_cast<T>(get_i64(i));
    } else {
      for (int64_t i = 0; i < numel_; ++i) store_from_f64<T>(dst, i, get_f64(i));
    }
  });
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
