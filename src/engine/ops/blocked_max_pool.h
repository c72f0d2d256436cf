// 2-D MaxPool on nChw16c activations (graph/passes.h assign_blocked_layouts): `blocks` planes of
// in_h x in_w x 16 floats in, out_h x out_w x 16 out. Padded channels (zeros) pool to zeros.
#pragma once

#include <cstdint>

#include "engine/ops/max_pool_ort_order.h"

namespace eff {

void blocked_max_pool(const float* x, float* y, int64_t blocks, const MaxPoolWindow2d& w);

}  // namespace eff
