// Live simulation: images of a data set run through the engine one at a time, each conv/FC layer
// simulated as it is produced (CaptureSimulator), then dropped. Shared by `simulate` and by the
// precision search's speedup table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "data/dataset.h"
#include "engine/executor.h"
#include "engine/non_finite.h"
#include "sim/simulator.h"

namespace eff::sim {

struct LiveOptions {
  int64_t first = 0;
  int64_t end = 0;  // one past the last image
  bool space_to_depth = true;
  bool check_values = false;
  std::function<void()> on_image;         // progress
  NonFinite* input_non_finite = nullptr;  // when set: NaN/Inf counted over every input fed
};

// `exec` must apply `transforms` itself (the engine's hooks); the simulator quantizes the values it
// captures with the same transforms. The executor's observer is restored to none afterwards.
void simulate_live(Executor& exec, const Dataset& data, SimRun& run,
                   const std::map<std::string, LayerTransform>& transforms, const LiveOptions& o);

}  // namespace eff::sim
