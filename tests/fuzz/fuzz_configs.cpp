// libFuzzer target: arbitrary bytes through every configuration reader users feed by hand: the
// precision profile and thresholds JSON (--precision-profile, --thresholds), the design YAML
// (--config), the network YAML (--synthetic --network), the technology table (--technology) and the DDR4
// timing table (--dram).
// The first byte picks the reader.
// ConfigError/UsageError (any eff::Error) is the expected outcome for bad input; anything else
// (crash, sanitizer report, another exception, runaway memory) is a finding.
// Seeds: tests/fuzz/corpus/configs/ (the first byte of each seed selects its reader).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "engine/transform_files.h"
#include "sim/cost/dram.h"
#include "sim/cost/technology.h"
#include "sim/simulator.h"
#include "sim/sources.h"

namespace {
std::vector<eff::LayerInfo> fake_layers() {
  std::vector<eff::LayerInfo> layers;
  const char* names[] = {"conv1", "conv2", "fc"};
  const char* ops[] = {"Conv", "Conv", "Gemm"};
  for (int i = 0; i < 3; ++i) {
    eff::LayerInfo l;
    l.index = i;
    l.node = i;
    l.name = names[i];
    l.op = ops[i];
    layers.push_back(l);
  }
  return layers;
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  eff::set_max_tensor_bytes(size_t{64} << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::vector<eff::LayerInfo> layers = fake_layers();
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    std::map<std::string, eff::LayerTransform> out;
    switch (data[0] % 6) {
      case 0:
        eff::parse_precision_profile(text, "fuzz.json", layers, out);
        break;
      case 1:
        eff::parse_thresholds(text, "fuzz.json", layers, out);
        break;
      case 2:
        (void)eff::sim::build_designs("all", text, "fuzz.yaml");
        break;
      case 3:
        (void)eff::sim::network_from_yaml(text, "fuzz.yaml");
        break;
      case 5:
        (void)eff::sim::cost::parse_dram(text, "fuzz.yaml");
        break;
      default:
        (void)eff::sim::cost::parse_technology(text, "fuzz.yaml");
        break;
    }
  } catch (const eff::Error&) {
  }
  return 0;
}
