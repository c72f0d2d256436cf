// Activations a conv left in the channel-blocked layout (graph/passes.h assign_blocked_layouts):
// logical shape N, C, H, W; bytes in nChw16c order with C padded to whole blocks in storage past
// the logical size. Plain copies for readers that need NCHW (observers, value transforms).
#pragma once

#include <memory>

#include "core/tensor.h"
#include "graph/ir.h"

namespace eff {

class BufferPool;
class Kernel;
class OpContext;

// Whether node `n` reads its activations (input 0) / writes its output in the blocked layout.
bool reads_blocked(const Node& n);
bool writes_blocked(const Node& n);

// N, C rounded up to whole blocks, H, W: what a blocked tensor of logical shape `s` occupies.
Shape blocked_storage_shape(const Shape& s);

// A pool buffer for a blocked tensor of logical shape `s` (storage for the padded channels).
Tensor acquire_blocked(BufferPool& pool, const Shape& s);

// Output `i` of a kernel as a blocked tensor of logical shape `s`.
Tensor blocked_output(OpContext& ctx, int i, const Shape& s);

// A 4-D float Resize that the blocked layout can pass through (ops/resize.cpp): nearest or linear,
// any coordinate mode but tf_crop_and_resize, only H and W resized (scales of exactly 1, or sizes
// equal to the input, on N and C), the default stretch policy.
bool blockable_resize(const Graph& g, const Node& n);

// The other kernels for blocked activations (ops/blocked_ops.cpp): a GlobalAveragePool reading
// them, and a Mul of them (input kBlockedOperandAttr) by a per-channel gate [N, C, 1, 1].
std::unique_ptr<Kernel> make_blocked_global_average_pool(const Node& node, const Graph& graph);
std::unique_ptr<Kernel> make_blocked_channel_scale(const Node& node, const Graph& graph);
// An Add of two blocked tensors with padded channels (summed over the storage).
std::unique_ptr<Kernel> make_blocked_add(const Node& node, const Graph& graph);
// A channel Concat written blocked (kBlockedOutputAttr) from plain or blocked inputs (kBlockedInputsAttr).
std::unique_ptr<Kernel> make_blocked_concat(const Node& node, const Graph& graph);

// `t` (blocked) as plain NCHW, and back (padded channels zero), in buffers from `pool`.
Tensor unblocked_copy(const Tensor& t, BufferPool& pool);
Tensor blocked_copy(const Tensor& plain, BufferPool& pool);

}  // namespace eff
