#include "data/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/fs.h"

namespace eff {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kPreludeV1 = 10;  // magic, version, uint16 header length
constexpr size_t kPreludeV2 = 12;  // magic, version, uint32 header length
// numpy itself refuses headers over 10000 bytes by default; legitimate ones are far smaller.
constexpr size_t kMaxHeaderBytes = size_t{1} << 20;
constexpr size_t kMaxRank = 64;

struct NpyLayout {
  DType dtype = DType::kFloat32;
  bool big_endian = false;
  Shape shape;
  size_t data_offset = 0;
  size_t data_bytes = 0;
};

struct DTypeCode {
  char kind;
  int size;
  DType dtype;
};
constexpr DTypeCode kDTypeCodes[] = {
    {'f', 4, DType::kFloat32}, {'f', 8, DType::kFloat64}, {'f', 2, DType::kFloat16},
    {'i', 8, DType::kInt64},   {'i', 4, DType::kInt32},   {'i', 2, DType::kInt16},
    {'i', 1, DType::kInt8},    {'u', 1, DType::kUInt8},   {'b', 1, DType::kBool},
};

const char* descr_of(DType t) {
  switch (t) {
    case DType::kFloat32:
      return "<f4";
    case DType::kFloat16:
      return "<f2";
    case DType::kFloat64:
      return "<f8";
    case DType::kInt64:
      return "<i8";
    case DType::kInt32:
      return "<i4";
    case DType::kInt16:
      return "<i2";
    case DType::kInt8:
      return "|i1";
    case DType::kUInt8:
      return "|u1";
    case DType::kBool:
      return "|b1";
  }
  return "?";
}

// A strict reader for the one Python literal numpy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  void parse(NpyLayout& out) {
    std::optional<std::string> descr;
    std::optional<bool> fortran;
    std::optional<Shape> shape;
    skip_space();
    expect('{', "the header to start with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string("a quoted key");
      skip_space();
      expect(':', "':' after the key");
      skip_space();
      if (key == "descr") {
        if (descr) error("key 'descr' appears twice");
        if (peek() == '[') error("structured dtypes (descr is a list) are not supported");
        descr = parse_string("a quoted dtype string for 'descr'");
      } else if (key == "fortran_order") {
        if (fortran) error("key 'fortran_order' appears twice");
        fortran = parse_bool();
      } else if (key == "shape") {
        if (shape) error("key 'shape' appears twice");
        shape = parse_shape();
      } else {
        error(fmt::format("unexpected key '{}' (expected descr, fortran_order, shape)", printable(key)));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') expect('}', "',' or '}' after a value");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != s_.size()) error("unexpected text after the closing '}'");
    if (!descr) error("key 'descr' is missing");
    if (!fortran) error("key 'fortran_order' is missing");
    if (!shape) error("key 'shape' is missing");
    if (*fortran) {
      fail<DataError>("{}: fortran_order is True; only C-order arrays are supported (save np.ascontiguousarray(a))",
                      name_);
    }
    decode_descr(*descr, out);
    out.shape = std::move(*shape);
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail<DataError>("{}: bad .npy header at byte {}: {}", name_, pos_, what);
  }
  static std::string printable(std::string_view v) {
    std::string out;
    for (char c : v.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c, const char* what) {
    if (peek() != c || pos_ >= s_.size()) error(fmt::format("expected {}", what));
    ++pos_;
  }

  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') error(fmt::format("expected {}", what));
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      // The strings numpy writes here never need escapes; anything else is not a plain .npy.
      if (s_[pos_] == '\\' || s_[pos_] == '\n') error("escapes and line breaks are not allowed in strings");
      ++pos_;
    }
    if (pos_ >= s_.size()) error("unterminated string");
    std::string v(s_.substr(start, pos_ - start));
    ++pos_;
    return v;
  }

  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    error("expected True or False for 'fortran_order'");
  }

  int64_t parse_dim() {
    if (peek() == '-') error("negative dimension in 'shape'");
    if (peek() < '0' || peek() > '9') error("expected a non-negative integer in 'shape'");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (v > (int64_t{1} << 56)) error("dimension in 'shape' is too large");
      v = v * 10 + (peek() - '0');
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 numpy wrote longs as "3L".
    return v;
  }

  Shape parse_shape() {
    expect('(', "a tuple '(...)' for 'shape'");
    Shape dims;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (dims.size() >= kMaxRank) error(fmt::format("'shape' has more than {} dimensions", kMaxRank));
      dims.push_back(parse_dim());
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++pos_;
        continue;
      }
      if (peek() != ')') expect(')', "',' or ')' in 'shape'");
    }
    if (dims.size() == 1 && !trailing_comma) error("'shape' (n) is not a tuple; a 1-D shape is written (n,)");
    ++pos_;  // ')'
    return dims;
  }

  void decode_descr(const std::string& descr, NpyLayout& out) const {
    auto unsupported = [&]() {
      fail<DataError>("{}: dtype '{}' is not supported (supported: <f4 <f8 <f2 <i8 <i4 <i2 |i1 |u1 |b1)", name_,
                      printable(descr));
    };
    if (descr.size() != 3) unsupported();
    const char order = descr[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') unsupported();
    const int size = descr[2] - '0';
    for (const DTypeCode& c : kDTypeCodes) {
      if (c.kind != descr[1] || c.size != size) continue;
      // '|' means "byte order does not apply", which is only true of one-byte types.
      if (order == '|' && size != 1) unsupported();
      out.dtype = c.dtype;
      out.big_endian = size > 1 && (order == '>' || (order == '=' && std::endian::native == std::endian::big));
      return;
    }
    unsupported();
  }

  std::string_view s_;
  const std::string& name_;
  size_t pos_ = 0;
};

uint32_t read_le(const unsigned char* p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// How many bytes precede the data; needs at least the first 12 bytes of the file (or all of it).
size_t npy_data_offset(std::string_view head, const std::string& name) {
  if (head.size() < kMagic.size() || head.substr(0, kMagic.size()) != kMagic) {
    fail<DataError>("{}: not a .npy file (no \\x93NUMPY magic)", name);
  }
  if (head.size() < kPreludeV1) fail<DataError>("{}: truncated .npy file ({} bytes)", name, head.size());
  const int major = static_cast<unsigned char>(head[6]);
  const int minor = static_cast<unsigned char>(head[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    fail<DataError>("{}: .npy format version {}.{} is not supported (1.0, 2.0, 3.0 are)", name, major, minor);
  }
  const auto* u = reinterpret_cast<const unsigned char*>(head.data());
  if (major == 1) return kPreludeV1 + read_le(u + 8, 2);
  if (head.size() < kPreludeV2) fail<DataError>("{}: truncated .npy file ({} bytes)", name, head.size());
  const size_t header_len = read_le(u + 8, 4);
  if (header_len > kMaxHeaderBytes) {
    fail<DataError>("{}: .npy header claims {} bytes, more than the {} byte limit", name, header_len, kMaxHeaderBytes);
  }
  return kPreludeV2 + header_len;
}

// Parses the header in `prefix` (the first data_offset bytes) and checks the data size the
// shape implies against `file_bytes`, all before any allocation.
NpyLayout parse_layout(std::string_view prefix, size_t file_bytes, const std::string& name, bool whole = true) {
  NpyLayout out;
  out.data_offset = npy_data_offset(prefix, name);
  if (out.data_offset > file_bytes) {
    fail<DataError>("{}: truncated .npy file: the header needs {} bytes, the file has {}", name, out.data_offset,
                    file_bytes);
  }
  const size_t prelude = static_cast<unsigned char>(prefix[6]) == 1 ? kPreludeV1 : kPreludeV2;
  HeaderParser(prefix.substr(prelude, out.data_offset - prelude), name).parse(out);

  uint64_t numel = 1;
  for (int64_t d : out.shape) {
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) {
      fail<DataError>("{}: shape {} has too many elements", name, shape_str(out.shape));
    }
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(out.dtype)), &bytes)) {
    fail<DataError>("{}: shape {} has too many elements", name, shape_str(out.shape));
  }
  const size_t present = file_bytes - out.data_offset;
  if (bytes > present) {
    fail<DataError>("{}: truncated .npy file: shape {} of {} needs {} data bytes, the file has {}", name,
                    shape_str(out.shape), dtype_name(out.dtype), bytes, present);
  }
  if (bytes < present) {
    fail<DataError>("{}: {} unexpected bytes after the data of shape {} ({})", name, present - bytes,
                    shape_str(out.shape), dtype_name(out.dtype));
  }
  if (whole && bytes > max_tensor_bytes()) {
    fail<DataError>("{}: shape {} of {} is {} bytes, more than the {} byte tensor limit", name, shape_str(out.shape),
                    dtype_name(out.dtype), bytes, max_tensor_bytes());
  }
  out.data_bytes = static_cast<size_t>(bytes);
  return out;
}

// Byte order and bool canonicalisation after the raw bytes are in place.
void fix_up_data(Tensor& t, bool big_endian) {
  const size_t item = dtype_size(t.dtype());
  auto* p = static_cast<unsigned char*>(t.raw());
  const size_t n = static_cast<size_t>(t.numel());
  if (item > 1 && big_endian != (std::endian::native == std::endian::big)) {
    for (size_t i = 0; i < n; ++i) std::reverse(p + i * item, p + (i + 1) * item);
  }
  if (t.dtype() == DType::kBool) {
    for (size_t i = 0; i < n; ++i) p[i] = p[i] != 0;
  }
}

class PosixFile {
 public:
  explicit PosixFile(int fd) : fd_(fd) {}
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;
  ~PosixFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Reads up to `n` bytes at `offset`; returns how many were read (fewer only at end of file).
size_t read_at(int fd, void* dst, size_t n, size_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(dst) + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail<DataError>("{}: cannot read: {}", path, std::strerror(errno));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

}  // namespace

Tensor parse_npy(std::string_view bytes, const std::string& name) {
  const size_t offset = npy_data_offset(bytes.substr(0, kPreludeV2), name);
  NpyLayout layout = parse_layout(bytes.substr(0, std::min(offset, bytes.size())), bytes.size(), name);
  Tensor t(layout.dtype, layout.shape);
  if (layout.data_bytes) std::memcpy(t.raw(), bytes.data() + layout.data_offset, layout.data_bytes);
  fix_up_data(t, layout.big_endian);
  return t;
}

namespace {

int open_regular(const std::string& path, struct stat& st) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) fail<DataError>("{}: no such file", path);
    fail<DataError>("{}: cannot open: {}", path, std::strerror(errno));
  }
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail<DataError>("{}: cannot stat: {}", path, std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail<DataError>("{}: is a directory, not a .npy file", path);
  }
  return fd;
}

NpyLayout read_layout(int fd, size_t file_bytes, const std::string& path, bool whole) {
  std::string prefix(std::min(file_bytes, kPreludeV2), '\0');
  prefix.resize(read_at(fd, prefix.data(), prefix.size(), 0, path));
  const size_t offset = npy_data_offset(prefix, path);
  prefix.resize(std::min(offset, file_bytes));
  prefix.resize(read_at(fd, prefix.data(), prefix.size(), 0, path));
  return parse_layout(prefix, file_bytes, path, whole);
}

}  // namespace

Tensor read_npy(const std::string& path) {
  struct stat st {};
  PosixFile f(open_regular(path, st));
  if (!S_ISREG(st.st_mode)) {
    // Pipes and devices have no size to check the header against: read them whole, bounded.
    return parse_npy(read_file(path, max_tensor_bytes() + kMaxHeaderBytes + kPreludeV2), path);
  }
  const NpyLayout layout = read_layout(f.fd(), static_cast<size_t>(st.st_size), path, true);

  Tensor t(layout.dtype, layout.shape);
  if (read_at(f.fd(), t.raw(), layout.data_bytes, layout.data_offset, path) != layout.data_bytes) {
    fail<DataError>("{}: truncated .npy file (it shrank while being read)", path);
  }
  fix_up_data(t, layout.big_endian);
  return t;
}

struct NpySlabReader::Impl {
  std::string path;
  int fd = -1;
  NpyLayout layout;
  size_t row_bytes = 0;
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }
};

NpySlabReader::NpySlabReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  struct stat st {};
  impl_->fd = open_regular(path, st);
  if (!S_ISREG(st.st_mode)) fail<DataError>("{}: not a regular file (slabs are read by offset)", path);
  impl_->layout = read_layout(impl_->fd, static_cast<size_t>(st.st_size), path, false);
  if (impl_->layout.shape.empty()) fail<DataError>("{}: a 0-d array has no leading dimension to read by", path);
  const int64_t rows = impl_->layout.shape[0];
  impl_->row_bytes = rows == 0 ? 0 : impl_->layout.data_bytes / static_cast<size_t>(rows);
}

NpySlabReader::~NpySlabReader() = default;
NpySlabReader::NpySlabReader(NpySlabReader&&) noexcept = default;
NpySlabReader& NpySlabReader::operator=(NpySlabReader&&) noexcept = default;

const Shape& NpySlabReader::shape() const {
  return impl_->layout.shape;
}
DType NpySlabReader::dtype() const {
  return impl_->layout.dtype;
}

Tensor NpySlabReader::read(int64_t first, int64_t count) const {
  const int64_t rows = impl_->layout.shape[0];
  if (first < 0 || count < 0 || first > rows || count > rows - first) {
    fail<DataError>("{}: rows [{}, {}) are outside the array's {} rows", impl_->path, first, first + count, rows);
  }
  if (static_cast<uint64_t>(count) * impl_->row_bytes > max_tensor_bytes()) {
    fail<DataError>("{}: {} rows of {} bytes exceed the {} byte tensor limit", impl_->path, count, impl_->row_bytes,
                    max_tensor_bytes());
  }
  Shape shape = impl_->layout.shape;
  shape[0] = count;
  Tensor t(impl_->layout.dtype, shape);
  const size_t bytes = static_cast<size_t>(count) * impl_->row_bytes;
  const size_t at = impl_->layout.data_offset + static_cast<size_t>(first) * impl_->row_bytes;
  if (bytes && read_at(impl_->fd, t.raw(), bytes, at, impl_->path) != bytes) {
    fail<DataError>("{}: truncated .npy file (it shrank while being read)", impl_->path);
  }
  fix_up_data(t, impl_->layout.big_endian);
  return t;
}

std::string encode_npy(const Tensor& t) {
  if (!t.defined()) fail<DataError>("encode_npy: the tensor is undefined");
  std::string dims;
  for (int64_t d : t.shape()) dims += fmt::format("{}, ", d);
  if (t.rank() == 1) {
    dims.pop_back();  // "(n,)"
  } else if (!dims.empty()) {
    dims.resize(dims.size() - 2);
  }
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr_of(t.dtype()), dims);
  // numpy pads with spaces and ends with '\n' so the data starts 64-byte aligned.
  const bool v2 = header.size() + 1 + kPreludeV1 > 65535;
  const size_t prelude = v2 ? kPreludeV2 : kPreludeV1;
  header.append(63 - (prelude + header.size()) % 64, ' ');
  header += '\n';

  std::string out;
  out.reserve(prelude + header.size() + t.nbytes());
  out += kMagic;
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const size_t len = header.size();
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  out += header;
  const size_t data_start = out.size();
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  const size_t item = dtype_size(t.dtype());
  if (item > 1 && std::endian::native == std::endian::big) {
    for (size_t i = data_start; i < out.size(); i += item) std::reverse(out.begin() + i, out.begin() + i + item);
  }
  if (t.dtype() == DType::kBool) {
    for (size_t i = data_start; i < out.size(); ++i) out[i] = out[i] != 0;
  }
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  if (!t.defined()) fail<DataError>("{}: cannot write an undefined tensor", path);
  write_file_atomic(path, encode_npy(t));
}

}  // namespace eff
