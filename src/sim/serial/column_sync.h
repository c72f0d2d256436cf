// How the columns of a bit-serial tile share time on fully-connected layers, beyond the plain
// rotation of layer.h (fc_rotation_cycles, dispatch = 1 cycle) that Stripes and Pragmatic use.
// Convolutions use layer.h's run_ahead_cycles.
#pragma once

#include <cstdint>
#include <vector>

namespace eff::sim::serial {

// Column rotation where handing a step over costs more than one cycle: the steps (chunks of L
// input channels of one filter set) go to the columns in turn; handing step s over occupies the
// tile's shared weight wires for dispatch[s] cycles (Loom: its weights arrive bit-serially, Pw
// cycles), and the column is busy busy[s] cycles from the start of its hand-over (load included)
// and must be free before it takes its next step. Returns when the last column finishes.
// With dispatch = 1 everywhere this is spec §2.2's rotation (t := max(t, end[c]);
// end[c] := t + cost; t := t + 1).
int64_t rotation_cycles_with_load(const std::vector<int>& dispatch, const std::vector<int>& busy, int columns);

// Tartan's fully-connected schedule (Delmas et al. 2017; seed 001 §5.3): all columns of a tile load
// their own weights at once, bit-serially over Pw cycles, through the wires that broadcast one
// weight per row on convolutions; the next round's load overlaps this round's Pa-cycle bit-serial
// processing. A two-stage pipeline over `rounds` rounds (one round = `columns` channel chunks of
// one filter set): Pw + (rounds - 1) * max(Pa, Pw) + Pa; no rounds, no cycles.
int64_t tartan_fc_cycles(int64_t rounds, int activation_bits, int weight_bits);

}  // namespace eff::sim::serial
