// NaN and infinity counts. Non-finite values propagate through inference as ONNX Runtime
// propagates them; commands report where they appear instead of hiding them in class scores.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/executor.h"

namespace eff {

struct NonFinite {
  int64_t nan = 0;
  int64_t inf = 0;
  bool any() const { return nan + inf > 0; }
  NonFinite& operator+=(const NonFinite& o) {
    nan += o.nan;
    inf += o.inf;
    return *this;
  }
};

// Counts over a floating-point tensor (float32, float64, float16); integer tensors have none.
NonFinite count_non_finite(const Tensor& t);
// Whether any value is NaN or infinite: one vectorised pass, for checks on every inference.
bool has_non_finite(const Tensor& t);
// "3 NaN, 1 Inf" / "no NaN or Inf".
std::string to_string(const NonFinite& n);

// Counts non-finite values in every conv/FC layer's output, accumulated over runs.
class NonFiniteObserver final : public LayerObserver {
 public:
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                const Tensor& output) override;
  struct Entry {
    std::string layer;
    NonFinite counts;
  };
  // Layers whose output held a non-finite value, in execution order.
  std::vector<Entry> layers_with_non_finite() const;

 private:
  std::vector<Entry> per_layer_;  // by layer index
};

// Forwards each layer to several observers (a command that both profiles and counts).
class ObserverList final : public LayerObserver {
 public:
  explicit ObserverList(std::vector<LayerObserver*> observers) : observers_(std::move(observers)) {}
  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                const Tensor& output) override {
    for (LayerObserver* o : observers_) {
      if (o) o->on_layer(layer, activations, weights, output);
    }
  }
  bool reads_output_values() const override {
    return std::any_of(observers_.begin(), observers_.end(),
                       [](const LayerObserver* o) { return o && o->reads_output_values(); });
  }

 private:
  std::vector<LayerObserver*> observers_;
};

}  // namespace eff
