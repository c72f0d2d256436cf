// Activations a conv left in the channel-blocked layout (graph/passes.h assign_blocked_layouts)
// turned back into plain NCHW, for readers that need it (layer observers).
#pragma once

#include "core/tensor.h"
#include "graph/ir.h"

namespace eff {

class BufferPool;

// Whether node `n` reads its activations (input 0) / writes its output in the blocked layout.
bool reads_blocked(const Node& n);
bool writes_blocked(const Node& n);

// `t` (logical shape N, C, H, W with C a multiple of 16, bytes in nChw16c order) as plain NCHW,
// in a buffer from `pool`.
Tensor unblocked_copy(const Tensor& t, BufferPool& pool);

}  // namespace eff
