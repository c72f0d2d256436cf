// libFuzzer target: arbitrary bytes through the whole ONNX loader (protobuf parsing, tensor
// conversion, libonnx checker and shape inference, IR conversion, graph passes incl. constant
// folding with the real kernels). Typed eff::Errors are the expected outcome for bad input;
// anything else (crash, sanitizer report, other exception, runaway memory) is a finding.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "core/tensor.h"
#include "onnx/loader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Constant folding may legitimately build large tensors (Expand, ConstantOfShape); keep them
  // within the fuzzer's RSS limit. Larger claims are refused as they would be for users.
  eff::set_max_tensor_bytes(size_t{64} << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    eff::Graph g = eff::load_onnx_bytes(data, size, "fuzz.onnx");
    (void)g;
  } catch (const eff::Error&) {
  }
  return 0;
}
