// Non-finite inputs propagate as ONNX Runtime's do (issue 8): every one-op model of
// tests/fixtures/non_finite (tools/make_non_finite_fixtures.py) runs on its input holding NaN and
// +-Inf and must give ONNX Runtime's output: NaN exactly where it has NaN, +-Inf exactly where it
// has them, finite values close. A finite input keeps the fast graph (no specialisation made).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data/npy.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "engine/non_finite.h"
#include "onnx/loader.h"

namespace eff {
namespace {
namespace fs = std::filesystem;

fs::path fixture_dir() {
  return fs::path(EFF_SOURCE_DIR) / "tests/fixtures/non_finite";
}

std::vector<std::string> fixture_models() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fixture_dir())) {
    if (e.path().extension() == ".onnx") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Executor make_executor(const Model& m, int threads) {
  ExecutorOptions o;
  o.threads = threads;
  o.specialize = m.specializer();
  return Executor(m.graph, o);
}

// "" when `got` has NaN and +-Inf where `want` has them and finite values within `tol` of the
// largest finite magnitude; else the first difference.
std::string compare(const Tensor& got, const Tensor& want, double tol) {
  if (got.shape() != want.shape())
    return "shape " + shape_str(got.shape()) + ", ONNX Runtime " + shape_str(want.shape());
  const auto g = got.to_f32_vector(), w = want.to_f32_vector();
  double scale = 1e-6;
  for (float x : w) {
    if (std::isfinite(x)) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  }
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = std::isnan(w[i])   ? std::isnan(g[i])
                      : std::isinf(w[i]) ? g[i] == w[i]
                                         : std::isfinite(g[i]) && std::fabs(g[i] - w[i]) <= tol * scale;
    if (!same) {
      return "element " + std::to_string(i) + ": got " + std::to_string(g[i]) + ", ONNX Runtime " +
             std::to_string(w[i]);
    }
  }
  return "";
}

TEST(NonFiniteOrt, EveryOpPropagatesAsOnnxRuntime) {
  const auto models = fixture_models();
  ASSERT_GE(models.size(), 40u);
  for (const std::string& name : models) {
    SCOPED_TRACE(name);
    const Model m = load_model((fixture_dir() / (name + ".onnx")).string());
    const Tensor x = read_npy((fixture_dir() / (name + ".0.x.npy")).string());
    const Tensor want = read_npy((fixture_dir() / (name + ".0.y.npy")).string());
    ASSERT_TRUE(count_non_finite(x).any());
    // fp16: ONNX Runtime computes some ops in float16, effectual in float32 and rounds (a step is
    // 2^-11 relative); float32: summation order only.
    const double tol = x.dtype() == DType::kFloat16 ? 4e-3 : 1e-5;
    for (int threads : {1, 2}) {
      Executor ex = make_executor(m, threads);
      const std::string diff = compare(ex.run({x})[0], want, tol);
      EXPECT_EQ(diff, "") << threads << " thread(s)";
    }
  }
}

TEST(NonFiniteOrt, FiniteInputsKeepTheFastGraph) {
  // ONNX Runtime's fold orders belong to the variant for inputs holding NaN/Inf: a finite input
  // runs the base graph (blocked MaxPool, fused activations), and on finite values both give the
  // same result.
  for (const std::string name : {"conv_relu_maxpool_c16_f16", "maxpool_k3s2p1_c4_f32", "maxpool_k2s2w14_c16_f32"}) {
    SCOPED_TRACE(name);
    const std::string path = (fixture_dir() / (name + ".onnx")).string();
    const Model m = load_model(path);
    const Tensor x = read_npy((fixture_dir() / (name + ".0.x.npy")).string());
    const auto v = x.to_f32_vector();
    Tensor finite(DType::kFloat32, x.shape());
    for (size_t i = 0; i < v.size(); ++i) finite.data<float>()[i] = std::isfinite(v[i]) ? v[i] : 0.5f - 0.01f * i;
    Executor ex = make_executor(m, 1);
    const Tensor fast = ex.run({finite})[0].clone();
    EXPECT_EQ(ex.specializations(), 0u);
    ex.run({x});
    EXPECT_EQ(ex.specializations(), 1u);

    LoadOptions o;
    o.fuse_activations = false;
    o.non_finite_inputs = true;
    ExecutorOptions eo;
    eo.threads = 1;
    Executor variant(load_onnx(path, o), eo);
    EXPECT_EQ(compare(variant.run({finite})[0], fast, 0.0), "");
    const Graph& vg = variant.graph();
    for (size_t i = 0; i < vg.nodes.size(); ++i) {
      if (vg.nodes[i].op == "MaxPool") {
        EXPECT_NE(variant.kernel_impl(i).find("ort_order"), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace eff
