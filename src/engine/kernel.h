// The op kernel interface. A kernel is created once per IR node when a model is prepared
// (validate attributes there: unsupported values must fail at load time, naming the node), and
// run once per inference. To add an op: write src/engine/ops/<op>.cpp defining a factory
//   std::unique_ptr<Kernel> make_<op>(const Node&, const Graph&)
// and add one line to src/engine/ops/registry.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "graph/ir.h"

namespace eff {

class BufferPool;
struct DnnlEnv;

// What a kernel sees while it runs: its inputs, a way to produce outputs, and the run settings.
class OpContext {
 public:
  OpContext(const Node& node, const Graph& graph, std::span<const Tensor* const> inputs, std::vector<Tensor>& outputs,
            BufferPool& pool, DnnlEnv& dnnl, int threads)
      : node_(node), graph_(graph), inputs_(inputs), outputs_(outputs), pool_(pool), dnnl_(dnnl), threads_(threads) {}

  const Node& node() const { return node_; }
  const Graph& graph() const { return graph_; }
  // Inputs as given (omitted optional inputs: has_input() is false).
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  bool has_input(int i) const { return i < num_inputs() && inputs_[i] != nullptr; }
  const Tensor& input(int i) const;  // throws ShapeError naming the node if missing

  // Allocates output i from the buffer pool (contents unspecified, not zeroed).
  Tensor& output(int i, DType dtype, const Shape& shape);
  // Sets output i to an existing tensor, e.g. a view of an input (Reshape, Flatten).
  void set_output(int i, Tensor t);
  int num_outputs() const { return static_cast<int>(outputs_.size()); }

  // Whether the kernel may write its output into input i's buffer: the executor sets this for
  // intermediate values no later node reads (the kernel still checks that no view shares it).
  void set_reusable_inputs(uint32_t mask) { reusable_inputs_ = mask; }
  bool input_reusable(int i) const { return i >= 0 && i < 32 && ((reusable_inputs_ >> i) & 1u) != 0; }

  int threads() const { return threads_; }
  DnnlEnv& dnnl() { return dnnl_; }
  // "model.onnx: node 'x' (Op)" for error messages.
  std::string where() const { return graph_.where(node_); }

 private:
  const Node& node_;
  const Graph& graph_;
  std::span<const Tensor* const> inputs_;
  std::vector<Tensor>& outputs_;
  BufferPool& pool_;
  DnnlEnv& dnnl_;
  int threads_;
  uint32_t reusable_inputs_ = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(OpContext& ctx) = 0;
  // Name of the implementation chosen (e.g. "dnnl:jit:avx2" or "ref"), for `run -v`.
  virtual std::string impl() const { return "ref"; }
};

using KernelFactory = std::unique_ptr<Kernel> (*)(const Node&, const Graph&);

struct OpEntry {
  const char* op;
  KernelFactory make;
};

std::span<const OpEntry> op_registry();
const OpEntry* find_op(const std::string& op);  // nullptr when unsupported

}  // namespace eff
