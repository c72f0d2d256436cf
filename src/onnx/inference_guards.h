// Guards in front of libonnx 1.12 shape-inference functions that index or divide by values taken
// from the model without checking them (found by fuzzing the loader: SIGFPE and out-of-bounds
// reads in convPoolShapeInference). Each guard checks what the wrapped function relies on and
// throws ModelError otherwise, so hostile models fail cleanly instead of crashing the process.
#pragma once

namespace eff {

// Wraps the affected schemas' inference functions in libonnx's global schema registry, once per
// process (thread-safe; later calls do nothing). The loader calls it before shape inference.
void install_onnx_inference_guards();

}  // namespace eff
