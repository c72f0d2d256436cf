#include "sim/live.h"

#include "sim/sources.h"

namespace eff::sim {

void simulate_live(Executor& exec, const Dataset& data, SimRun& run,
                   const std::map<std::string, LayerTransform>& transforms, const LiveOptions& o) {
  CaptureSimulator cap(run, transforms, exec.graph(), o.space_to_depth, o.check_values);
  cap.set_keep_weights(o.end - o.first > 1);
  exec.set_observer(&cap);
  try {
    for (int64_t i = o.first; i < o.end; ++i) {
      cap.set_first_image(static_cast<int>(i));
      const std::vector<Tensor> inputs = data.inputs(i, 1);
      if (o.input_non_finite) {
        for (const Tensor& t : inputs) *o.input_non_finite += count_non_finite(t);
      }
      exec.run(inputs);
      if (o.on_image) o.on_image();
    }
  } catch (...) {
    exec.set_observer(nullptr);
    throw;
  }
  exec.set_observer(nullptr);
}

}  // namespace eff::sim
