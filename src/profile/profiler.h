// `effectual profile` as a library: a LayerObserver that measures every conv/FC layer's values
// while the executor runs (streaming: per layer only counters are kept, never tensors), plus the
// driver that runs a data set through it. Results are integer counters merged in image order, so
// the profile is identical for any thread count and batch size. docs/profile.md documents every
// statistic and the JSON schema (profile_json.h writes it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/executor.h"
#include "engine/geometry.h"
#include "engine/non_finite.h"
#include "profile/layer_stats.h"
#include "profile/value_stats.h"

namespace eff {
class Dataset;
}

namespace eff::profile {

struct ProfileOptions {
  std::vector<double> near_zero;                               // absolute thresholds
  std::vector<double> relative_near_zero = {0.01, 0.05, 0.1};  // fractions of the layer's max |a|
  std::vector<GroupShape> groups = {{16, 1}, {16, 16}};
  int memory_bits = 16;
  std::vector<Machine> machines;  // empty: default_machines()
  bool correlations = true;
  std::vector<double> alphas = {0.99, 0.95, 0.9, 0.8};
  std::vector<int> psum_denominators = {2, 4, 8, 16};  // p/c = 1/d
  int64_t psum_samples_per_image = 32;                 // sampled outputs per image and layer
  int64_t synapse_max_rows = 512;
  uint64_t seed = 20171014;
  int64_t calibration_images = 32;                   // the first images of the run set ranges (see needs_calibration)
  std::map<std::string, LayerTransform> transforms;  // what the executor applies (precision profile)
  int threads = 0;
};

// Everything measured for one layer.
struct LayerProfile {
  LayerInfo info;
  LayerGeometry geo;
  bool seen = false;
  bool fc_nk = true;     // FC weights stored [Nf, Ni]
  int64_t mac_unit = 1;  // MACs per unit of the *_mac counters
  int64_t images = 0;
  double calibration_absmax = 0;
  bool calibrated = false;

  FixedPointFormat act_fixed;
  std::string act_fixed_source;       // "precision-profile" or "range"
  std::vector<float> act_thresholds;  // absolute: near_zero, then relative_near_zero * calibration_absmax
  ValueCounters act;
  std::vector<GroupCounters> groups;  // one per ProfileOptions::groups
  std::vector<Pearson> psum;          // one per psum_denominators

  FixedPointFormat wgt_fixed;
  std::string wgt_fixed_source;
  std::vector<float> wgt_thresholds;
  float wgt_absmax = 0;
  ValueCounters wgt;
  std::optional<SynapseRedundancy> synapse;
  ComputeMemory compute;
};

class Profiler final : public LayerObserver {
 public:
  Profiler(const Graph& graph, ProfileOptions options);

  // True when some layer's statistics need its activation range before the real pass: relative
  // near-zero thresholds, or a 16-bit format derived from the range (no precision profile entry).
  bool needs_calibration() const;
  // While on, on_layer only records each layer's max |a|.
  void set_calibrating(bool on) { calibrating_ = on; }

  void on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                const Tensor& output) override;

  const ProfileOptions& options() const { return options_; }
  const std::vector<Machine>& machines() const { return machines_; }
  // In execution order; layers the run never reached are left out.
  std::vector<const LayerProfile*> layers() const;
  int64_t images() const;

 private:
  void first_sight(LayerProfile& p, const LayerInfo& layer, const Tensor& a, const Tensor& w, const Tensor& o);
  void profile_weights(LayerProfile& p, const Tensor& w);

  const Graph& graph_;
  ProfileOptions options_;
  std::vector<Machine> machines_;
  std::vector<LayerProfile> layers_;
  bool calibrating_ = false;
};

// Runs images [first, first + count) of `data` through `ex` with `profiler` observing: a
// calibration pass over the first ProfileOptions::calibration_images images when needed, then
// the profiled pass in batches of `batch` (a progress bar on a terminal).
// With `non_finite` / `input_non_finite`, also counts NaN/Inf in layer outputs and inputs.
void run_profile(Executor& ex, const Dataset& data, Profiler& profiler, int64_t first, int64_t count, int64_t batch,
                 bool progress = true, NonFiniteObserver* non_finite = nullptr, NonFinite* input_non_finite = nullptr);

}  // namespace eff::profile
