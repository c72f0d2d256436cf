// libFuzzer target: arbitrary bytes through the .npy reader (prelude, strict header parser, size
// checks, byte-order conversion). A DataError is the expected outcome for bad input. Whatever
// parses must survive a round trip through encode_npy unchanged; anything else (crash,
// sanitizer report, another exception, a failed round trip, runaway memory) is a finding.
// Seeds: tests/fuzz/corpus/npy/.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/tensor.h"
#include "data/npy.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Inputs are at most a few kB, so no honest header needs more; keeps allocation in check.
  eff::set_max_tensor_bytes(size_t{64} << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eff::Tensor t;
  try {
    t = eff::parse_npy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  } catch (const eff::Error&) {
    return 0;
  }
  const eff::Tensor back = eff::parse_npy(eff::encode_npy(t), "roundtrip.npy");
  if (back.dtype() != t.dtype() || back.shape() != t.shape() || back.nbytes() != t.nbytes() ||
      (t.nbytes() && std::memcmp(back.raw(), t.raw(), t.nbytes()) != 0)) {
    __builtin_trap();
  }
  return 0;
}
