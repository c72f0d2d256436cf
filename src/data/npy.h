// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order, for the dtypes a Tensor holds:
// <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1 (big-endian variants are converted on reading).
// The header is parsed strictly, and the shape it claims is checked against the bytes present
// before anything is allocated, so a corrupt or hostile file costs no memory.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace eff {

// Throws DataError naming `path` if the file is missing, malformed, truncated or unsupported.
Tensor read_npy(const std::string& path);
// The same for bytes already in memory; `name` prefixes error messages.
Tensor parse_npy(std::string_view bytes, const std::string& name);

// Reads an array a slab of leading-dimension rows at a time (images of a trace), so memory is
// that of the slab, not the file. The header and the file size are checked on opening, as by
// read_npy; only a slab has to fit the tensor limit. Slabs are read with pread: concurrent
// read() calls on one reader are safe.
class NpySlabReader {
 public:
  explicit NpySlabReader(const std::string& path);  // DataError naming `path`
  ~NpySlabReader();
  NpySlabReader(NpySlabReader&&) noexcept;
  NpySlabReader& operator=(NpySlabReader&&) noexcept;

  const Shape& shape() const;  // of the whole array
  DType dtype() const;
  // Rows [first, first + count) as a tensor of shape {count, shape()[1:]...}.
  Tensor read(int64_t first, int64_t count) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Format 1.0 (2.0 if the header would not fit), little-endian, header padded so the data
// starts at a multiple of 64 bytes, as numpy.save writes it.
std::string encode_npy(const Tensor& t);
// encode_npy written with write_file_atomic.
void write_npy(const std::string& path, const Tensor& t);

}  // namespace eff
