// Runs an IR graph on CPU. Kernels are created once (attribute validation happens there, so an
// unsupported op or attribute fails at load time naming the node); activation buffers come from a
// pool that is reused across layers and inferences. Value hooks: a per-layer LayerTransform
// rewrites a conv/FC layer's weights (once) and input activations (every run); a LayerObserver
// sees each layer's operands as consumed and its output.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "engine/value_transform.h"
#include "graph/ir.h"

namespace eff {

// A conv/FC layer: a Conv, ConvTranspose, Gemm or MatMul node with constant weights, or a
// QLinearConv, ConvInteger, QLinearMatMul or MatMulInteger with constant 8-bit weights
// (engine/quantized_layers.h; `weights` is then the op's weight input, not input 1).
struct LayerInfo {
  int index = 0;     // position among layers, in execution order
  int node = 0;      // index into graph.nodes
  std::string name;  // the node name (ONNX node name)
  std::string op;
  ValueId activations = kNoValue;
  ValueId weights = kNoValue;
  ValueId bias = kNoValue;
  ValueId output = kNoValue;
  std::string fused_activation;  // "Relu" when the output is taken after a fused activation
};

std::vector<LayerInfo> find_layers(const Graph& g);

class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  // `activations` and `weights` are exactly what the layer consumed (after any transform).
  virtual void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                        const Tensor& output) = 0;
};

struct ExecutorOptions {
  int threads = 0;                                   // 0: all cores
  std::map<std::string, LayerTransform> transforms;  // by layer name
  LayerObserver* observer = nullptr;
};

class Executor {
 public:
  Executor(Graph graph, ExecutorOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Inputs in graph-input order; returns outputs in graph-output order.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  const Graph& graph() const { return graph_; }
  const std::vector<LayerInfo>& layers() const { return layers_; }
  std::string kernel_impl(size_t node) const;
  int threads() const { return threads_; }
  void set_observer(LayerObserver* o) { options_.observer = o; }
  size_t pool_allocations() const;

 private:
  void check_input(size_t i, const Tensor& t) const;

  Graph graph_;
  ExecutorOptions options_;
  int threads_ = 1;
  std::vector<LayerInfo> layers_;
  std::vector<int> layer_of_node_;  // -1 when the node is not a layer
  std::vector<std::unique_ptr<class Kernel>> kernels_;
  std::vector<std::vector<ValueId>> release_after_;  // values whose last use is node i
  std::unique_ptr<class BufferPool> pool_;
  std::unique_ptr<struct DnnlEnv> dnnl_;
  std::vector<Tensor> values_;
};

// Resolves a thread-count flag: 0 -> all cores.
int resolve_threads(int requested);

}  // namespace eff
