// Dynamic gate decisions of seed 003 computed from the simulated layer's real values: per output
// (filter, window), whether the partial sum the gate sees is above the layer's threshold. Both
// kinds compare in the float domain of the pre-activation output (code sum x activation step x
// weight step, plus the layer's bias where the source knows it: SimLayer::bias), the domain of
// the gates file's thresholds (sim/gates_file.h) and of `effectual gate` (src/gating).
#pragma once

#include <cstdint>
#include <vector>

#include "gating/gates_file.h"
#include "sim/layer.h"

namespace eff::sim {

using gating::LayerGate;
struct SimContext;

// The layer's channels per group as the model has them (3 for a space-to-depth first layer,
// whose stored channels are the 3 image channels folded by phase).
int64_t model_channels(const SimLayer& l);

// Channel gating: the base path is the first `base_channels` of model_channels(l) in every group
// (a folded first layer: stored channel c' is base when c' mod 3 < base_channels). Returns
// on[k * windows + w] = 1 when the base partial sum of filter k at window w is above `threshold`
// (then the output also takes the conditional path). `base_channels` in [1, model_channels].
std::vector<uint8_t> channel_gate_decisions(const SimLayer& l, int64_t base_channels, double threshold, int threads);
// The same with a threshold per filter (l.K of them; a gates file's per-channel thresholds), and
// a grouped base path (gating::on_base_path: `groups` divides model_channels(l) and the filters
// per group, base_channels = model_channels / groups).
std::vector<uint8_t> channel_gate_decisions(const SimLayer& l, int64_t base_channels,
                                            const std::vector<double>& thresholds, int threads,
                                            gating::Grouping grouping = gating::Grouping::kFirst, int64_t groups = 1);
// A gate's threshold for each of `filters` filters (its per-channel ones, or the layer's for all).
std::vector<double> filter_thresholds(const LayerGate& gate, int64_t filters);

// Precision gating: every activation re-coded in the gate's B-bit format (round to nearest, ties
// away from zero, saturated), its low B - B_hb bits cleared (floor), times the weights, summed
// over the whole reduction; on = above the gate's threshold (the output also takes its low bits).
double high_order_part(double x, const LayerGate& gate);
std::vector<uint8_t> precision_gate_decisions(const SimLayer& l, const LayerGate& gate, int threads);

// Precision gating on a bit-serial design: the layer's gate from a precision --gates file (a layer
// the file does not list, a depthwise layer, or no such file: nullptr, the layer runs ungated).
const LayerGate* precision_gate(const SimLayer& l, const SimContext& ctx);

// Per pass of the step walk of a dense layer (group, filter set of `filters_per_set` filters,
// window set of `columns` windows): whether any output of the pass has its gate on, index
// (group * filter_sets + f) * window_sets + wset. A pass whose outputs are all off can stop after
// the high-order bits: the columns and rows of a bit-serial array advance in lock-step.
std::vector<uint8_t> pass_any_on(const SimLayer& l, const std::vector<uint8_t>& on, int64_t filters_per_set,
                                 int64_t filter_sets, int64_t columns, int64_t window_sets);

}  // namespace eff::sim
