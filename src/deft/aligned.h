// Storage on 64-byte lines for the DeftNN kernels.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace eff::deft {

// Vectors whose data start on a 64-byte line: a 64-byte load that splits two lines is slower (AMX
// tile rows ~1.5x, measured on this CPU), so the kernels' weights and buffers start on one.
template <class T>
struct Align64 {
  using value_type = T;
  Align64() = default;
  template <class U>
  Align64(const Align64<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U>
  bool operator==(const Align64<U>&) const {
    return true;
  }
};
template <class T>
using AlignedVector = std::vector<T, Align64<T>>;

}  // namespace eff::deft
