#include "quant/ocs.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace eff::quant {

int64_t split_count(double ratio, int64_t channels) {
  if (!(ratio > 0) || channels <= 0) return 0;
  return static_cast<int64_t>(std::ceil(ratio * static_cast<double>(channels) - 1e-9));
}

namespace {

struct View {
  int64_t outer = 1, channels = 1, inner = 1;
};

View view_of(const Shape& s, int axis) {
  EFF_ASSERT(axis >= 0 && axis < static_cast<int>(s.size()));
  View v;
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  v.channels = s[axis];
  for (size_t i = static_cast<size_t>(axis) + 1; i < s.size(); ++i) v.inner *= s[i];
  return v;
}

// Index of the largest value (ties: the lowest index).
size_t argmax(const std::vector<float>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

// Splits `count` times the channel whose running maximum is largest: both copies carry half of
// it (`halved` is the factor the split halves: weights or activations) and the same source.
void split_largest(ChannelSplit& s, std::vector<float>& running_max, std::vector<float>& halved, int64_t count) {
  for (int64_t k = 0; k < count; ++k) {
    const size_t j = argmax(running_max);
    running_max[j] *= 0.5f;
    halved[j] *= 0.5f;
    running_max.push_back(running_max[j]);
    s.source.push_back(s.source[j]);
    s.weight_factor.push_back(s.weight_factor[j]);
    s.act_factor.push_back(s.act_factor[j]);
  }
}

}  // namespace

ChannelSplit plan_split(const Tensor& weights, int in_axis, int64_t weight_splits,
                        const std::vector<float>& act_channel_max, int64_t act_splits) {
  const View v = view_of(weights.shape(), in_axis);
  ChannelSplit s;
  s.channels = v.channels;
  s.source.resize(static_cast<size_t>(v.channels));
  for (int64_t c = 0; c < v.channels; ++c) s.source[c] = c;
  s.weight_factor.assign(static_cast<size_t>(v.channels), 1.0f);
  s.act_factor.assign(static_cast<size_t>(v.channels), 1.0f);

  if (weight_splits > 0) {
    // Largest |weight| per channel; a split halves it on both copies (exactly), so the running
    // maxima need no second look at the weights.
    std::vector<float> col_max(static_cast<size_t>(v.channels), 0.0f);
    const float* w = weights.data<float>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t c = 0; c < v.channels; ++c) {
        const float* p = w + (o * v.channels + c) * v.inner;
        float m = col_max[c];
        for (int64_t i = 0; i < v.inner; ++i) m = std::max(m, std::fabs(p[i]));
        col_max[c] = m;
      }
    }
    split_largest(s, col_max, s.weight_factor, weight_splits);
    s.weight_splits += static_cast<int>(weight_splits);
  }
  if (act_splits > 0) {
    if (static_cast<int64_t>(act_channel_max.size()) != v.channels) {
      fail("internal error: activation split needs {} channel maxima, got {}", v.channels, act_channel_max.size());
    }
    std::vector<float> cur(s.source.size());
    for (size_t j = 0; j < cur.size(); ++j) cur[j] = act_channel_max[s.source[j]] * s.act_factor[j];
    split_largest(s, cur, s.act_factor, act_splits);
    s.act_splits += static_cast<int>(act_splits);
  }
  return s;
}

ChannelSplit plan_grouped_split(const Tensor& weights, int in_axis, int64_t groups, int64_t weight_splits,
                                const std::vector<float>& act_channel_max, int64_t act_splits) {
  if (groups <= 1) return plan_split(weights, in_axis, weight_splits, act_channel_max, act_splits);
  const int64_t rows = weights.dim(0), rows_per_group = rows / groups;
  const int64_t row_size = weights.numel() / std::max<int64_t>(rows, 1);
  EFF_ASSERT(rows_per_group * groups == rows);
  Shape slice_shape = weights.shape();
  slice_shape[0] = rows_per_group;
  ChannelSplit out;
  out.groups = groups;
  for (int64_t grp = 0; grp < groups; ++grp) {
    Tensor slice(DType::kFloat32, slice_shape);
    std::copy_n(weights.data<float>() + grp * rows_per_group * row_size, rows_per_group * row_size,
                slice.data<float>());
    const int64_t local = slice.dim(in_axis);
    std::vector<float> act;
    if (act_splits > 0) {
      if (static_cast<int64_t>(act_channel_max.size()) != local * groups) {
        fail("internal error: grouped activation split needs {} channel maxima, got {}", local * groups,
             act_channel_max.size());
      }
      act.assign(act_channel_max.begin() + grp * local, act_channel_max.begin() + (grp + 1) * local);
    }
    const ChannelSplit s = plan_split(slice, in_axis, weight_splits, act, act_splits);
    for (size_t j = 0; j < s.source.size(); ++j) {
      out.source.push_back(grp * local + s.source[j]);
      out.weight_factor.push_back(s.weight_factor[j]);
      out.act_factor.push_back(s.act_factor[j]);
    }
    out.channels += local;
    out.weight_splits += s.weight_splits;
    out.act_splits += s.act_splits;
  }
  return out;
}

Tensor expand_weights(const Tensor& weights, int in_axis, const ChannelSplit& split) {
  const View v = view_of(weights.shape(), in_axis);
  // A grouped Conv's rows of group G (outer / groups of them) read only that group's expanded
  // channels; without groups, one group holds every row and channel.
  const bool grouped = split.groups > 1 && v.channels * split.groups == split.channels;
  const int64_t groups = grouped ? split.groups : 1;
  if (!grouped) EFF_ASSERT(v.channels == split.channels);
  const int64_t n = static_cast<int64_t>(split.source.size()) / groups;
  const int64_t outer_per_group = v.outer / groups;
  Shape shape = weights.shape();
  shape[in_axis] = n;
  Tensor out(DType::kFloat32, shape);
  const float* w = weights.data<float>();
  float* o = out.data<float>();
  for (int64_t a = 0; a < v.outer; ++a) {
    const int64_t grp = a / outer_per_group;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t src = split.source[grp * n + j] - grp * v.channels;
      EFF_ASSERT(src >= 0 && src < v.channels);
      const float f = split.weight_factor[grp * n + j];
      const float* from = w + (a * v.channels + src) * v.inner;
      float* to = o + (a * n + j) * v.inner;
      for (int64_t i = 0; i < v.inner; ++i) to[i] = from[i] * f;
    }
  }
  return out;
}

Tensor expand_activations(const Tensor& x, int axis, const ChannelSplit& split) {
  // Same shape arithmetic as the weights: x is [outer, channels, inner] around `axis`.
  ChannelSplit as_weights = split;
  as_weights.weight_factor = split.act_factor;
  as_weights.groups = 1;  // activations hold every group's channels
  return expand_weights(x, axis, as_weights);
}

}  // namespace eff::quant
