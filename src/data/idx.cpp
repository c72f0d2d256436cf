#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

namespace eff {

namespace {

constexpr int kMaxRank = 8;
// Deflate cannot expand data by more than about 1032:1, so a gzip file of S bytes holds at
// most this many times S; a header claiming more is lying, and is refused before allocating.
constexpr uint64_t kMaxDeflateRatio = 1032;

struct IdxType {
  unsigned char code;
  DType dtype;
};
constexpr IdxType kIdxTypes[] = {
    {0x08, DType::kUInt8}, {0x09, DType::kInt8},    {0x0B, DType::kInt16},
    {0x0C, DType::kInt32}, {0x0D, DType::kFloat32}, {0x0E, DType::kFloat64},
};

// gzFile reads gzip members and, transparently, plain files; one reader for both.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    if (!f_) {
      if (errno == ENOENT) fail<DataError>("{}: no such file", path);
      fail<DataError>("{}: cannot open: {}", path, errno ? std::strerror(errno) : "out of memory");
    }
    gzbuffer(f_, 1 << 17);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() { gzclose(f_); }

  // Reads up to n bytes; fewer only at the end of the data.
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      int r = gzread(f_, static_cast<char*>(dst) + done, chunk);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(f_, &code);
        fail<DataError>("{}: corrupt gzip data: {}", path_, msg ? msg : "unknown zlib error");
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    // zlib reports a damaged or cut-off stream only through gzerror once reading stops.
    int code = 0;
    const char* msg = gzerror(f_, &code);
    if (code != Z_OK && code != Z_BUF_ERROR) {
      fail<DataError>("{}: corrupt gzip data: {}", path_, msg ? msg : "unknown zlib error");
    }
    if (code == Z_BUF_ERROR) fail<DataError>("{}: truncated gzip data", path_);
    return done;
  }

 private:
  std::string path_;
  gzFile f_;
};

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool starts_with_gzip_magic(const std::string& path) {
  FILE* raw = std::fopen(path.c_str(), "rb");
  if (!raw) return false;  // GzReader reports why it cannot be opened
  unsigned char b[2] = {};
  const bool gz = std::fread(b, 1, 2, raw) == 2 && b[0] == 0x1f && b[1] == 0x8b;
  std::fclose(raw);
  return gz;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail<DataError>("{}: is a directory, not an IDX file", path);
  const uintmax_t file_bytes = std::filesystem::file_size(path, ec);
  if (ec) fail<DataError>("{}: {}", path, ec == std::errc::no_such_file_or_directory ? "no such file" : ec.message());
  const bool gz = starts_with_gzip_magic(path);

  GzReader in(path);
  unsigned char magic[4] = {};
  if (in.read(magic, 4) != 4) fail<DataError>("{}: truncated IDX file (no 4-byte magic)", path);
  if (magic[0] != 0 || magic[1] != 0) {
    fail<DataError>("{}: not an IDX file{} (magic {:02x}{:02x}{:02x}{:02x}, expected 0000TTRR)", path,
                    gz ? " inside the gzip data" : "", magic[0], magic[1], magic[2], magic[3]);
  }
  const int rank = magic[3];
  if (rank < 1 || rank > kMaxRank) fail<DataError>("{}: IDX rank {} is outside 1..{}", path, rank, kMaxRank);
  const IdxType* type =
      std::find_if(std::begin(kIdxTypes), std::end(kIdxTypes), [&](const IdxType& t) { return t.code == magic[2]; });
  if (type == std::end(kIdxTypes)) fail<DataError>("{}: unknown IDX element type 0x{:02x}", path, magic[2]);

  unsigned char dim_bytes[4 * kMaxRank] = {};
  const size_t dims_len = 4 * static_cast<size_t>(rank);
  if (in.read(dim_bytes, dims_len) != dims_len) {
    fail<DataError>("{}: truncated IDX file: the header of rank {} is cut off", path, rank);
  }
  Shape shape;
  uint64_t bytes = dtype_size(type->dtype);
  for (int i = 0; i < rank; ++i) {
    const uint32_t d = be32(dim_bytes + 4 * i);
    shape.push_back(d);
    if (__builtin_mul_overflow(bytes, uint64_t{d}, &bytes)) {
      fail<DataError>("{}: IDX dimensions {} are too large", path, shape_str(shape));
    }
  }
  const uint64_t header = 4 + dims_len;
  if (!gz && bytes != file_bytes - header) {
    fail<DataError>("{}: IDX dimensions {} of {} need {} data bytes, the file has {}", path, shape_str(shape),
                    dtype_name(type->dtype), bytes, file_bytes - header);
  }
  if (gz && bytes > (file_bytes + 1024) * kMaxDeflateRatio) {
    fail<DataError>("{}: IDX dimensions {} need {} bytes, more than a {} byte gzip file can hold", path,
                    shape_str(shape), bytes, file_bytes);
  }
  if (bytes > max_tensor_bytes()) {
    fail<DataError>("{}: IDX data of {} bytes exceeds the {} byte tensor limit", path, bytes, max_tensor_bytes());
  }

  Tensor t(type->dtype, shape);
  const size_t got = in.read(t.raw(), t.nbytes());
  if (got != t.nbytes()) {
    fail<DataError>("{}: truncated IDX file: dimensions {} need {} data bytes, found {}", path, shape_str(shape),
                    t.nbytes(), got);
  }
  unsigned char extra = 0;
  if (in.read(&extra, 1) != 0) fail<DataError>("{}: unexpected bytes after the IDX data {}", path, shape_str(shape));
  const size_t item = dtype_size(t.dtype());
  if (item > 1 && std::endian::native == std::endian::little) {
    auto* p = static_cast<unsigned char*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); i += item) std::reverse(p + i, p + i + item);
  }
  return t;
}

}  // namespace eff
