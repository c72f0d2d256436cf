// The whole profile on a shipped model (models/lenet5.onnx, 16 Fashion-MNIST test images): the
// JSON is identical for any thread count and batch size, its invariants hold (counts, fraction
// orderings, histogram totals, MAC weighting), relative thresholds follow the calibrated range,
// and the CSV/summary/precision-profile views derive from it.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "engine/executor.h"
#include "engine/model.h"
#include "engine/transform_files.h"
#include "profile/profile_json.h"
#include "profile/profiler.h"

namespace eff::profile {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool have_fashion_mnist() {
  return fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") ||
         fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte") ||
         std::getenv("EFFECTUAL_FASHION_MNIST_DIR") != nullptr;
}

json profile_lenet(int threads, int64_t batch, int64_t images = 16) {
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  ExecutorOptions eo;
  eo.threads = threads;
  Executor ex(m.graph, eo);
  // Opened once: decompressing the data set costs more than profiling 16 images.
  static const std::unique_ptr<Dataset> data =
      open_dataset("fashion-mnist:test", preprocess_from_json(m.meta.preprocessing));
  ProfileOptions po;
  po.threads = threads;
  po.near_zero = {0.05};
  po.machines = {Machine{"toy", 1e12, 1e10, ""}};  // the detected CPU would make the JSON machine-specific
  po.calibration_images = 8;
  Profiler p(ex.graph(), po);
  run_profile(ex, *data, p, 0, images, batch, false);
  return profile_to_json(p, {{"model", "lenet5"}});
}

}  // namespace

TEST(ProfileLenet, SameJsonForAnyThreadCountAndBatchSize) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  // 8 images: in one batch on one thread, in batches of 3 (a partial last batch) on two threads,
  // and one by one on two threads.
  const std::string a = profile_lenet(1, 8, 8).dump();
  EXPECT_EQ(a, profile_lenet(2, 3, 8).dump());
  EXPECT_EQ(a, profile_lenet(2, 1, 8).dump());
}

TEST(ProfileLenet, InvariantsHold) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const json doc = profile_lenet(2, 16);
  EXPECT_EQ(doc["format"], kProfileFormat);
  EXPECT_EQ(doc["version"], kProfileVersion);
  EXPECT_EQ(doc["images"], 16);
  ASSERT_EQ(doc["layers"].size(), 5u);
  for (const json& l : doc["layers"]) {
    SCOPED_TRACE(l["name"].get<std::string>());
    const json& g = l["geometry"];
    const json& a = l["activations"];
    const int64_t per_image = g["Nx"].get<int64_t>() * g["Ny"].get<int64_t>() * g["Ni"].get<int64_t>();
    EXPECT_EQ(a["count"].get<int64_t>(), 16 * per_image);
    const double zero = a["zero_fraction"];
    EXPECT_GE(zero, 0.0);
    EXPECT_LE(zero, 1.0);
    // Near-zero fractions include zeros and grow with the threshold (the relative ones are
    // listed in increasing order, after the absolute one).
    double previous = zero;
    for (size_t t = 1; t < a["near_zero"].size(); ++t) {
      const double f = a["near_zero"][t]["fraction"];
      EXPECT_GE(f, previous);
      previous = f;
      // Relative thresholds are fractions of the calibrated max |a|.
      EXPECT_FLOAT_EQ(
          a["near_zero"][t]["threshold"].get<float>(),
          static_cast<float>(a["near_zero"][t]["relative"].get<double>() * a["calibration_absmax"].get<double>()));
    }
    int64_t binned = 0;
    for (const json& n : a["log2_histogram"]["counts"]) binned += n.get<int64_t>();
    EXPECT_EQ(binned + a["log2_histogram"]["zeros"].get<int64_t>() + a["nonfinite"].get<int64_t>(),
              a["count"].get<int64_t>());
    for (const json& d : l["dynamic_precision"]) {
      int64_t groups = 0, weighted = 0;
      for (size_t w = 0; w < d["histogram"].size(); ++w) {
        groups += d["histogram"][w].get<int64_t>();
        weighted += static_cast<int64_t>(w) * d["histogram"][w].get<int64_t>();
      }
      EXPECT_EQ(groups, d["groups"].get<int64_t>());
      EXPECT_DOUBLE_EQ(d["average_bits"].get<double>(), static_cast<double>(weighted) / groups);
      EXPECT_LE(d["average_bits"].get<double>(), a["fixed16"]["bits_needed"].get<double>());
    }
    // Effectual bits: never more ones than bits, never more Booth terms than ones.
    for (const char* enc : {"fixed16", "uniform8"}) {
      const json& e = a[enc]["effectual_bits"];
      EXPECT_LE(e["booth_fraction"].get<double>(), e["popcount_fraction"].get<double>());
      EXPECT_LE(e["popcount_fraction"].get<double>(), e["popcount_fraction_nonzero"].get<double>());
    }
    // With the range rule, nothing saturates on the calibration images' range... unless a later
    // image exceeds it; the format must at least hold the calibrated max.
    EXPECT_EQ(a["fixed16"]["source"], "range");
  }
  // conv2 has no padding: every input value feeds cov * Nf MACs and the per-MAC weights add up
  // to the layer's MACs: the per-MAC zero fraction is a proper average. fc layers: per MAC ==
  // per value.
  for (int i = 2; i < 5; ++i) {
    const json& a = doc["layers"][i]["activations"];
    EXPECT_DOUBLE_EQ(a["zero_fraction"].get<double>(), a["zero_fraction_per_mac"].get<double>());
  }
  EXPECT_GT(doc["layers"][1]["activations"]["zero_fraction"].get<double>(), 0.2);  // after ReLU
  EXPECT_EQ(doc["compute"]["macs"], 416520);
}

TEST(ProfileLenet, CsvSummaryAndLosslessProfileDeriveFromTheJson) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const json doc = profile_lenet(2, 16, 4);
  const auto tables = profile_csv_tables(doc);
  for (const char* name : {"values.csv", "precision.csv", "dynamic_precision.csv", "effectual_bits.csv", "compute.csv",
                           "correlations.csv"}) {
    ASSERT_TRUE(tables.count(name)) << name;
    // A header and one row per layer at least.
    EXPECT_GE(std::count(tables.at(name).begin(), tables.at(name).end(), '\n'), 6) << name;
  }
  EXPECT_NE(profile_summary(doc).find("network (4 images, 5 layers"), std::string::npos);
  // The lossless profile is a valid --precision-profile file for this model.
  const Model m = load_model(std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx");
  std::map<std::string, LayerTransform> t;
  parse_precision_profile(lossless_precision_profile(doc).dump(), "lossless.json", find_layers(m.graph), t);
  EXPECT_EQ(t.size(), 5u);
}

}  // namespace eff::profile
