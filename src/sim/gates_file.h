// The gates file (`effectual simulate --gates FILE`, written by `effectual gate --out`): per layer,
// the dynamic gate the simulated designs apply (seed 003). Two kinds:
//   channel:   the first `base_channels` input channels form the base path; an output whose base
//              partial sum is above `threshold` also takes the conditional path (the other channels).
//   precision: activations are `bits` wide; the top `high_bits` are computed for every output and
//              the low bits only where the high-order partial sum is above `threshold`.
// Thresholds are in the float domain of the layer's pre-activation output (code sums times the
// activation and weight steps). JSON, format "effectual-gates" version 1; unknown keys and bad
// values are a ConfigError naming the file and the field (docs/simulator-designs.md).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace eff::sim {

enum class GateKind { kChannel, kPrecision };

struct LayerGate {
  std::string layer;            // the layer name as `effectual info` prints it (SimLayer::name)
  int64_t base_channels = 0;    // channel kind
  int bits = 0, high_bits = 0;  // precision kind: B and B_hb of the B-bit codes
  int frac_bits = 0;            // precision kind: value = code x 2^-frac_bits
  bool is_signed = false;       // precision kind: two's-complement codes
  // Gate on where the partial sum (bias included) exceeds it; "-inf", null or absent: always on.
  double threshold = -std::numeric_limits<double>::infinity();
};

struct GatesFile {
  std::string path;
  GateKind kind = GateKind::kChannel;
  double base_fraction = 0;  // channel kind: the global fraction the thresholds were found for
  std::vector<LayerGate> layers;
  // The layer's gate, nullptr when the file does not list it (the layer runs ungated).
  const LayerGate* find(const std::string& layer) const;
};

// `text` is the file's content, `path` names it in errors.
GatesFile parse_gates(const std::string& text, const std::string& path);
GatesFile read_gates_file(const std::string& path);

}  // namespace eff::sim
