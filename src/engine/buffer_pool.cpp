#include "engine/buffer_pool.h"

namespace eff {

Tensor BufferPool::acquire(DType dtype, const Shape& shape) {
  const int64_t n = shape_numel(shape);
  if (static_cast<size_t>(n) > max_tensor_bytes() / dtype_size(dtype)) {
    fail<TensorLimitError>("tensor of shape {} ({}) exceeds the {} byte limit", shape_str(shape), dtype_name(dtype),
                           max_tensor_bytes());
  }
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
  // Best fit, but never waste more than half of a buffer.
  auto it = free_.lower_bound(bytes);
  if (it != free_.end() && it->first <= 2 * bytes + 64) {
    auto storage = std::move(it->second);
    size_t cap = it->first;
    free_.erase(it);
    return Tensor(dtype, shape, std::move(storage), cap);
  }
  ++allocations_;
  return Tensor(dtype, shape, aligned_alloc_bytes(bytes), bytes);
}

void BufferPool::release(Tensor& t) {
  if (t.storage() && t.storage().use_count() == 1 && t.capacity() > 0) {
    free_.emplace(t.capacity(), t.storage());
  }
  t = Tensor();
}

size_t BufferPool::bytes_held() const {
  size_t s = 0;
  for (const auto& [cap, p] : free_) s += cap;
  return s;
}

}  // namespace eff
