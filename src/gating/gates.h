// Gates on a whole model (seed 003): which conv layers run as GatedConv nodes (gating/gated_conv.h)
// with which base path and threshold, the gates file that records them (docs/gating.md), and the
// graph rewrite applied at load time (LoadOptions::layer_rewrite), so `eval`, `run` and `bench`
// use gated layers like any other.
//
// The gates file:
//   {"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.25,
//    "layers":[{"layer":"conv2","base_channels":16,"threshold":0.5}, ...]}
//   {"format":"effectual-gates","version":1,"kind":"precision",
//    "layers":[{"layer":"conv2","bits":8,"high_bits":4,"threshold":0.1,"frac_bits":5,"signed":false}, ...]}
// `layer` is the layer name `effectual info` prints; `threshold` is in the float domain of the
// layer's pre-activation output (bias and folded BatchNormalization included), a gate is on where
// the base result exceeds it ("-inf" as a string, or null: every gate on). base_channels counts
// the input channels of each group on the base path. frac_bits and signed (precision only) give
// the fixed-point format of the B-bit codes: value = code x 2^-frac_bits.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graph/ir.h"

namespace eff::gating {

enum class GateKind { kChannel, kPrecision };
std::string kind_name(GateKind k);

struct LayerGate {
  std::string layer;
  float threshold = 0;                         // -inf: every gate on
  int64_t base_channels = 0;                   // channel: per group
  int bits = 8, high_bits = 4, frac_bits = 0;  // precision
  bool is_signed = false;
};

struct GatePlan {
  GateKind kind = GateKind::kChannel;
  double base_fraction = 1.0;  // channel: the fraction the plan was made for (informative)
  std::vector<LayerGate> layers;
};

// Whether the node can become a GatedConv: a 2-D Conv with constant fp32 weights (and bias), Relu,
// Clip or no fused activation, not quantized, explicit padding. `why` says what stops it.
bool gate_eligible(const Graph& g, const Node& n, std::string* why);

// The conv layers that gating can cover in execution order (names), and the rest ("name: why").
struct Coverage {
  std::vector<std::string> gated, skipped;
};
Coverage gate_coverage(const Graph& g);

// Input channels per group on the base path for `fraction` of `channels_per_group`: the fraction
// rounded down, at least 1. Equal to channels_per_group means nothing is conditional.
int64_t base_channels_for(double fraction, int64_t channels_per_group);

// "1/4", "0.25" or "25%": a fraction in (0, 1]; UsageError naming `flag` otherwise.
double parse_fraction(const std::string& text, const std::string& flag);

// Replaces the named Conv nodes by GatedConv nodes (names kept). With `count_outputs`, each also
// produces its per-image count of gated-on outputs, appended to the graph's outputs in plan order
// (value names "<layer>/gates_on"). ConfigError if a layer is missing or not eligible.
void apply_gates(Graph& g, const GatePlan& plan, bool count_outputs = false);

// Checks the plan against a loaded model before the rewrite (which runs inside the loader, where
// every error becomes a ModelError): ConfigError naming `source` and the layer otherwise.
void check_gates(const Graph& g, const GatePlan& plan, const std::string& source);

// Sets the thresholds of a graph already rewritten by apply_gates (same plan layer order), without
// touching its structure: the search's evaluations differ only in them.
void set_thresholds(Graph& g, const std::vector<std::string>& layers, const std::vector<float>& thresholds);

nlohmann::json gates_json(const GatePlan& plan);
// ConfigError naming `source` and the field for anything malformed or unknown.
GatePlan parse_gates(const nlohmann::json& j, const std::string& source);
GatePlan read_gates_file(const std::string& path);

}  // namespace eff::gating
