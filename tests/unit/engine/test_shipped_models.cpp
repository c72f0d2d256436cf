// End to end on every shipped model: outputs match ONNX Runtime's stored reference outputs
// (models/<name>.ref/, produced by tools/make_refs.sh with npm onnxruntime-node), results do not
// depend on the thread count or batch composition, and accuracy on the Fashion-MNIST test set
// matches the accuracy ONNX Runtime measured (models/<name>.json).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/dataset.h"
#include "data/npy.h"
#include "engine/evaluate.h"
#include "engine/executor.h"
#include "engine/model.h"

namespace eff {
namespace fs = std::filesystem;

namespace {
std::vector<std::string> shipped_models() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(EFF_SOURCE_DIR) + "/models")) {
    if (e.path().extension() == ".onnx") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

double max_rel_error(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  double worst = 0;
  auto g = got.to_f32_vector(), w = want.to_f32_vector();
  double scale = 0;
  for (float x : w) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < g.size() && i < w.size(); ++i) {
    // Relative to the magnitude of the output vector, so that values near zero do not blow up.
    worst = std::max(worst, std::fabs(static_cast<double>(g[i]) - w[i]) / std::max(scale, 1e-6));
  }
  return worst;
}
}  // namespace

TEST(ShippedModels, AtLeastThreeWithReferences) {
  auto models = shipped_models();
  EXPECT_GE(models.size(), 3u);
  for (const auto& m : models) {
    fs::path ref = fs::path(m).replace_extension(".ref");
    EXPECT_TRUE(fs::exists(ref / "input.npy")) << m;
    EXPECT_TRUE(fs::exists(fs::path(m).replace_extension(".json"))) << m;
  }
}

TEST(ShippedModels, OutputsMatchOnnxRuntime) {
  for (const auto& path : shipped_models()) {
    SCOPED_TRACE(path);
    Model m = load_model(path);
    fs::path ref = fs::path(path).replace_extension(".ref");
    Tensor x = read_npy((ref / "input.npy").string());
    Tensor want = read_npy((ref / "logits.npy").string());
    for (int threads : {1, 2}) {
      ExecutorOptions eo;
      eo.threads = threads;
      Executor ex(m.graph, eo);
      std::vector<Tensor> out = ex.run({x});
      ASSERT_EQ(out.size(), 1u);
      EXPECT_LT(max_rel_error(out[0], want), 1e-4) << "threads=" << threads;
      // Batch of one, image by image: the same numbers.
      const int64_t per = x.numel() / x.dim(0);
      const int64_t classes = want.numel() / want.dim(0);
      for (int64_t i = 0; i < x.dim(0); ++i) {
        Shape s = x.shape();
        s[0] = 1;
        Tensor one(DType::kFloat32, s);
        std::copy_n(x.data<float>() + i * per, per, one.data<float>());
        Tensor o = ex.run({one})[0];
        for (int64_t k = 0; k < classes; ++k) {
          EXPECT_NEAR(o.data<float>()[k], out[0].data<float>()[i * classes + k],
                      1e-4 * std::max(1.0f, std::fabs(o.data<float>()[k])));
        }
      }
    }
  }
}

TEST(ShippedModels, NoAllocationAfterFirstInference) {
  for (const auto& path : shipped_models()) {
    Model m = load_model(path);
    Executor ex(m.graph, {});
    Tensor x(DType::kFloat32, {4, 1, 28, 28});
    ex.run({x});
    const size_t after_first = ex.pool_allocations();
    ex.run({x});
    ex.run({x});
    // Graph outputs leave with the caller, so at most one fresh buffer per output per run.
    EXPECT_LE(ex.pool_allocations(), after_first + 2 * m.graph.outputs.size()) << path;
  }
}

TEST(ShippedModels, AccuracyMatchesOnnxRuntimeOnTestSet) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") &&
      !std::getenv("EFFECTUAL_FASHION_MNIST_DIR")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  for (const auto& path : shipped_models()) {
    SCOPED_TRACE(path);
    Model m = load_model(path);
    ASSERT_TRUE(m.meta.test_accuracy_top1.has_value());
    Executor ex(m.graph, {});
    auto data = open_dataset("fashion-mnist:test", preprocess_from_json(m.meta.preprocessing));
    EvalOptions eo;
    eo.batch = 100;
    eo.progress = false;
    EvalResult r = evaluate(ex, *data, eo);
    EXPECT_EQ(r.count, 10000);
    // Different summation orders may flip a borderline image or two.
    EXPECT_NEAR(r.top1(), *m.meta.test_accuracy_top1, 0.0005);
  }
}

// An intermediate tensor past the size limit names the node that asked for it (the allocation
// itself knows only a shape).
TEST(ShippedModels, TensorPastTheLimitNamesItsNode) {
  Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  Tensor x(DType::kFloat32, {1, 1, 28, 28});
  Executor ex(m.graph, {});
  const size_t saved = max_tensor_bytes();
  set_max_tensor_bytes(x.nbytes() + 64);  // the input fits, conv1's 6-channel output does not
  std::string message;
  try {
    ex.run({x});
  } catch (const TensorLimitError&) {
    message = "TensorLimitError escaped without a node";
  } catch (const ShapeError& e) {
    message = e.what();
  }
  set_max_tensor_bytes(saved);
  EXPECT_NE(message.find("node '"), std::string::npos) << message;
  EXPECT_NE(message.find("exceeds the"), std::string::npos) << message;
}

}  // namespace eff
