// Runs an IR graph on CPU. Kernels are created once (attribute validation happens there, so an
// unsupported op or attribute fails at load time naming the node); activation buffers come from a
// pool that is reused across layers and inferences. Value hooks: a per-layer LayerTransform
// rewrites a conv/FC layer's weights (once) and input activations (every run); a LayerObserver
// sees each layer's operands as consumed and its output.
#pragma once

#include <functional>
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
  // "Relu", "Clip" (bounds below), "HardSwish" or "Swish" (x * sigmoid(x)) when the output is
  // taken after a fused activation.
  std::string fused_activation;
  float activation_min = 0.f, activation_max = 0.f;
  // A residual block's Add (the conv's 4th input) was fused in: the output is the block's sum.
  bool fused_residual_add = false;
  // Dynamically quantized layers (an integer op whose activation zero point, and scale, are run-time
  // values, e.g. DynamicQuantizeLinear's outputs): those values (kNoValue: constant or none). The
  // LayerInfo an observer receives then carries their values for this run in `runtime_act_*`.
  ValueId act_zero_value = kNoValue, act_scale_value = kNoValue;
  bool has_runtime_act = false;
  float runtime_act_scale = 1.0f;
  int32_t runtime_act_zero = 0;
};

std::vector<LayerInfo> find_layers(const Graph& g);

class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  // `activations` and `weights` are exactly what the layer consumed (after any transform).
  virtual void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                        const Tensor& output) = 0;
  // True for an observer that reads the values of `output`, not only its shape: runs then use a
  // graph where no residual Add is fused into its conv, so that `output` is the conv's own result
  // (GraphVariant::separate_residual_adds).
  virtual bool reads_output_values() const { return false; }
};

// The graph loaded again for particular inputs (Model::specializer): with every graph input's shape
// fixed (shape inference re-run, shape sub-graphs folded), and/or with activations kept as nodes of
// their own instead of fused into conv/FC kernels (fused ReLU turns NaN into 0; ONNX Runtime keeps
// NaN, so inputs holding NaN or Inf run such a graph).
struct GraphVariant {
  std::vector<Shape> input_shapes;  // empty: as declared
  bool separate_activations = false;
  // A residual Add fused into its conv makes the layer's output the block's sum: observers that
  // read output values (trace, simulate's output check) run a graph where the Add stays apart.
  bool separate_residual_adds = false;
  bool operator==(const GraphVariant&) const = default;
};
using GraphSpecializer = std::function<Graph(const GraphVariant&)>;

struct ExecutorOptions {
  int threads = 0;  // 0: all cores, fewer while other work keeps them busy (ThreadGovernor)
  std::map<std::string, LayerTransform> transforms;  // by layer name
  LayerObserver* observer = nullptr;
  // When set and the graph's shapes depend on its inputs (dynamic dims beyond the batch, or shape
  // computations left at run time), each distinct set of input shapes runs a graph specialised for
  // it, and inputs holding NaN/Inf run a graph without fused activations; the specialisations are
  // kept (a few, least recently used dropped first).
  GraphSpecializer specialize;
  // With threads = 0: a governor shared with other executors (a search makes one per evaluation
  // and should not learn the machine's load again each time); made here when not given.
  std::shared_ptr<class ThreadGovernor> governor;
};

class BufferPool;
struct DnnlEnv;

class Executor {
 public:
  Executor(Graph graph, ExecutorOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Inputs in graph-input order; returns outputs in graph-output order.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  // The graph as loaded (with dynamic dims); layers and node indices refer to it.
  const Graph& graph() const;
  const std::vector<LayerInfo>& layers() const;
  std::string kernel_impl(size_t node) const;
  int threads() const { return threads_; }
  // The thread count the last run used (the governor's choice when threads were not given).
  int last_run_threads() const { return last_run_threads_; }
  // How many parts the last run split its batch into (kBatchSplitAttr; 1: no split).
  int last_run_parts() const { return last_run_parts_; }
  // Runs that fell back to one thread because the team stalled (0 with an explicit thread count).
  int thread_fallbacks() const;
  // Runs that went over the governor's stall budget part-way and finished on one thread.
  int64_t runs_cut_to_one_thread() const { return runs_cut_to_one_thread_; }
  void set_observer(LayerObserver* o) { options_.observer = o; }
  size_t pool_allocations() const;
  // Per-node wall time, for `bench --per-layer`: accumulated over the runs made while enabled, for
  // the nodes of the graph that ran last (a specialisation's nodes are named as in the model).
  struct NodeTime {
    std::string name;
    // The node's op; "Conv+DepthwiseConv" for a 1x1 conv that ran as one primitive with the
    // depthwise conv reading it (ops/pointwise_depthwise.h), whose own row then reads
    // "(in 1x1 Conv before)", with no time of its own.
    std::string op;
    double ms = 0;  // total over `runs`
    int64_t runs = 0;
  };
  void set_node_timing(bool on) { node_timing_ = on; }
  std::vector<NodeTime> node_times() const;
  // Graphs specialised for input shapes so far (0 when the graph needs none).
  size_t specializations() const { return specialized_.size(); }

 private:
  struct Plan;
  std::unique_ptr<Plan> make_plan(Graph graph) const;
  Plan& plan_for(const std::vector<Tensor>& inputs);
  // The batch split (kBatchSplitAttr): how many parts this run's batch goes in (1: none).
  int split_parts(const Plan& p, const std::vector<Tensor>& inputs, int threads) const;
  std::vector<Tensor> run_split(Plan& p, const std::vector<Tensor>& inputs, int parts);
  // One part's images through every node on the calling thread, one thread per kernel.
  std::vector<Tensor> run_part(Plan& p, BufferPool& pool, DnnlEnv& dnnl, const std::vector<Tensor>& inputs);
  void check_input(size_t i, const Tensor& t) const;

  ExecutorOptions options_;
  int threads_ = 1;
  int last_run_threads_ = 0;
  int last_run_parts_ = 1;
  int64_t runs_cut_to_one_thread_ = 0;
  std::unique_ptr<Plan> base_;
  bool shape_dependent_ = false;    // whether inputs' shapes pick a specialised plan
  bool nan_sensitive_ = false;      // whether inputs holding NaN/Inf need a plan without fused activations
  bool has_residual_adds_ = false;  // whether an observer needs a plan without fused residual Adds
  bool batch_split_ = false;        // the graph asks for the batch split and every node allows it
  // The batch split's parts after the first (which runs on the base plan, pool and oneDNN
  // environment): kernels hold scratch, so each part has its own.
  struct SplitPart;
  std::vector<std::unique_ptr<SplitPart>> split_parts_;
  std::vector<std::unique_ptr<Plan>> specialized_;
  uint64_t clock_ = 0;  // for least-recently-used eviction of specialisations
  bool node_timing_ = false;
  const Plan* last_plan_ = nullptr;
  std::unique_ptr<class BufferPool> pool_;
  std::unique_ptr<struct DnnlEnv> dnnl_;
  std::shared_ptr<class ThreadGovernor> governor_;  // when the thread count is ours to choose
};

// A node attribute: a graph where some node carries it (non-zero) and every node computes each
// image of the batch from that image alone, the same bits at any batch size (batch_separable below),
// runs each thread's share of the batch through the whole graph on that thread (Executor::run):
// no team starts or barriers per node. `effectual optimize` sets it on DeftLayer nodes where its
// end-to-end timing says the split pays (deft/optimize.h).
inline constexpr const char* kBatchSplitAttr = "batch_split";
// Whether node `n` computes each image from that image alone, bit for bit the same at any batch.
bool computes_images_apart(const Node& n);

// Resolves a thread-count flag: 0 -> all cores.
int resolve_threads(int requested);

}  // namespace eff
