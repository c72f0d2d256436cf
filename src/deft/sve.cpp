#include "deft/sve.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "deft/gemm.h"

namespace eff::deft {

std::string compensation_name(Compensation c) {
  switch (c) {
    case Compensation::kNone:
      return "none";
    case Compensation::kScale:
      return "scale";
    case Compensation::kFold:
      return "fold";
  }
  return "?";
}

bool parse_compensation(const std::string& name, Compensation& out) {
  for (Compensation c : {Compensation::kNone, Compensation::kScale, Compensation::kFold})
    if (compensation_name(c) == name) {
      out = c;
      return true;
    }
  return false;
}

SvePlan sve_identity(int64_t k) {
  SvePlan p;
  p.depth = k;
  p.alpha = 2.0;
  for (int64_t i = 0; i < k; ++i) {
    p.order.push_back(static_cast<int32_t>(i));
    p.representative.push_back(static_cast<int32_t>(i));
  }
  p.slope.assign(static_cast<size_t>(k), 1.f);
  p.offset.assign(static_cast<size_t>(k), 0.f);
  return p;
}

SvePlan sve_select(const float* calib, int64_t n, int64_t k, int64_t ld, double alpha, int threads) {
  if (n < 2 || k < 1) throw ShapeError("deft: synapse vector elimination needs at least 2 calibration samples");
  // Means in double, centred synapse vectors as rows (k x n), covariance by the fp32 kernel:
  // identical columns give bitwise identical covariances, so exact duplicates correlate at 1.
  std::vector<double> mean(static_cast<size_t>(k), 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < k; ++i) mean[i] += calib[s * ld + i];
  for (double& m : mean) m /= static_cast<double>(n);
  std::vector<float> centred(static_cast<size_t>(k * n));
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < k; ++i) centred[i * n + s] = static_cast<float>(calib[s * ld + i] - mean[i]);
  const PackedWeights packed = pack_weights(Format::kFp32, centred.data(), k, n, n);
  std::vector<float> cov(static_cast<size_t>(k * k));
  gemm(packed, centred.data(), k, n, cov.data(), k, {}, Isa::kAuto, threads);
  centred.clear();

  SvePlan p;
  p.depth = k;
  p.alpha = alpha;
  p.representative.assign(static_cast<size_t>(k), -1);
  p.slope.assign(static_cast<size_t>(k), 1.f);
  p.offset.assign(static_cast<size_t>(k), 0.f);
  std::vector<char> varies(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const double v = cov[i * k + i];
    varies[i] = v > 0 && v > 1e-12 * std::fabs(mean[i] * mean[i]) * static_cast<double>(n);
    if (!varies[i]) ++p.constant;
  }
  auto linked = [&](int64_t i, int64_t j) {
    if (!varies[i] || !varies[j]) return i == j;
    const double c = cov[i * k + j] / std::sqrt(double(cov[i * k + i]) * double(cov[j * k + j]));
    return i == j || c >= alpha;
  };
  // Equation 7 counts, kept current as synapses leave the active set: O(K^2) overall.
  std::vector<char> active(static_cast<size_t>(k), 1);
  std::vector<int64_t> represents(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) represents[i] += linked(i, j);
  std::vector<char> kept(static_cast<size_t>(k), 0);
  for (;;) {
    int64_t best = -1;
    for (int64_t i = 0; i < k; ++i)
      if (active[i] && (best < 0 || represents[i] > represents[best])) best = i;
    if (best < 0) break;
    kept[best] = 1;
    for (int64_t j = 0; j < k; ++j) {
      if (!active[j] || !linked(best, j)) continue;
      active[j] = 0;
      p.representative[j] = static_cast<int32_t>(best);
      if (j != best) {
        const double a = cov[best * k + j] / double(cov[best * k + best]);
        p.slope[j] = static_cast<float>(a);
        p.offset[j] = static_cast<float>(mean[j] - a * mean[best]);
      }
      for (int64_t l = 0; l < k; ++l)
        if (active[l] && linked(l, j)) --represents[l];
    }
  }
  // Figure 5: partition at K - D, pair misplaced dropped (front) with misplaced kept (back), swap.
  int64_t n_kept = 0;
  for (char c : kept) n_kept += c;
  std::vector<int32_t> at(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) at[i] = static_cast<int32_t>(i);
  int64_t back = n_kept;
  for (int64_t pos = 0; pos < n_kept; ++pos) {
    if (kept[pos]) continue;
    while (!kept[back]) ++back;
    p.swaps.emplace_back(static_cast<int32_t>(pos), static_cast<int32_t>(back));
    std::swap(at[pos], at[back]);
    ++back;
  }
  p.order.assign(at.begin(), at.begin() + n_kept);
  return p;
}

SveWeights sve_weights(const SvePlan& plan, const float* w, int64_t m, int64_t ldw, const float* bias, Compensation c) {
  SveWeights out;
  out.rows = m;
  out.depth = plan.kept();
  out.weights.resize(static_cast<size_t>(m * out.depth));
  out.bias.assign(static_cast<size_t>(m), 0.f);
  if (bias) std::copy(bias, bias + m, out.bias.begin());
  std::vector<int64_t> position(static_cast<size_t>(plan.depth), -1);
  for (int64_t p = 0; p < out.depth; ++p) position[plan.order[p]] = p;
  const float scale = c == Compensation::kScale ? float(double(plan.depth) / double(out.depth)) : 1.f;
  for (int64_t i = 0; i < m; ++i) {
    const float* row = w + i * ldw;
    float* dst = out.weights.data() + i * out.depth;
    for (int64_t p = 0; p < out.depth; ++p) dst[p] = row[plan.order[p]] * scale;
    if (c != Compensation::kFold) continue;
    double extra = 0;
    for (int64_t d = 0; d < plan.depth; ++d) {
      if (position[d] >= 0) continue;
      dst[position[plan.representative[d]]] += plan.slope[d] * row[d];
      extra += double(plan.offset[d]) * row[d];
    }
    out.bias[i] += static_cast<float>(extra);
  }
  return out;
}

void sve_swap_rows(const SvePlan& plan, float* s, int64_t j, int64_t lds) {
  for (int64_t r = 0; r < j; ++r) {
    float* row = s + r * lds;
    for (const auto& [front, back] : plan.swaps) std::swap(row[front], row[back]);
  }
}

void sve_gather_rows(const SvePlan& plan, const float* s, int64_t j, int64_t lds, float* out) {
  const int64_t kept = plan.kept();
  for (int64_t r = 0; r < j; ++r)
    for (int64_t p = 0; p < kept; ++p) out[r * kept + p] = s[r * lds + plan.order[p]];
}

}  // namespace eff::deft
