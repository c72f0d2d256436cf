#include "onnx/tensor_proto.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace eff {

namespace fs = std::filesystem;
using onnx::TensorProto;

static_assert(std::endian::native == std::endian::little, "raw_data is little-endian; add byte swapping");

std::string onnx_type_name(int32_t onnx_type) {
  if (TensorProto::DataType_IsValid(onnx_type)) {
    return TensorProto::DataType_Name(static_cast<TensorProto::DataType>(onnx_type));
  }
  return "type " + std::to_string(onnx_type);
}

DType dtype_from_onnx(int32_t onnx_type, const std::string& where) {
  switch (onnx_type) {
    case TensorProto::FLOAT:
      return DType::kFloat32;
    case TensorProto::FLOAT16:
      return DType::kFloat16;
    case TensorProto::DOUBLE:
      return DType::kFloat64;
    case TensorProto::INT64:
      return DType::kInt64;
    case TensorProto::INT32:
      return DType::kInt32;
    case TensorProto::INT16:
      return DType::kInt16;
    case TensorProto::INT8:
      return DType::kInt8;
    case TensorProto::UINT8:
      return DType::kUInt8;
    case TensorProto::BOOL:
      return DType::kBool;
    default:
      fail<UnsupportedError>("{}: data type {} is not supported", where, onnx_type_name(onnx_type));
  }
}

namespace {

// Parses a decimal external-data field ("offset", "length"); anything else is a ModelError.
uint64_t parse_size_field(const std::string& text, const std::string& what, const std::string& key) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    fail<ModelError>("{}: external data {} '{}' is not a non-negative integer", what, key, text);
  }
  return v;
}

// Reads `bytes` bytes of external data into `dst`, after checking the location stays inside
// model_dir and the file holds exactly what the tensor needs.
void read_external(const TensorProto& p, const std::string& what, const std::string& model_dir, void* dst,
                   size_t bytes) {
  std::string location;
  uint64_t offset = 0;
  bool has_length = false;
  uint64_t length = 0;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset") {
      offset = parse_size_field(kv.value(), what, "offset");
    } else if (kv.key() == "length") {
      length = parse_size_field(kv.value(), what, "length");
      has_length = true;
    }
  }
  if (location.empty()) fail<ModelError>("{}: external data without a location", what);
  if (model_dir.empty()) {
    fail<ModelError>("{}: external data '{}' needs the model's directory (load the model from a file)", what, location);
  }
  const fs::path rel = fs::path(location).lexically_normal();
  if (rel.is_absolute() || rel.has_root_name() || rel.empty() || *rel.begin() == "..") {
    fail<ModelError>("{}: external data location '{}' is outside the model's directory", what, location);
  }
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::path(model_dir), ec);
  const fs::path file = fs::weakly_canonical(fs::path(model_dir) / rel, ec);
  if (ec) fail<ModelError>("{}: cannot resolve external data '{}'", what, location);
  // Symlinks may still point elsewhere: compare the resolved paths component by component.
  auto b = base.begin(), f = file.begin();
  for (; b != base.end(); ++b, ++f) {
    if (f == file.end() || *b != *f) {
      fail<ModelError>("{}: external data location '{}' is outside the model's directory", what, location);
    }
  }
  const uintmax_t file_size = fs::file_size(file, ec);
  if (ec || !fs::is_regular_file(file, ec)) {
    fail<ModelError>("{}: cannot read external data file '{}'", what, location);
  }
  if (offset > file_size) {
    fail<ModelError>("{}: external data offset {} is past the end of '{}' ({} bytes)", what, offset, location,
                     file_size);
  }
  const uint64_t available = has_length ? length : file_size - offset;
  if (has_length && length > file_size - offset) {
    fail<ModelError>("{}: external data '{}' has {} bytes after offset {}, {} claimed", what, location,
                     file_size - offset, offset, length);
  }
  if (available != bytes) {
    fail<ModelError>("{}: external data '{}' holds {} bytes, the shape needs {}", what, location, available, bytes);
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) fail<ModelError>("{}: cannot open external data file '{}'", what, location);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
  if (!in || static_cast<size_t>(in.gcount()) != bytes) {
    fail<ModelError>("{}: short read from external data file '{}'", what, location);
  }
}

template <class To, class Field>
void copy_field(const Field& field, Tensor& t) {
  To* dst = reinterpret_cast<To*>(t.raw());
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<To>(field[i]);
}

void check_count(int64_t have, int64_t want, const std::string& what, const char* field) {
  if (have != want) {
    fail<ModelError>("{}: {} holds {} values, the shape needs {}", what, field, have, want);
  }
}

}  // namespace

Tensor tensor_from_proto(const TensorProto& p, const std::string& where, const std::string& model_dir,
                         const std::shared_ptr<const void>& owner) {
  const std::string what = fmt::format("{}: tensor '{}'", where, p.name());
  if (p.has_segment()) fail<UnsupportedError>("{}: segmented tensors are not supported", what);
  const DType dtype = dtype_from_onnx(p.data_type(), what);

  Shape shape(p.dims().begin(), p.dims().end());
  const size_t esize = dtype_size(dtype);
  const uint64_t limit_elems = max_tensor_bytes() / esize;
  uint64_t numel = 1;
  for (int64_t d : shape) {
    if (d < 0) fail<ModelError>("{}: negative dimension in {}", what, shape_str(shape));
    if (d != 0 && numel > limit_elems / static_cast<uint64_t>(d)) {
      fail<ModelError>("{}: shape {} claims more than the {} byte tensor limit", what, shape_str(shape),
                       max_tensor_bytes());
    }
    numel *= static_cast<uint64_t>(d);
  }
  const size_t nbytes = numel * esize;
  const int64_t n = static_cast<int64_t>(numel);

  const bool external = p.has_data_location() && p.data_location() == TensorProto::EXTERNAL;
  if (external) {
    if (n > 0 && model_dir.empty()) {
      fail<ModelError>("{}: external data needs the model's directory (load the model from a file)", what);
    }
    Tensor t(dtype, shape);
    if (n > 0) read_external(p, what, model_dir, t.raw(), nbytes);
    return t;
  }

  if (p.has_raw_data()) {
    if (p.raw_data().size() != nbytes) {
      fail<ModelError>("{}: raw_data has {} bytes, shape {} of {} needs {}", what, p.raw_data().size(),
                       shape_str(shape), dtype_name(dtype), nbytes);
    }
    if (owner && nbytes >= kShareRawDataBytes) {
      // The string's heap buffer (16-byte aligned by operator new) lives as long as the proto.
      auto* bytes = reinterpret_cast<std::byte*>(const_cast<char*>(p.raw_data().data()));
      return Tensor(dtype, shape, std::shared_ptr<std::byte[]>(std::const_pointer_cast<void>(owner), bytes), nbytes);
    }
    Tensor t(dtype, shape);
    if (nbytes) std::memcpy(t.raw(), p.raw_data().data(), nbytes);
    return t;
  }

  // Typed repeated fields: which one holds the data depends on the type (see onnx.proto).
  switch (dtype) {
    case DType::kFloat32: {
      check_count(p.float_data_size(), n, what, "float_data");
      Tensor t(dtype, shape);
      copy_field<float>(p.float_data(), t);
      return t;
    }
    case DType::kFloat64: {
      check_count(p.double_data_size(), n, what, "double_data");
      Tensor t(dtype, shape);
      copy_field<double>(p.double_data(), t);
      return t;
    }
    case DType::kInt64: {
      check_count(p.int64_data_size(), n, what, "int64_data");
      Tensor t(dtype, shape);
      copy_field<int64_t>(p.int64_data(), t);
      return t;
    }
    case DType::kFloat16: {
      // int32_data holds the IEEE half bit patterns.
      check_count(p.int32_data_size(), n, what, "int32_data");
      Tensor t(dtype, shape);
      copy_field<uint16_t>(p.int32_data(), t);
      return t;
    }
    case DType::kBool: {
      check_count(p.int32_data_size(), n, what, "int32_data");
      Tensor t(dtype, shape);
      auto* dst = reinterpret_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) dst[i] = p.int32_data(static_cast<int>(i)) != 0 ? 1 : 0;
      return t;
    }
    case DType::kInt32:
    case DType::kInt16:
    case DType::kInt8:
    case DType::kUInt8: {
      check_count(p.int32_data_size(), n, what, "int32_data");
      Tensor t(dtype, shape);
      if (dtype == DType::kInt32) copy_field<int32_t>(p.int32_data(), t);
      if (dtype == DType::kInt16) copy_field<int16_t>(p.int32_data(), t);
      if (dtype == DType::kInt8) copy_field<int8_t>(p.int32_data(), t);
      if (dtype == DType::kUInt8) copy_field<uint8_t>(p.int32_data(), t);
      return t;
    }
  }
  fail<UnsupportedError>("{}: data type {} is not supported", what, onnx_type_name(p.data_type()));
}

Tensor read_tensor_pb(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) fail<DataError>("{}: cannot read tensor file", path);
  // Room for the tensor plus its name and dims; protobuf itself cannot parse past 2 GiB.
  const uintmax_t limit = std::min<uintmax_t>(max_tensor_bytes() + (1u << 20), std::numeric_limits<int>::max());
  if (size > limit) fail<DataError>("{}: tensor file of {} bytes is over the {} byte limit", path, size, limit);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail<DataError>("{}: cannot open tensor file", path);
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size) fail<DataError>("{}: short read", path);
  TensorProto p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    fail<DataError>("{}: not a valid serialized ONNX TensorProto", path);
  }
  bytes.clear();
  try {
    const fs::path dir = fs::path(path).parent_path();
    return tensor_from_proto(p, path, dir.empty() ? "." : dir.string());
  } catch (const UnsupportedError&) {
    throw;
  } catch (const ModelError& e) {
    throw DataError(e.what());
  }
}

}  // namespace eff
