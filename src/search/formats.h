// Fixed-point formats as the precision search chooses them: integer bits from an operand's
// largest magnitude, a sign bit only for operands with negative values, fraction bits searched.
// And the costs being minimised (MAC-weighted bits, docs/search.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/value_transform.h"

namespace eff::search {

// The fewest integer bits that hold `max_abs` without saturating at the coarsest step (frac 0):
// unsigned: smallest I >= 0 with max_abs < 2^I; signed: smallest I >= 1 (sign included) with
// max_abs < 2^(I-1). Capped at the widest format (15 unsigned, 16 signed). frac_bits = 0.
FixedPointFormat integer_format(double max_abs, bool negative);
// The most fraction bits `f` can take (16-bit signed, 15-bit unsigned storage).
int max_frac_bits(const FixedPointFormat& f);
// The fewest fraction bits `f` can take (an unsigned format with no integer bits needs one).
int min_frac_bits(const FixedPointFormat& f);

enum class Objective { kActivations, kProducts, kMemory };
std::string objective_name(Objective o);
// UsageError unless "activations", "products" or "memory".
Objective parse_objective(const std::string& s);

// What one layer contributes to a cost: its MACs and operand sizes (per image).
struct LayerCostShape {
  int64_t macs = 0, act_count = 0, wgt_count = 0;
};

// The cost of a layer at activation precision pa and weight precision pw:
//   activations: macs * pa (Stripes and Dynamic Stripes time), plus macs * pw / 1024 so that
//                weights are still trimmed where that costs no accuracy;
//   products:    macs * pa * pw (Loom, Tartan);
//   memory:      act_count * pa + wgt_count * pw (footprint bits).
double layer_cost(Objective o, const LayerCostShape& l, int pa, int pw);

// "9-8-5-5-7": the seed's notation of per-layer precisions.
std::string precision_notation(const std::vector<int>& bits);

// Seed 001 Table 2's ideal Stripes speedup: 16 * sum(macs) / sum(macs * Pa).
double stripes_ideal_speedup(const std::vector<int64_t>& macs, const std::vector<int>& act_bits);

}  // namespace eff::search
