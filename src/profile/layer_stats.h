// Per-layer analyses beyond value counts: compute and memory (seed 002), roofline placement,
// synapse-vector redundancy (DeftNN, seed 004) and partial-sum correlation (channel gating,
// seed 003). Pure functions on a layer's geometry and tensors; docs/profile.md has the formulas.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/geometry.h"

namespace eff::profile {

// ---- compute and memory (seed 002, "Inference: Compute & Memory Analysis"), per image ----------

struct ComputeMemory {
  int64_t macs = 0;
  int64_t ops = 0;                                             // 2 * MACs (one multiply, one add)
  int64_t weights = 0;                                         // weight values (bias excluded)
  int64_t input_values = 0;                                    // input activations
  int64_t output_values = 0;                                   // output activations
  double weight_bytes = 0, input_bytes = 0, output_bytes = 0;  // at `bits` per value
  // ops per byte:
  double intensity_weights = 0;  // ops / weight bytes (seed 002: "with respect to weights, off-chip")
  double intensity_offchip = 0;  // ops / (weights + inputs + outputs): everything crosses the interface
  double intensity_onchip = 0;   // ops / (inputs + outputs): weights stay on chip
};
ComputeMemory compute_memory(const LayerGeometry& g, int bits);

struct Machine {
  std::string name;
  double peak_ops_per_s = 0;
  double bytes_per_s = 0;
  std::string description;
};
// "cpu": this machine, nominal (cores x clock x fp32 ops per cycle by ISA; 20 GB/s);
// "dadiannao": seed 001 Table 1 (3.9 Tmul/s = 7.8 Tops/s) with the DDR4-3200 x 2 channel memory of
// ../shared/specs/accelerators.md §2.11 (51.2 GB/s).
std::vector<Machine> default_machines();
// "NAME=OPS,BYTES_PER_S" (numbers may use e notation); UsageError naming the flag otherwise.
Machine parse_machine(const std::string& spec);

struct RooflinePlacement {
  double intensity = 0;       // ops/byte
  double ridge = 0;           // peak / bandwidth, ops/byte
  double attainable = 0;      // min(peak, intensity * bandwidth), ops/s
  bool memory_bound = false;  // intensity < ridge
};
RooflinePlacement place_on_roofline(const Machine& m, double intensity);

// ---- synapse-vector redundancy (DeftNN) ---------------------------------------------------------

// Rows of a [rows][len] matrix are synapse vectors (one per input of the unrolled weight matrix:
// the weights that input meets in each filter). Row i represents row j when their Pearson
// correlation is >= alpha. DeftNN's greedy search: keep the row that represents the most remaining
// rows (ties: the lowest index), drop the rows it represents, repeat. Rows with zero variance have no
// correlation and are kept. Beyond `max_rows` rows, a fixed-seed sample of max_rows rows is used.
struct SynapseRedundancy {
  int64_t rows = 0;           // rows of the matrix
  int64_t rows_examined = 0;  // rows after sampling
  int64_t constant_rows = 0;  // zero variance (among those examined)
  std::vector<double> alphas;
  std::vector<int64_t> represented;        // per alpha: rows dropped because another row represents them
  void merge(const SynapseRedundancy& o);  // sums over conv groups
  double fraction(size_t a) const { return rows_examined ? static_cast<double>(represented[a]) / rows_examined : 0; }
};
SynapseRedundancy synapse_redundancy(const float* matrix, int64_t rows, int64_t len, const std::vector<double>& alphas,
                                     int64_t max_rows, uint64_t seed);

// The unrolled weight matrices of a layer, one per conv group: row (c, ky, kx) holds
// W[f][c][ky][kx] for the group's filters f. `weights` is the layer's weight tensor in ONNX layout
// (Conv [Nf, Ni/g, Ky, Kx]; FC [Nf, Ni] when `fc_nk`, else [Ni, Nf]). Null for deconv layers and
// when a synapse vector has fewer than 2 weights.
std::optional<SynapseRedundancy> layer_synapse_redundancy(const LayerGeometry& g, const float* weights, bool fc_nk,
                                                          const std::vector<double>& alphas, int64_t max_rows,
                                                          uint64_t seed);

// ---- partial-sum correlation (channel gating) ---------------------------------------------------

// Streaming Pearson correlation of pairs (x, y).
struct Pearson {
  int64_t n = 0;
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  void add(double x, double y) {
    ++n;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  void merge(const Pearson& o);
  std::optional<double> r() const;  // none when n < 2 or a variance is zero
};

// For sampled outputs of one image: x = the sum over the first floor(Cg / d) input channels of the
// output's conv group, y = the sum over all Cg channels (no bias: seed 003's partial and final
// sums), for each denominator d. `acts` is one image ([C][H][W]; FC [rows][Ni]); `samples` outputs
// are drawn with a fixed-seed hash of (seed, image), or all outputs when there are not more.
// out[i] receives the pairs for denominators[i] (left untouched when floor(Cg / d) == 0).
void accumulate_partial_sums(const LayerGeometry& g, const float* acts, const float* weights, bool fc_nk,
                             const std::vector<int>& denominators, int64_t samples, uint64_t seed, int64_t image,
                             std::vector<Pearson>& out);

// splitmix64: the fixed-seed hash behind every sample.
uint64_t mix64(uint64_t x);

}  // namespace eff::profile
