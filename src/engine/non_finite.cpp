#include "engine/non_finite.h"

#include <cmath>

namespace eff {

namespace {

template <class T>
NonFinite count_in(const T* p, int64_t n) {
  int64_t nan = 0, inf = 0;
  for (int64_t i = 0; i < n; ++i) {
    nan += std::isnan(p[i]);
    inf += std::isinf(p[i]);
  }
  return {nan, inf};
}

}  // namespace

NonFinite count_non_finite(const Tensor& t) {
  if (!t.defined()) return {};
  switch (t.dtype()) {
    case DType::kFloat32:
      return count_in(t.data<float>(), t.numel());
    case DType::kFloat64:
      return count_in(t.data<double>(), t.numel());
    case DType::kFloat16: {
      // Exponent all ones: infinity when the mantissa is 0, NaN otherwise.
      NonFinite c;
      const auto* h = reinterpret_cast<const uint16_t*>(t.raw());
      for (int64_t i = 0; i < t.numel(); ++i) {
        if ((h[i] & 0x7c00) != 0x7c00) continue;
        if (h[i] & 0x03ff) {
          ++c.nan;
        } else {
          ++c.inf;
        }
      }
      return c;
    }
    default:
      return {};
  }
}

bool has_non_finite(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::kFloat32) return count_non_finite(t).any();
  // x * 0 is NaN exactly when x is NaN or infinite, and NaN survives any order of additions, so
  // the reduction may be vectorised freely.
  const float* p = t.data<float>();
  float acc = 0.f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < t.numel(); ++i) acc += p[i] * 0.f;
  return acc != acc;
}

std::string to_string(const NonFinite& n) {
  if (!n.any()) return "no NaN or Inf";
  return fmt::format("{} NaN, {} Inf", n.nan, n.inf);
}

void NonFiniteObserver::on_layer(const LayerInfo& layer, const Tensor&, const Tensor&, const Tensor& output) {
  if (per_layer_.size() <= static_cast<size_t>(layer.index)) per_layer_.resize(layer.index + 1);
  Entry& e = per_layer_[layer.index];
  e.layer = layer.name;
  e.counts += count_non_finite(output);
}

std::vector<NonFiniteObserver::Entry> NonFiniteObserver::layers_with_non_finite() const {
  std::vector<Entry> out;
  for (const Entry& e : per_layer_) {
    if (e.counts.any()) out.push_back(e);
  }
  return out;
}

}  // namespace eff
