// The batch split (DeftModelPlan::batch_split, engine/executor.h kBatchSplitAttr): each thread runs
// its share of the images through every node on its own. The outputs must be the unsplit run's bit
// for bit, in image order, on 2 and 3 threads (7 images: uneven parts), and the split must stay off
// where it cannot hold that promise (an engine conv left in the graph) or has nothing to split.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "../onnx/model_builder.h"
#include "core/error.h"
#include "deft/deft_layer.h"
#include "deft/deft_model.h"
#include "engine/executor.h"
#include "engine/model.h"

namespace eff::deft {
namespace {

// `batch` images of different random values in the model's input shape.
Tensor random_images(const Model& m, int64_t batch, unsigned seed) {
  Shape shape = m.input_shape();
  shape[0] = batch;
  Tensor x(DType::kFloat32, shape);
  const std::vector<float> values = test::random_values(static_cast<size_t>(x.numel()), seed);
  std::memcpy(x.data<float>(), values.data(), values.size() * sizeof(float));
  return x;
}

Graph graph_with(const Model& m, const DeftModelPlan& plan) {
  LoadOptions lo = m.load_options;
  lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan); };
  return load_onnx(m.path, lo);
}

struct Outcome {
  Tensor y;
  int parts = 0;
};

Outcome run_on(const Graph& g, const Tensor& x, int threads) {
  ExecutorOptions o;
  o.threads = threads;
  Executor ex(g, o);
  ex.run({x});
  Outcome r;
  r.y = ex.run({x})[0];  // the second run reuses pooled buffers (and the parts' plans)
  r.parts = ex.last_run_parts();
  return r;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// resnet with every layer on DeftNN kernels: bf16dot (AMX convs where present, else im2col +
// vdpbf16ps; the stem on the small-channel conv), deft16q (im2col + FMA GEMM) and fp8.
TEST(DeftBatchSplit, ResnetSplitOverThreadsIsTheUnsplitRunBitForBit) {
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  const Tensor x = random_images(m, 7, 21);
  for (const char* format : {"bf16dot", "deft16q", "fp8"}) {
    SCOPED_TRACE(format);
    DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice(format, "--deft"), nullptr, 0, 1);
    const Outcome want = run_on(graph_with(m, plan), x, 1);
    EXPECT_EQ(want.parts, 1);
    EXPECT_EQ(run_on(graph_with(m, plan), x, 2).parts, 1);  // not asked for
    plan.batch_split = true;
    const Graph split = graph_with(m, plan);
    int marked = 0;
    for (const Node& n : split.nodes) marked += n.attr_int(kBatchSplitAttr, 0) != 0;
    EXPECT_GT(marked, 0);
    EXPECT_EQ(run_on(split, x, 1).parts, 1);  // one thread: nothing to split over
    for (int threads : {2, 3}) {
      SCOPED_TRACE(threads);
      const Outcome got = run_on(split, x, threads);
      EXPECT_EQ(got.parts, threads);
      EXPECT_TRUE(same_bits(got.y, want.y));
    }
    // Fewer images than threads: one part per image.
    const Tensor two = random_images(m, 2, 5);
    const Outcome got = run_on(split, two, 3);
    EXPECT_EQ(got.parts, 2);
    EXPECT_TRUE(same_bits(got.y, run_on(split, two, 1).y));
    // One image: nothing to split.
    EXPECT_EQ(run_on(split, random_images(m, 1, 6), 2).parts, 1);
  }
}

// Only the FC layer on DeftNN: the engine's oneDNN convs may sum in another order at another batch
// size, so the graph does not split even though its plan asks.
TEST(DeftBatchSplit, AnEngineConvInTheGraphKeepsTheBatchWhole) {
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  DeftModelPlan plan = plan_deft(m.graph, parse_deft_choice("deft16,layers=fc", "--deft"), nullptr, 0, 1);
  plan.batch_split = true;
  const Graph g = graph_with(m, plan);
  EXPECT_FALSE(std::all_of(g.nodes.begin(), g.nodes.end(), computes_images_apart));
  EXPECT_EQ(run_on(g, random_images(m, 4, 8), 2).parts, 1);
}

TEST(DeftBatchSplit, TheDeftFlagAsksForIt) {
  EXPECT_FALSE(parse_deft_choice("bf16dot", "--deft").batch_split);
  EXPECT_TRUE(parse_deft_choice("bf16dot,batch_split=1", "--deft").batch_split);
  EXPECT_THROW(parse_deft_choice("bf16dot,batch_split=2", "--deft"), UsageError);
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/resnet.onnx");
  EXPECT_TRUE(plan_deft(m.graph, parse_deft_choice("fp8,batch_split=1", "--deft"), nullptr, 0, 1).batch_split);
}

// Which ops promise per-image results: a Flatten that folds the batch into its rows does not.
TEST(DeftBatchSplit, OnlyPerImageOpsAllowTheSplit) {
  Node n;
  for (const char* op : {"DeftLayer", "Relu", "Add", "GlobalAveragePool", "MaxPool", "Flatten"}) {
    n.op = op;
    EXPECT_TRUE(computes_images_apart(n)) << op;
  }
  n.attrs["axis"].i = 0;
  EXPECT_FALSE(computes_images_apart(n));  // Flatten axis 0: one row of every image
  for (const char* op : {"Conv", "Gemm", "MatMul", "Reshape", "BatchNormalization", "Softmax"}) {
    n.op = op;
    EXPECT_FALSE(computes_images_apart(n)) << op;
  }
}

}  // namespace
}  // namespace eff::deft
