// Clipping as an option of the precision search's formats (`search precision --clip METHOD`):
// a fixed-point format saturates at its integer bits' range, so taking the integer bits from a
// clipping threshold instead of the largest magnitude clips the outliers, and the search's
// accuracy loop decides whether that pays (docs/search.md, docs/quantize.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/ir.h"
#include "quant/clipping.h"
#include "search/evaluator.h"

namespace eff::quant {

// Per conv/FC layer of `g` (by name): the activations' threshold on `batches` (the search set)
// and the weights' on the tensor, each for a `bits`-bit grid, with the operand's sign. Layers
// other than Conv/ConvTranspose/Gemm/MatMul are left out (their fp32 maxima stay).
std::map<std::string, search::LayerRanges> clipped_ranges(const Graph& g, ClipMethod method, int bits,
                                                          const std::vector<std::vector<Tensor>>& batches, int threads);

}  // namespace eff::quant
