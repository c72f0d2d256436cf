// Sweep files (src/sweep/spec.h): points from axes or lists, ids that depend only on a point's
// own non-default values, shards that partition the points, and one-line errors naming the field.
// A new case: write the YAML inline; model paths are relative to the source tree (EFF_SOURCE_DIR).
#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "sweep/spec.h"

namespace eff::sweep {
namespace {

const std::string kModel = std::string(EFF_SOURCE_DIR) + "/models/lenet5.onnx";

std::string axes(const std::string& more) {
  return "axes:\n  model: [" + kModel + "]\n  data: [fashion-mnist:test]\n" + more;
}

std::string error_of(const std::string& yaml) {
  try {
    parse_spec(yaml, "s.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SweepSpec, HashIsFnv1a64) {
  // The published FNV-1a 64-bit test vectors.
  EXPECT_EQ(hash_hex(""), "cbf29ce484222325");
  EXPECT_EQ(hash_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(hash_hex("foobar"), "85944171f73967e8");
}

TEST(SweepSpec, ProductInFileOrderLastAxisFastest) {
  const Spec s =
      parse_spec(axes("  design: [stripes, loom]\n  config: [{}, {tiles: 8}, {name: t4, tiles: 4}]\n"), "s.yaml");
  ASSERT_EQ(s.points.size(), 6u);
  EXPECT_EQ(s.points[0].design(), "stripes");
  EXPECT_EQ(s.points[1].config_name(), "tiles=8");
  EXPECT_EQ(s.points[2].config_name(), "t4");
  EXPECT_EQ(s.points[3].design(), "loom");
  EXPECT_EQ(s.points[4].label, "loom / tiles=8");
  EXPECT_EQ(s.compute, std::vector<std::string>{"simulate"});  // the default
  // Defaults filled in: first image 0, one image, no hooks, the built-in 65 nm table.
  EXPECT_EQ(s.points[0].data().images, 1);
  EXPECT_EQ(s.points[0].precision(), "");
  EXPECT_EQ(s.points[0].technology(), "");
}

TEST(SweepSpec, IdsDependOnlyOnThePointsOwnValues) {
  const Spec a = parse_spec(axes("  design: [stripes, loom]\n"), "s.yaml");
  // A value added to an axis, and a new axis whose default the old points keep: old ids stay.
  const Spec b = parse_spec(axes("  design: [cnvlutin, stripes, loom]\n  technology: [65nm, " +
                                 std::string(EFF_SOURCE_DIR) + "/configs/technology/28nm.yaml]\n"),
                            "s.yaml");
  ASSERT_EQ(b.points.size(), 6u);
  std::set<std::string> ids_b;
  for (const Point& p : b.points) ids_b.insert(p.id);
  EXPECT_EQ(ids_b.size(), 6u);
  for (const Point& p : a.points) EXPECT_TRUE(ids_b.count(p.id)) << p.label;
  // The id is the hash of the non-default values, as documented.
  EXPECT_FALSE(a.points[0].content.contains("technology"));
  EXPECT_EQ(a.points[0].id, hash_hex(a.points[0].content.dump()));
}

TEST(SweepSpec, ListedPointsTakeSingleAxisValuesAndDefaults) {
  const Spec s = parse_spec(axes("points:\n  - {design: stripes}\n  - {design: loom, config: {tiles: 8}}\n"), "s.yaml");
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[1].design(), "loom");
  EXPECT_EQ(s.points[1].config_name(), "tiles=8");
  // The same point as in a product sweep has the same id.
  const Spec p = parse_spec(axes("  design: [stripes]\n"), "s.yaml");
  EXPECT_EQ(s.points[0].id, p.points[0].id);
}

TEST(SweepSpec, SearchStepFillsItsDefaults) {
  const Spec a = parse_spec(axes("  design: [stripes]\n  precision: [{search: {}}]\n"), "s.yaml");
  const Spec b = parse_spec(axes("  design: [stripes]\n  precision:\n    - {search: {keep: 100%, search_images: 200, "
                                 "report_images: 100, seed: 1}}\n"),
                            "s.yaml");
  ASSERT_EQ(a.points.size(), 1u);
  EXPECT_EQ(a.points[0].id, b.points[0].id);
  EXPECT_EQ(a.points[0].precision(), "");
  EXPECT_EQ(a.points[0].precision_search()["search_images"], 200);
  EXPECT_EQ(error_of(axes("  design: [stripes]\n  precision: [{search: {keep: 120%}}]\n"))
                .rfind("s.yaml: axes.precision[0].search.keep", 0),
            0u);
  EXPECT_EQ(error_of(axes("  design: [stripes]\n  precision: [{search: {seed: -1}}]\n")),
            "s.yaml: axes.precision[0].search.seed: '-1' is not a non-negative integer");
}

TEST(SweepSpec, ShardsPartitionThePoints) {
  const Spec s = parse_spec(
      axes("  design: [dadiannao, stripes, loom, cnvlutin, tartan]\n  config: [{}, {tiles: 8}]\n"), "s.yaml");
  for (int n : {1, 3, 4, 10, 11}) {
    std::multiset<std::string> seen;
    for (int i = 0; i < n; ++i) {
      const auto share = shard_points(s, i, n);
      EXPECT_LE(share.size(), s.points.size() / n + 1);
      for (const Point* p : share) seen.insert(p->id);
    }
    EXPECT_EQ(seen.size(), s.points.size());
    for (const Point& p : s.points) EXPECT_EQ(seen.count(p.id), 1u);
  }
  int i = 0, n = 0;
  parse_shard("3/4", i, n);
  EXPECT_EQ(i, 3);
  EXPECT_EQ(n, 4);
  for (const char* bad : {"4/4", "-1/4", "1/0", "1", "a/b", "1/2/3", "1 /2"}) {
    EXPECT_THROW(parse_shard(bad, i, n), UsageError) << bad;
  }
}

TEST(SweepSpec, BadFilesNameTheField) {
  EXPECT_EQ(error_of(axes("  design: [stripes]\nextra: 1\n")),
            "s.yaml: extra: unknown key (version, name, compute, axes, points)");
  EXPECT_EQ(error_of(axes("  design: [stripes, nope]\n")),
            "s.yaml: axes.design[1]: 'nope' is not a design (effectual simulate --list-designs)");
  EXPECT_EQ(error_of(axes("  design: [stripes]\n  data: [{set: x, images: 0}]\n")), "s.yaml: axes.data: given twice");
  EXPECT_EQ(error_of("axes:\n  model: [" + kModel + "]\n  data: [{set: x, images: 0}]\n  design: [stripes]\n"),
            "s.yaml: axes.data[0].images: '0' is not a positive integer");
  EXPECT_EQ(error_of(axes("  design: [stripes]\n  config: [{design: loom}]\n")),
            "s.yaml: axes.config[0].design: the design comes from the design axis");
  EXPECT_EQ(error_of(axes("  design: [stripes]\n  precision: [missing.json]\n")),
            "s.yaml: axes.precision[0]: 'missing.json' is not a readable file");
  EXPECT_EQ(error_of(axes("points:\n  - {design: stripes, colour: red}\n")), "s.yaml: points[0].colour: unknown axis");
  EXPECT_EQ(error_of(axes("points:\n  - {design: stripes}\n  - {design: stripes}\n")),
            "s.yaml: points 0 and 1 are the same point");
  EXPECT_EQ(error_of(axes("  design: [stripes]\nversion: 2\n")), "s.yaml: version: only version 1 is understood");
  EXPECT_NE(error_of(axes("  design: [stripes]\n  config: [{tiles: many}]\n")).find("tiles"), std::string::npos);
}

}  // namespace
}  // namespace eff::sweep
