// Reuses activation buffers across layers and across inferences: after the first inference of
// a given input shape, no further allocation happens (the free lists hold exact-size hits).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace eff {

class BufferPool {
 public:
  Tensor acquire(DType dtype, const Shape& shape);
  // Returns the tensor's storage to the pool if nothing else (a view) still holds it.
  void release(Tensor& t);
  size_t allocations() const { return allocations_; }  // total fresh allocations so far
  size_t bytes_held() const;

 private:
  std::multimap<size_t, std::shared_ptr<std::byte[]>> free_;  // capacity -> storage
  size_t allocations_ = 0;
};

}  // namespace eff
