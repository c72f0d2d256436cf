// The gates file: per conv layer, the dynamic gate of seed 003, written by `effectual gate --out`
// and read by the engine (`eval`/`run`/`bench --gates`, gating/gates.h) and the simulator
// (`simulate --gates`, sim/gates_file.h): one schema, one reader.
//   {"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.25,
//    "layers":[{"layer":"conv2","base_channels":16,"threshold":0.5}, ...]}
//   {"format":"effectual-gates","version":1,"kind":"precision",
//    "layers":[{"layer":"conv2","bits":8,"high_bits":4,"threshold":0.1,"frac_bits":5,"signed":false}, ...]}
// channel:   the first `base_channels` input channels of each group form the base path; an output
//            whose base result is above the threshold also takes the conditional path.
// precision: activations are B-bit codes (value = code x 2^-frac_bits, two's complement when
//            signed); the top `high_bits` are computed for every output, the low bits only where
//            the high-order result is above the threshold.
// grouping (channel, optional, default "first"): how each output channel's base channels are
//            chosen (seed 003, "channel gating composes with grouping"): "first" = the first
//            `base_channels` of each group for every output; "contiguous" / "shuffle" = the layer's
//            `groups` G split each conv group's output channels into G consecutive blocks and its
//            input channels into G sets, consecutive blocks (contiguous) or {c : c mod G = k}
//            (shuffle); output block k's base path is input set k, base_channels = channels / G.
//            Grouped files carry `groups` in every layer entry.
// `layer` is the name `effectual info` prints. Thresholds are in the float domain of the layer's
// pre-activation output (bias and folded BatchNormalization included): `threshold` one for the
// layer ("-inf" as a string, null or absent: every gate on; "inf": every gate off), or
// `thresholds` one per output channel (instead of `threshold`). Unknown keys and bad values are a
// ConfigError naming the file and the field.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eff::gating {

enum class GateKind { kChannel, kPrecision };
std::string kind_name(GateKind k);

// Which input channels form an output channel's base path (channel gating; see the file comment).
enum class Grouping { kFirst, kContiguous, kShuffle };
std::string grouping_name(Grouping g);
// "first" | "contiguous" | "shuffle"; false otherwise.
bool parse_grouping(const std::string& text, Grouping& out);

// Whether input channel c (0 <= c < cg, counted within its conv group) is on the base path of
// output channel i (0 <= i < mg, within its conv group). kFirst: c < base_channels; grouped:
// `groups` divides cg and mg, output block i / (mg / groups) reads input set k (c / (cg / groups)
// == k contiguous, c mod groups == k shuffle).
bool on_base_path(Grouping grouping, int64_t groups, int64_t base_channels, int64_t cg, int64_t mg, int64_t c,
                  int64_t i);

struct LayerGate {
  std::string layer;
  float threshold = -std::numeric_limits<float>::infinity();  // -inf: every gate on
  int64_t base_channels = 0;                                  // channel: per group
  int64_t groups = 1;  // channel, grouped plans: G (base_channels = input channels per group / G)
  int bits = 8, high_bits = 4, frac_bits = 0;  // precision
  bool is_signed = false;
  std::vector<float> thresholds;  // per output channel; when given, `threshold` is unused

  float threshold_of(int64_t filter) const {
    return thresholds.empty() ? threshold : thresholds.at(static_cast<size_t>(filter));
  }
  // Every gate on whatever the values: the layer runs as if ungated.
  bool always_on() const;
};

struct GatePlan {
  std::string path;  // the file it was read from (for messages), empty when built in memory
  GateKind kind = GateKind::kChannel;
  double base_fraction = 1.0;            // channel: the fraction the thresholds were found for (informative)
  Grouping grouping = Grouping::kFirst;  // channel
  std::vector<LayerGate> layers;
  // The layer's gate, nullptr when the plan does not list it (the layer runs ungated).
  const LayerGate* find(const std::string& layer) const;
};

nlohmann::json gates_json(const GatePlan& plan);
// `source` names the file in errors.
GatePlan parse_gates(const nlohmann::json& doc, const std::string& source);
GatePlan parse_gates(const std::string& text, const std::string& source);
GatePlan parse_gates(const char* text, const std::string& source);
GatePlan read_gates_file(const std::string& path);

}  // namespace eff::gating
