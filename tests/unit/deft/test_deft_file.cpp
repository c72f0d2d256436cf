// The optimized model's files (src/deft/deft_file.h): a plan written and read back is the same plan
// (weights bit for bit, kept synapses, fp8 spec) and runs to the same outputs; damaged files are
// one clear error naming the file.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "core/fs.h"
#include "deft/deft_file.h"
#include "deft/deft_model.h"
#include "engine/executor.h"
#include "engine/model.h"

namespace eff::deft {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Fixture {
  Model model;
  DeftModelPlan plan;
  fs::path dir;
};

// lenet5 with fc1 in fp8 after eliminating every other input synapse (an arbitrary keep set, no
// calibration needed) and fc2 in deft16q; the rest stays on the engine.
Fixture make_fixture(const std::string& tag) {
  Fixture f;
  f.model = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  SvePlan half = sve_identity(400);
  half.order.clear();
  for (int32_t k = 0; k < 400; k += 2) half.order.push_back(k);
  half.representative.assign(400, 0);
  for (int32_t k = 0; k < 400; ++k) half.representative[k] = k - k % 2;
  half.slope.assign(400, 1.f);
  half.offset.assign(400, 0.f);
  half.alpha = 0.9;
  f.plan.layers.push_back(plan_layer(f.model.graph, "/fc1/Gemm", Format::kFp8, half, Compensation::kScale));
  f.plan.layers.push_back(
      plan_layer(f.model.graph, "/fc2/Gemm", Format::kDeft16Q, sve_identity(120), Compensation::kNone));
  f.dir = fs::temp_directory_path() / ("deft_file_" + tag + std::to_string(::getpid()));
  fs::remove_all(f.dir);
  return f;
}

Tensor outputs_with(const Model& m, const DeftModelPlan& plan) {
  LoadOptions lo = m.load_options;
  lo.layer_rewrite = [&](Graph& g) { apply_deft(g, plan); };
  ExecutorOptions one;
  one.threads = 1;
  Executor ex(load_onnx(m.path, lo), one);
  Tensor x(DType::kFloat32, {2, 1, 28, 28});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
  return ex.run({x})[0];
}

json sidecar_of(const fs::path& dir) {
  return json::parse(read_file((dir / "lenet5.json").string(), 1 << 24));
}

}  // namespace

TEST(DeftFile, WrittenPlanReadsBackAndRunsTheSame) {
  Fixture f = make_fixture("rt");
  f.plan.layers[1].threads = 1;  // optimize's per-layer thread cap
  f.plan.batch_split = true;     // and its batch split
  write_optimized_model(f.model.path, json::object(), f.plan, {{"note", 1}}, json::object(),
                        (f.dir / "lenet5.onnx").string());
  ASSERT_TRUE(fs::exists(f.dir / "lenet5.onnx"));
  EXPECT_EQ(fs::file_size(f.dir / "lenet5.onnx"), fs::file_size(f.model.path));  // the original, byte for byte
  const json side = sidecar_of(f.dir);
  EXPECT_EQ(side.at("deft").at("note"), 1);
  const DeftModelPlan back = read_optimized_plan(side.at("deft"), (f.dir / "lenet5.json").string());
  ASSERT_EQ(back.layers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const DeftLayerPlan &a = f.plan.layers[i], &b = back.layers[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.format, b.format);
    EXPECT_EQ(a.fp8, b.fp8);
    EXPECT_EQ(a.depth, b.depth);
    EXPECT_EQ(a.sve.order, b.sve.order);
    EXPECT_EQ(a.threads, b.threads);
    ASSERT_EQ(a.weights.weights.size(), b.weights.weights.size());
    EXPECT_EQ(0, std::memcmp(a.weights.weights.data(), b.weights.weights.data(), a.weights.weights.size() * 4));
    EXPECT_EQ(0, std::memcmp(a.weights.bias.data(), b.weights.bias.data(), a.weights.bias.size() * 4));
  }
  EXPECT_EQ(back.layers[0].sve.kept(), 200);
  EXPECT_EQ(side.at("deft").at("batch_split"), true);
  EXPECT_TRUE(back.batch_split);
  EXPECT_FALSE(side.at("deft").at("layers")[0].contains("threads"));  // absent: the run's threads
  EXPECT_EQ(side.at("deft").at("layers")[1].at("threads"), 1);
  const Tensor want = outputs_with(f.model, f.plan), got = outputs_with(f.model, back);
  ASSERT_EQ(want.numel(), got.numel());
  EXPECT_EQ(0, std::memcmp(want.data<float>(), got.data<float>(), want.nbytes()));
  // load_model sees the plan in the sidecar.
  EXPECT_FALSE(load_model((f.dir / "lenet5.onnx").string()).meta.deft.is_null());
  fs::remove_all(f.dir);
}

TEST(DeftFile, DamagedFilesAreOneClearError) {
  Fixture f = make_fixture("bad");
  const std::string out = (f.dir / "lenet5.onnx").string(), side_path = (f.dir / "lenet5.json").string();
  write_optimized_model(f.model.path, json::object(), f.plan, json::object(), json::object(), out);
  const json side = sidecar_of(f.dir);
  auto expect_config_error = [&](const std::function<void(json&)>& damage, const std::string& needle) {
    json d = side.at("deft");
    damage(d);
    try {
      read_optimized_plan(d, side_path);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(side_path), std::string::npos) << e.what();
    }
  };
  expect_config_error([](json& d) { d["layers"][0]["synapses"][3] = 400; }, "outside [0, 400)");
  expect_config_error([](json& d) { d["layers"][0]["kept"] = 201; }, "kept says 201");
  expect_config_error([](json& d) { d["layers"][1]["format"] = "fp16"; }, "unknown format");
  expect_config_error([](json& d) { d["layers"][1]["threads"] = -1; }, "threads: -1");
  expect_config_error([](json& d) { d["layers"][1]["offset"] = 1u << 30; }, "do not fit");
  expect_config_error([](json& d) { d["batch_split"] = 1; }, "batch_split: must be true or false");
  expect_config_error([](json& d) { d["weights"] = "../x.bin"; }, "beside the sidecar");
  expect_config_error([](json& d) { d.erase("layers"); }, "missing or malformed");
  expect_config_error([](json& d) { d["weights_bytes"] = 12; }, "the plan in");
  // A plan for another layer shape: the rewrite refuses it.
  DeftModelPlan wrong = read_optimized_plan(side.at("deft"), side_path);
  wrong.layers[0].name = "/fc2/Gemm";
  wrong.layers.pop_back();
  LoadOptions lo = f.model.load_options;
  lo.layer_rewrite = [&](Graph& g) { apply_deft(g, wrong); };
  EXPECT_THROW(load_onnx(f.model.path, lo), ModelError);
  fs::remove_all(f.dir);
}

TEST(DeftFile, Int8LayersRoundTripAndBadFieldsNameTheField) {
  Fixture f = make_fixture("int8");
  const Int8Input q{0.0625f, 3};
  f.plan.layers[1] = plan_layer(f.model.graph, "/fc2/Gemm", Format::kInt8, sve_identity(120), Compensation::kNone, &q);
  const std::string out = (f.dir / "lenet5.onnx").string(), side_path = (f.dir / "lenet5.json").string();
  write_optimized_model(f.model.path, json::object(), f.plan, json::object(), json::object(), out);
  const json side = sidecar_of(f.dir);
  const json& entry = side.at("deft").at("layers")[1];
  EXPECT_EQ(entry.at("int8").at("scale"), 0.0625);
  EXPECT_EQ(entry.at("int8").at("zero"), 3);
  const DeftModelPlan back = read_optimized_plan(side.at("deft"), side_path);
  EXPECT_EQ(back.layers[1].format, Format::kInt8);
  EXPECT_EQ(back.layers[1].int8, q);
  const Tensor want = outputs_with(f.model, f.plan), got = outputs_with(f.model, back);
  EXPECT_EQ(0, std::memcmp(want.data<float>(), got.data<float>(), want.nbytes()));
  auto expect_error = [&](const std::function<void(json&)>& damage, const std::string& needle) {
    json d = side.at("deft");
    damage(d);
    try {
      read_optimized_plan(d, side_path);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(side_path), std::string::npos) << e.what();
    }
  };
  expect_error([](json& d) { d["layers"][1].erase("int8"); }, "[/fc2/Gemm].int8: an int8 layer needs");
  expect_error([](json& d) { d["layers"][1]["int8"] = 5; }, ".int8: an int8 layer needs");
  expect_error([](json& d) { d["layers"][1]["int8"]["scale"] = "big"; }, ".int8.scale: must be a number");
  expect_error([](json& d) { d["layers"][1]["int8"]["scale"] = 0; }, ".int8.scale: 0 must be a finite number");
  expect_error([](json& d) { d["layers"][1]["int8"]["scale"] = -1.5; }, ".int8.scale: -1.5 must be");
  expect_error([](json& d) { d["layers"][1]["int8"]["scale"] = 1e300; }, ".int8.scale: 1e+300 must be");
  expect_error([](json& d) { d["layers"][1]["int8"].erase("zero"); }, ".int8.zero: must be an integer");
  expect_error([](json& d) { d["layers"][1]["int8"]["zero"] = 1.5; }, ".int8.zero: must be an integer");
  expect_error([](json& d) { d["layers"][1]["int8"]["zero"] = 256; }, ".int8.zero: 256 is outside 0..255");
  expect_error([](json& d) { d["layers"][1]["int8"]["zero"] = -1; }, ".int8.zero: -1 is outside 0..255");
  expect_error(
      [](json& d) {
        d["layers"][1]["synapses"] = std::vector<int>{0, 1};
        d["layers"][1]["kept"] = 2;
      },
      ".synapses: int8 runs without synapse vector elimination");
  fs::remove_all(f.dir);
}

}  // namespace eff::deft
