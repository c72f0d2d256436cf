// Real architectures as users bring them (tests/fixtures/real, written by
// tools/make_real_models.py; see the README there): every model found in the folder is loaded,
// run on its stored input(s) and each output compared with ONNX Runtime's stored output.
// One test per model, so that a failure names the model, and one line per model on stdout
// ("[ real ] NAME: PASS" or the first error) to read today's state at a glance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>

#include "data/npy.h"
#include "engine/executor.h"
#include "engine/model.h"

namespace eff {
namespace {
namespace fs = std::filesystem;

// EFFECTUAL_REAL_MODELS_DIR=build/real-models runs the same checks on the full-size models that
// tools/make_real_models.sh writes (too large to commit).
fs::path real_dir() {
  const char* dir = std::getenv("EFFECTUAL_REAL_MODELS_DIR");
  return dir && *dir ? fs::path(dir) : fs::path(EFF_SOURCE_DIR) / "tests/fixtures/real";
}

std::vector<std::string> real_models() {
  std::vector<std::string> out;
  if (!fs::exists(real_dir())) return out;
  for (const auto& e : fs::directory_iterator(real_dir())) {
    if (e.path().extension() == ".onnx") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Tensor names as file names: the rule of tools/ort/run_ort.js.
std::string safe_name(const std::string& name) {
  return std::regex_replace(name, std::regex("[^A-Za-z0-9._-]"), "_");
}

struct Tolerance {
  double rel_to_max;  // allowed |got - want| as a fraction of max |want| over the output
  bool same_argmax;   // classifier rows must also pick the same class
  const char* why;
};

// fp32: summation order differs between oneDNN and MLAS (blocked layouts, Winograd/GEMM
//   splits); over 20-50 layers that stays near 1e-5 of the output scale, 1e-4 leaves room.
// fp16: every op rounds to fp16 (2^-11 relative); the engines round at different points
//   (fused Conv+activation, fp32 accumulation inside kernels, the Cast islands), so outputs
//   differ by a few fp16 steps per layer: 1e-2 of the output scale is ~20 steps at 1.0.
// QDQ: the loader fuses the QDQ groups into integer ops as ONNX Runtime's CPU provider does, with
//   MLAS's requantization, QLinearAdd and QLinearGlobalAveragePool arithmetic
//   (docs/quantization.md): every code is ORT's, so the dequantized outputs are identical
//   (mobilenetv2_qdq_small and the full-size MobileNetV2-224: 0 of 2000 outputs differ). Exact
//   equality: one code flipped by a rounding tie fails it.
// Dynamic quantization (DynamicQuantizeLinear -> ConvInteger/MatMulInteger -> Cast -> Mul): the
//   integer products are exact and the codes are computed by the same formula (float32 division,
//   rounding half to even), so only the float rescaling and the float ops between layers differ:
//   measured 1.8e-7 (mobilenetv2_dynq_small) and 1.5e-7 (transformer_dynq) of max |output|; the
//   fp32 bound applies. A code flipped by a rounding tie would move the output by a step
//   (~1e-2 relative) and fail it.
Tolerance tolerance_for(const std::string& model, DType out) {
  if (model.find("qdq") != std::string::npos) return {0.0, true, "QDQ, integer ops as ORT"};
  if (model.find("dynq") != std::string::npos) return {1e-4, false, "dynamic quantization"};
  if (out == DType::kFloat16 || model.find("fp16") != std::string::npos) return {1e-2, false, "fp16"};
  return {1e-4, false, "fp32"};
}

// The first line of an exception, which names file/node/field by effectual's convention.
std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// Returns "" when the output matches, else what differs.
std::string compare(const std::string& model, const std::string& name, const Tensor& got, const Tensor& want) {
  std::ostringstream msg;
  if (got.shape() != want.shape()) {
    msg << name << ": shape " << shape_str(got.shape()) << ", ONNX Runtime " << shape_str(want.shape());
    return msg.str();
  }
  const Tolerance tol = tolerance_for(model, want.dtype());
  const auto g = got.to_f32_vector(), w = want.to_f32_vector();
  double scale = 1e-6, worst = 0;
  size_t worst_at = 0;
  for (float x : w) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  for (size_t i = 0; i < g.size(); ++i) {
    const double d = std::fabs(static_cast<double>(g[i]) - w[i]);
    if (!(d <= worst)) {  // also catches NaN
      worst = std::isnan(d) ? INFINITY : d;
      worst_at = i;
    }
  }
  if (worst > tol.rel_to_max * scale) {
    msg << name << " (" << tol.why << "): max |diff| " << worst << " at element " << worst_at << " (got " << g[worst_at]
        << ", ONNX Runtime " << w[worst_at] << "), allowed " << tol.rel_to_max * scale;
    return msg.str();
  }
  if (tol.same_argmax && want.rank() == 2) {
    const int64_t rows = want.dim(0), cols = want.dim(1);
    for (int64_t r = 0; r < rows; ++r) {
      const auto gr = g.begin() + r * cols, wr = w.begin() + r * cols;
      const auto ga = std::max_element(gr, gr + cols) - gr, wa = std::max_element(wr, wr + cols) - wr;
      if (ga != wa) {
        msg << name << ": row " << r << " predicts class " << ga << ", ONNX Runtime " << wa;
        return msg.str();
      }
    }
  }
  return "";
}

// Loads, runs and compares one model; returns "" on success, else the first failure.
std::string check_model(const std::string& model) {
  const fs::path ref = real_dir() / (model + ".ref");
  Graph graph;
  try {
    graph = load_model((real_dir() / (model + ".onnx")).string()).graph;
  } catch (const std::exception& e) {
    return "load: " + first_line(e.what());
  }
  std::vector<Tensor> inputs;
  for (ValueId id : graph.inputs) {
    const fs::path file = ref / "inputs" / (safe_name(graph.value(id).name) + ".npy");
    if (!fs::exists(file)) return "no stored input " + file.string();
    inputs.push_back(read_npy(file.string()));
  }
  std::vector<Tensor> outs;
  std::vector<std::string> names;
  try {
    ExecutorOptions eo;
    eo.threads = 1;  // the machine is shared; thread-count invariance is tested on the shipped models
    Executor ex(std::move(graph), eo);
    for (ValueId id : ex.graph().outputs) names.push_back(ex.graph().value(id).name);
    outs = ex.run(inputs);
  } catch (const std::exception& e) {
    return "run: " + first_line(e.what());
  }
  if (outs.size() != names.size())
    return "run: " + std::to_string(outs.size()) + " outputs for " + std::to_string(names.size()) + " graph outputs";
  for (size_t k = 0; k < outs.size(); ++k) {
    const fs::path file = ref / "outputs" / (safe_name(names[k]) + ".npy");
    if (!fs::exists(file)) return "no ONNX Runtime output " + file.string();
    std::string diff = compare(model, names[k], outs[k], read_npy(file.string()));
    if (!diff.empty()) return "mismatch: " + diff;
  }
  return "";
}

class RealModels : public ::testing::TestWithParam<std::string> {};

TEST_P(RealModels, MatchesOnnxRuntime) {
  const std::string model = GetParam();
  const std::string failure = check_model(model);
  std::cout << "[ real ] " << model << ": " << (failure.empty() ? "PASS" : failure) << std::endl;
  if (!failure.empty()) ADD_FAILURE() << model << ": " << failure;
}

INSTANTIATE_TEST_SUITE_P(RealModels, RealModels, ::testing::ValuesIn(real_models()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(RealModelsFixtures, EveryModelHasInputsAndOnnxRuntimeOutputs) {
  const auto models = real_models();
  EXPECT_GE(models.size(), 8u);
  for (const auto& m : models) {
    for (const char* sub : {"inputs", "outputs"}) {
      const fs::path dir = real_dir() / (m + ".ref") / sub;
      ASSERT_TRUE(fs::is_directory(dir)) << dir;
      EXPECT_FALSE(fs::is_empty(dir)) << dir;
    }
  }
}

}  // namespace
}  // namespace eff
