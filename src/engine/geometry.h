// Conv/FC layer geometry in the notation of the seed papers (DaDianNao, Cnvlutin, Stripes):
// an input of Nx x Ny x Ni activations, Nf filters of Kx x Ky x (Ni/groups), stride S, padding P.
// FC layers are the special case Nx = Ny = Kx = Ky = 1.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engine/executor.h"

namespace eff {

struct LayerGeometry {
  int index = 0;
  std::string name;
  std::string op;    // ONNX op
  std::string kind;  // "conv", "fc", "deconv"
  std::vector<std::string> origin;
  int64_t batch = 1;
  int64_t Nx = 1, Ny = 1, Ni = 1;  // input width, height, channels
  int64_t Kx = 1, Ky = 1, Nf = 1;  // filter width, height, count
  int64_t Ox = 1, Oy = 1;          // output width, height
  int64_t stride_x = 1, stride_y = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_x = 1, dilation_y = 1;
  int64_t groups = 1;
  int64_t macs = 0;    // per image
  int64_t params = 0;  // weights + bias
  std::string fused_activation;
};

// Geometry from a layer and the shapes it actually saw (input activations, weights, output).
LayerGeometry layer_geometry(const Graph& g, const LayerInfo& l, const Shape& act, const Shape& wgt, const Shape& out);

// Runs one inference on zeros of `input_shape` to observe shapes; returns every layer's geometry.
std::vector<LayerGeometry> model_geometry(Executor& ex, const Shape& input_shape);
// The same for a model with several inputs (zeros of each input's type and shape).
std::vector<LayerGeometry> model_geometry(Executor& ex, const std::vector<Shape>& input_shapes);

// Without running: every layer's geometry as far as the graph says it (weights, attributes and the
// shapes ONNX shape inference found), for a model whose input sizes are not known (dynamic H/W and
// no --input-shape). Sizes that depend on the input are -1 (Nx, Ny, Ox, Oy; an FC layer's rows),
// and so is `macs` then; channels, kernel, stride, pad, groups and params come from the weights.
std::vector<LayerGeometry> static_model_geometry(const Graph& g);

// -1 sizes and MACs (unknown until the input size is) are written as null.
void to_json(nlohmann::json& j, const LayerGeometry& g);

}  // namespace eff
