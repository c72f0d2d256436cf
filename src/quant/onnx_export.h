// IR graph -> ONNX ModelProto (libonnx's protobuf classes): the writer behind `effectual quantize
// --out`. Handles the graphs quantize produces: default-domain nodes, constants as initializers,
// graph inputs and outputs with their declared types and shapes (symbolic dims kept by name).
#pragma once

#include <string>

#include "graph/ir.h"

namespace eff::quant {

// The serialized model. Internal attributes (names starting "eff.") are not written.
std::string serialize_onnx(const Graph& g, const std::string& doc = "");
// Written atomically (core/fs.h).
void write_onnx(const Graph& g, const std::string& path, const std::string& doc = "");

}  // namespace eff::quant
