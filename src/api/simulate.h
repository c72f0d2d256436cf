// `effectual simulate`'s body for the command line and `import effectual`: the designs, technology
// and gates are built when the Simulation is made (before any model loads, so a bad --designs is
// reported first), then one of the three value sources runs, and `finish` gives the results with
// the notes the command writes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/commands.h"
#include "sim/gates_file.h"
#include "sim/simulator.h"
#include "sim/sources.h"

namespace eff::api {

struct SimulateOptions {
  std::string designs = "all";  // "" with a config: the config's entries
  std::string config, technology, gates;
  std::string dram;                           // DDR4 timing table for the memory timeline ("" : bandwidth only)
  std::string precision_profile, thresholds;  // the value hooks (--precision-profile, --thresholds)
  int threads = 0;                            // 0: all cores
  int64_t images = 1, first = 0;
  bool images_given = true;  // traces: all images unless given; live: quiet about a short data set
  bool space_to_depth = true;
  bool check_values = false;  // live form only
  bool live = true;           // the live form (MODEL on data), else traces or synthetic values
  bool quiet = false;         // no warnings on stderr (--json)
  std::string model;          // for the notes of the live form
};

struct SimulationResult {
  sim::SimResults results;  // with the notes
  std::string no_profile;   // the precision note printed under the table when no profile was given
  int checked = 0;          // (layer, design) pairs --check-values recomputed
  std::string mismatch;     // the first one that did not match, or ""
};

class Simulation {
 public:
  explicit Simulation(const SimulateOptions& options);
  // MODEL run on the data (the live form).
  void live(cli::Loaded& l, const Data& d);
  // A trace directory written by `effectual trace`.
  void traces(const std::string& dir);
  // Synthetic values for a network's geometry.
  void synthetic(const std::vector<LayerGeometry>& net, const sim::SyntheticSpec& spec);
  SimulationResult finish();

 private:
  SimulateOptions o_;
  int threads_;
  sim::DesignSet set_;
  sim::cost::Technology technology_;
  sim::GatesFile gates_;
  std::unique_ptr<sim::SimRun> run_;
  std::map<std::string, std::string> notes_;
  int quantized_ = 0;  // layers of an 8-bit model simulated on their integer codes
};

// The geometry --synthetic simulates: --network (a preset, an .onnx model's geometry or a network
// YAML), else MODEL's.
std::vector<LayerGeometry> synthetic_network(const std::string& network, const cli::Common& o);

// The document `simulate --json` prints; a --check-values mismatch fails.
nlohmann::json simulation_json(const SimulationResult& r);

}  // namespace eff::api
