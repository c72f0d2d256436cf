// ONNX TensorProto -> Tensor. Everything a model file or a conformance test's .pb file says about
// a tensor's size is checked against the data actually present (and against max_tensor_bytes())
// before anything is allocated, so a hostile file cannot make us allocate what it only claims.
#pragma once

#include <onnx/onnx_pb.h>

#include <memory>
#include <string>

#include "core/tensor.h"

namespace eff {

// Maps an ONNX TensorProto_DataType to our DType; throws UnsupportedError naming `where` for
// types the engine does not hold (STRING, COMPLEX*, BFLOAT16, UINT16/32/64).
DType dtype_from_onnx(int32_t onnx_type, const std::string& where);
// Name of an ONNX data type ("FLOAT16", "STRING"), for messages.
std::string onnx_type_name(int32_t onnx_type);

// Converts a TensorProto (raw_data or the typed repeated fields). `where` prefixes messages
// ("model.onnx: initializer" / "model.onnx: node 'c1' (Constant)"); the tensor's own name is
// appended. External data (data_location EXTERNAL) is read relative to `model_dir`, which must be
// non-empty then; locations that escape model_dir are refused.
// With `owner` (something that keeps `p` alive and unchanged), raw_data of at least
// kShareRawDataBytes is shared with the tensor rather than copied: a VGG-16 file is 0.5 GB, and
// a copy costs as much time as the parse.
constexpr size_t kShareRawDataBytes = size_t{1} << 16;
Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& where, const std::string& model_dir = "",
                         const std::shared_ptr<const void>& owner = nullptr);

// Reads a file holding one serialized TensorProto (the ONNX conformance tests' input_0.pb).
// Missing or malformed files throw DataError; external data is resolved next to the file.
Tensor read_tensor_pb(const std::string& path);

}  // namespace eff
