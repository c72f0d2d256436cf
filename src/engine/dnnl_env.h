// The oneDNN engine and stream shared by all kernels of an executor.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"

namespace eff {

struct DnnlEnv {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};

  // One scratch buffer for every primitive of the executor: they run one after another, so each
  // borrows it just before executing (ops::bind_scratchpad). Per-primitive buffers reserved
  // 315 MB for VGG-16 (one per conv layer); shared, the largest alone.
  void* scratch(size_t bytes) {
    if (bytes > scratch_bytes_) {
      scratch_ = aligned_alloc_bytes(bytes);
      scratch_bytes_ = bytes;
    }
    return scratch_.get();
  }

 private:
  std::shared_ptr<std::byte[]> scratch_;
  size_t scratch_bytes_ = 0;
};

// Plain (row-major) oneDNN memory descriptor for a float32 tensor of this shape.
inline dnnl::memory::desc plain_f32_desc(const Shape& shape) {
  dnnl::memory::dims dims(shape.begin(), shape.end());
  dnnl::memory::format_tag tag;
  switch (shape.size()) {
    case 1:
      tag = dnnl::memory::format_tag::a;
      break;
    case 2:
      tag = dnnl::memory::format_tag::ab;
      break;
    case 3:
      tag = dnnl::memory::format_tag::abc;
      break;
    case 4:
      tag = dnnl::memory::format_tag::abcd;
      break;
    case 5:
      tag = dnnl::memory::format_tag::abcde;
      break;
    default:
      tag = dnnl::memory::format_tag::undef;
      break;
  }
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, tag);
}

}  // namespace eff
