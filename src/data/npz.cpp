#include "data/npz.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "data/npy.h"

namespace eff {

namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentral = 0x06054b50;
constexpr uint32_t kZip64EndOfCentral = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr size_t kEndOfCentralBytes = 22;
constexpr size_t kMaxComment = 0xffff;
// An archive holds a model's inputs: several tensors, each within the tensor limit.
constexpr size_t kMaxArrays = 4096;

// zlib's CRC-32 (the zip one), fed in chunks: its length argument is 32-bit.
uint32_t zip_crc32(std::string_view bytes) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < bytes.size();) {
    const auto n = static_cast<uInt>(std::min<size_t>(bytes.size() - at, 1u << 30));
    c = ::crc32(c, reinterpret_cast<const Bytef*>(bytes.data() + at), n);
    at += n;
  }
  return static_cast<uint32_t>(c);
}

// Little-endian reads, bounds-checked against the archive.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& name) : bytes_(bytes), name_(name) {}
  uint64_t get(size_t at, int width) const {
    if (at > bytes_.size() || static_cast<size_t>(width) > bytes_.size() - at) {
      fail<DataError>("{}: not a valid .npz file (truncated zip structure)", name_);
    }
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes_[at + i]);
    return v;
  }
  uint32_t u32(size_t at) const { return static_cast<uint32_t>(get(at, 4)); }
  uint16_t u16(size_t at) const { return static_cast<uint16_t>(get(at, 2)); }
  std::string_view span(uint64_t at, uint64_t n, const std::string& what) const {
    if (at > bytes_.size() || n > bytes_.size() - at) fail<DataError>("{}: {} is truncated", name_, what);
    return bytes_.substr(static_cast<size_t>(at), static_cast<size_t>(n));
  }
  size_t size() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
  const std::string& name_;
};

size_t find_end_of_central(const Reader& r, const std::string& name) {
  if (r.size() >= kEndOfCentralBytes) {
    const size_t last = r.size() - kEndOfCentralBytes;
    const size_t first = last > kMaxComment ? last - kMaxComment : 0;
    for (size_t at = last + 1; at-- > first;) {
      if (r.u32(at) == kEndOfCentral && at + kEndOfCentralBytes + r.u16(at + 20) == r.size()) return at;
    }
  }
  fail<DataError>("{}: not a .npz file (no zip directory; numpy.savez writes one)", name);
}

struct Entry {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, size = 0, local_offset = 0;
};

// Sizes and offset stored as 0xffffffff live in the zip64 extra field (id 1), in this order.
void apply_zip64(Entry& e, std::string_view extra, bool big_size, bool big_compressed, bool big_offset,
                 const std::string& where) {
  size_t at = 0;
  while (at + 4 <= extra.size()) {
    const auto u = [&](size_t i, int w) {
      uint64_t v = 0;
      for (int k = w - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(extra[i + k]);
      return v;
    };
    const uint64_t id = u(at, 2), len = u(at + 2, 2);
    if (at + 4 + len > extra.size()) break;
    if (id == 1) {
      size_t p = at + 4;
      const auto next = [&]() {
        if (p + 8 > at + 4 + len) fail<DataError>("{}: malformed zip64 field", where);
        const uint64_t v = u(p, 8);
        p += 8;
        return v;
      };
      if (big_size) e.size = next();
      if (big_compressed) e.compressed = next();
      if (big_offset) e.local_offset = next();
      return;
    }
    at += 4 + len;
  }
  if (big_size || big_compressed || big_offset) fail<DataError>("{}: zip64 sizes missing", where);
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> parse_npz(std::string_view bytes, const std::string& name) {
  const Reader r(bytes, name);
  const size_t eocd = find_end_of_central(r, name);
  uint64_t count = r.u16(eocd + 10);
  uint64_t dir_offset = r.u32(eocd + 16);
  if (count == 0xffff || dir_offset == 0xffffffffu) {
    // zip64: the locator just before the end record points at the zip64 end record.
    if (eocd < 20 || r.u32(eocd - 20) != kZip64Locator) fail<DataError>("{}: zip64 locator missing", name);
    const uint64_t at = r.get(eocd - 20 + 8, 8);
    if (r.u32(static_cast<size_t>(std::min<uint64_t>(at, r.size()))) != kZip64EndOfCentral) {
      fail<DataError>("{}: zip64 directory record missing", name);
    }
    count = r.get(static_cast<size_t>(at) + 32, 8);
    dir_offset = r.get(static_cast<size_t>(at) + 48, 8);
  }
  if (r.u16(eocd + 4) != 0 || r.u16(eocd + 6) != 0) fail<DataError>("{}: multi-part zip archives are not read", name);
  if (count == 0) fail<DataError>("{}: the .npz file holds no arrays", name);
  if (count > kMaxArrays) fail<DataError>("{}: {} arrays (at most {} are read)", name, count, kMaxArrays);

  std::vector<Entry> entries;
  size_t at = static_cast<size_t>(std::min<uint64_t>(dir_offset, r.size()));
  for (uint64_t i = 0; i < count; ++i) {
    if (r.u32(at) != kCentralHeader) fail<DataError>("{}: zip directory entry {} is malformed", name, i);
    Entry e;
    e.method = r.u16(at + 10);
    e.crc = r.u32(at + 16);
    e.compressed = r.u32(at + 20);
    e.size = r.u32(at + 24);
    const uint16_t name_len = r.u16(at + 28), extra_len = r.u16(at + 30), comment_len = r.u16(at + 32);
    e.local_offset = r.u32(at + 42);
    e.name = std::string(r.span(at + 46, name_len, "a zip directory entry"));
    apply_zip64(e, r.span(at + 46 + name_len, extra_len, "a zip directory entry"), e.size == 0xffffffffu,
                e.compressed == 0xffffffffu, e.local_offset == 0xffffffffu, name + ": " + e.name);
    at += 46 + name_len + extra_len + comment_len;
    entries.push_back(std::move(e));
  }

  std::vector<std::pair<std::string, Tensor>> arrays;
  std::set<std::string> seen;
  for (const Entry& e : entries) {
    if (e.name.size() < 5 || e.name.substr(e.name.size() - 4) != ".npy") {
      fail<DataError>("{}: member '{}' is not an .npy array (numpy.savez names them ARRAY.npy)", name, e.name);
    }
    const std::string array = e.name.substr(0, e.name.size() - 4);
    const std::string where = name + ": array '" + array + "'";
    if (!seen.insert(array).second) fail<DataError>("{}: array '{}' appears twice", name, array);
    if (e.method != 0) {
      fail<DataError>("{}: array '{}' is compressed (zip method {}); save with numpy.savez, not savez_compressed", name,
                      array, e.method);
    }
    if (e.compressed != e.size) fail<DataError>("{}: stored member with two different sizes", where);
    if (r.u32(static_cast<size_t>(std::min<uint64_t>(e.local_offset, r.size()))) != kLocalHeader) {
      fail<DataError>("{}: its zip header is missing", where);
    }
    const uint64_t data_at = e.local_offset + 30 + r.u16(e.local_offset + 26) + r.u16(e.local_offset + 28);
    const std::string_view data = r.span(data_at, e.size, "array '" + array + "'");
    if (zip_crc32(data) != e.crc) fail<DataError>("{}: CRC mismatch (the file is corrupt)", where);
    arrays.emplace_back(array, parse_npy(data, where));
  }
  return arrays;
}

std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path) {
  // Every array is at most a tensor's limit; a few inputs' worth is plenty.
  const size_t limit = max_tensor_bytes();
  return parse_npz(read_file(path, limit > SIZE_MAX / 4 ? SIZE_MAX : 4 * limit), path);
}

}  // namespace eff
