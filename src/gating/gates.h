// Gates on a whole model (seed 003): which conv layers run as GatedConv nodes (gating/gated_conv.h)
// with which base path and threshold, the gates file that records them (docs/gating.md), and the
// graph rewrite applied at load time (LoadOptions::layer_rewrite), so `eval`, `run` and `bench`
// use gated layers like any other.
//
// The gates file: gating/gates_file.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gating/gates_file.h"
#include "graph/ir.h"

namespace eff::gating {

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
// The same with a threshold per output channel of each layer.
void set_thresholds(Graph& g, const std::vector<std::string>& layers,
                    const std::vector<std::vector<float>>& per_channel);

}  // namespace eff::gating
