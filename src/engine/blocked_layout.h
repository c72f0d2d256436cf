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

// Resize that nearest-neighbour upsamples H and W by whole factors (asymmetric coordinates, floor):
// the factors, or false for any other Resize. The blocked layout takes these only.
bool integer_nearest_upsample(const Graph& g, const Node& n, int64_t& fh, int64_t& fw);
std::unique_ptr<Kernel> make_blocked_resize(const Node& node, const Graph& graph);

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
