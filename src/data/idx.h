// IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a
// big-endian magic (0, 0, type, rank), `rank` big-endian uint32 dimensions, then the data.
// Plain or gzip-compressed (detected by the 0x1f 0x8b magic, not by the file name).
#pragma once

#include <string>

#include "core/tensor.h"

namespace eff {

// uint8 images come back as [N, rows, cols], labels as [N]; the other IDX element types
// (int8, int16, int32, float32, float64) map to the matching dtype. Throws DataError naming the
// file if it is missing, malformed, truncated or has trailing bytes; the dimensions are checked
// against the file size before the data is allocated.
Tensor read_idx(const std::string& path);

}  // namespace eff
