// A 1x1 conv whose only reader is a 3x3 depthwise conv (a MobileNet inverted-residual block's
// expand and depthwise layers), run as one oneDNN primitive: the 1x1 conv with the depthwise conv
// as its post-op. oneDNN's JIT kernel for it computes a few rows of the expanded map at a time and
// runs the depthwise conv on them while they are in cache, instead of writing the whole expanded
// map (MobileNetV2's first one: 96 channels x 112 x 112, 4.8 MB, past the L2 caches) and reading it
// back. Same operations in the same order as the two convs apart: the same bits.
//
// The executor runs the pair this way when nothing needs the expanded map itself (no observer, no
// value transform on either layer), and runs the two nodes apart when oneDNN offers no JIT kernel
// for the pair at a shape and thread count (its generic fused convolution runs the two primitives
// one after the other, as the nodes do already).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/kernel.h"
#include "graph/ir.h"

namespace eff {

// Whether `pointwise` (a 1x1 stride-1 unpadded Conv) and `depthwise` (a 3x3 Conv with one group
// per channel, padding 1 on every side, stride 1 or 2, reading `pointwise`'s output as input 0) can
// run as one: both in the blocked layout between them, constant float weights and biases, at most
// an activation fused into each (Relu, Clip, HardSwish, Swish: MobileNetV2/V3 and EfficientNet
// blocks), nothing else fused (no residual Add, no quantization).
bool fusable_pointwise_depthwise(const Graph& g, const Node& pointwise, const Node& depthwise);

class PointwiseDepthwiseKernel {
 public:
  PointwiseDepthwiseKernel(const Node& pointwise, const Node& depthwise, const Graph& g);
  ~PointwiseDepthwiseKernel();
  // The depthwise conv's output computed from the pointwise conv's inputs (`ctx` is the pointwise
  // node's), as output 0; false, with nothing computed, when oneDNN has no JIT kernel for the pair
  // here (the caller then runs the two nodes).
  bool run(OpContext& ctx);
  // oneDNN's implementation for the last run ("" before one, or when it ran apart).
  const std::string& impl() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Each 1x1 conv whose only reader is a depthwise conv it can run with as one primitive, unless
// `keep_apart` says either node must run alone (a layer whose value transform must see its own
// activations): at the 1x1 conv's index its pair kernel in `kernels`, and the depthwise node's index
// in `partner` (both sized to the graph's nodes by the caller; untouched elsewhere).
void pair_pointwise_depthwise(const Graph& g, const std::function<bool(const Node&)>& keep_apart,
                              std::vector<std::unique_ptr<PointwiseDepthwiseKernel>>& kernels,
                              std::vector<int>& partner);

}  // namespace eff
