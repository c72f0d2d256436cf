// Outlier channel splitting (Zhao, Hu, Dotzel, De Sa, Zhang, ICML 2019; seed 003). A layer
// computes sum_c W[., c, .] x_c over its input channels c. Splitting channel c duplicates it:
//   weight split      W[., c, .] / 2 twice, x_c twice          (halves a weight outlier)
//   activation split  W[., c, .] twice,     x_c / 2 twice      (halves an activation outlier)
// Both keep the layer's function (the halving by 2 is exact in floating point; only the order of
// the float sums changes). Each split takes the channel that holds the current largest |value|,
// so a channel can be split again. The expanded layer reads its input through a Gather of the
// source channels (and a Mul by the activation factors when activations were split): the
// producer's channel duplicated without recomputing it.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace eff::quant {

struct ChannelSplit {
  int64_t channels = 0;  // input channels before splitting (all groups)
  // Grouped convolutions: every group splits its own channels, the same number in each (a group
  // must keep C'/g channels), and the expanded channels are group-contiguous; `source` holds
  // input-channel indices over all groups.
  int64_t groups = 1;
  std::vector<int64_t> source;       // per expanded channel: the input channel it reads
  std::vector<float> weight_factor;  // per expanded channel: 1, 1/2, 1/4 ... of the source's weights
  std::vector<float> act_factor;     // per expanded channel: 1, 1/2, ... of the source's activations
  int weight_splits = 0, act_splits = 0;
  bool identity() const { return weight_splits == 0 && act_splits == 0; }
  bool act_scaled() const { return act_splits > 0; }
};

// Number of channels a ratio splits: ceil(ratio * channels), so any ratio > 0 splits at least one.
int64_t split_count(double ratio, int64_t channels);

// `weights` viewed as [outer, channels, inner] with the input channels on `in_axis`. First
// `weight_splits` weight splits, each of the channel holding the largest |weight| (ties: lowest
// index), then `act_splits` activation splits, each of the channel whose activation max
// (act_channel_max[source] * act_factor) is largest (act_channel_max may be empty when
// act_splits is 0).
ChannelSplit plan_split(const Tensor& weights, int in_axis, int64_t weight_splits,
                        const std::vector<float>& act_channel_max, int64_t act_splits);

// Splits of a grouped layer: plan_split on each group's slice of `weights` (rows [G, G + 1) x
// dim 0 / groups: a Conv's output channels of group G, a ConvTranspose's input channels of group
// G) and of the activation maxima, `weight_splits` and `act_splits` in each group, joined.
ChannelSplit plan_grouped_split(const Tensor& weights, int in_axis, int64_t groups, int64_t weight_splits,
                                const std::vector<float>& act_channel_max, int64_t act_splits);

// The expanded weights: W'[., j, .] = W[., source[j], .] * weight_factor[j]. With groups and
// in_axis > 0 (a grouped Conv, whose weights hold C/g input channels), output rows of group G read
// the group's own expanded channels.
Tensor expand_weights(const Tensor& weights, int in_axis, const ChannelSplit& split);

// x'[.., j, ..] = x[.., source[j], ..] * act_factor[j] along `axis` (the reference the ONNX
// Gather + Mul compute; for tests and calibration).
Tensor expand_activations(const Tensor& x, int axis, const ChannelSplit& split);

}  // namespace eff::quant
