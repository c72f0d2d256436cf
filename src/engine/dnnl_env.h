// The oneDNN engine and stream shared by all kernels of an executor.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"

namespace eff {

struct DnnlEnv {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
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
