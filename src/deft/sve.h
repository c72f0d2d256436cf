// Synapse vector elimination (seed 004 section 4.1). For a layer Out = W (M x K) * In (K x N) -
// FC: In's rows are the inputs; conv: the im2col rows (c, ky, kx) - the K synapse vectors are the
// rows of In, seen here as the K columns of S = In^T (calibration samples as rows). From their
// correlation on calibration data (equation 6), a greedy search keeps the vector that represents
// the most others at correlation >= alpha (equation 7), drops those, and repeats. At run time the
// kept rows are moved to the front by swapping misplaced pairs (Figure 5), K is truncated to K - D
// and the dense kernel runs on the smaller problem; the weights are reordered offline.
//
// Compensation for the dropped vectors: none; the paper's scale K / (K - D) (equation 5); or,
// beyond the paper, a least-squares fold: each dropped vector is In_d ~ a * In_r + b on the
// calibration data (r its representative), so W[:, r] += a W[:, d] and bias += b W[:, d], which is
// exact when In_d is a linear function of In_r.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace eff::deft {

enum class Compensation { kNone, kScale, kFold };
std::string compensation_name(Compensation c);
bool parse_compensation(const std::string& name, Compensation& out);

struct SvePlan {
  int64_t depth = 0;  // K
  double alpha = 1.0;
  std::vector<int32_t> order;           // the K - D kept synapses, by position after the swaps
  std::vector<int32_t> representative;  // per synapse: the kept synapse standing for it (itself if kept)
  std::vector<float> slope, offset;     // per synapse: In_k ~ slope * In_rep + offset (1, 0 when kept)
  // Figure 5: (position < K - D holding a dropped synapse, position >= K - D holding a kept one).
  std::vector<std::pair<int32_t, int32_t>> swaps;
  int64_t constant = 0;  // synapses without variance on the calibration data (kept)

  int64_t kept() const { return static_cast<int64_t>(order.size()); }
  int64_t dropped() const { return depth - kept(); }
};

// `calib`: n samples of k synapses, row stride ld. threads as in gemm().
SvePlan sve_select(const float* calib, int64_t n, int64_t k, int64_t ld, double alpha, int threads = 1);

// The plan keeping every synapse (alpha above 1): order 0..K-1, no swaps.
SvePlan sve_identity(int64_t k);

struct SveWeights {
  int64_t rows = 0, depth = 0;  // M, K - D
  std::vector<float> weights;   // M x (K - D), columns in plan.order
  std::vector<float> bias;      // M
};
// `w`: M x K (row stride ldw); `bias`: M values or null (zeros).
SveWeights sve_weights(const SvePlan& plan, const float* w, int64_t m, int64_t ldw, const float* bias, Compensation c);

// Run time, in place (Figure 5): after it, the first K - D values of each of the j rows (stride
// lds >= K) are the kept synapses in plan.order.
void sve_swap_rows(const SvePlan& plan, float* s, int64_t j, int64_t lds);
// The same into a compact copy: out[r][p] = s[r][order[p]] (row stride K - D).
void sve_gather_rows(const SvePlan& plan, const float* s, int64_t j, int64_t lds, float* out);

}  // namespace eff::deft
