#include "sim/cost/dram.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace eff::sim::cost {

namespace {

std::vector<std::pair<const char*, double DramTiming::*>> dram_fields() {
  return {{"channels", &DramTiming::channels},
          {"bus_bits", &DramTiming::bus_bits},
          {"data_rate_mt_s", &DramTiming::data_rate_mt_s},
          {"burst_length", &DramTiming::burst_length},
          {"banks", &DramTiming::banks},
          {"row_bytes", &DramTiming::row_bytes},
          {"tCL", &DramTiming::tCL},
          {"tRCD", &DramTiming::tRCD},
          {"tRP", &DramTiming::tRP},
          {"tRAS", &DramTiming::tRAS},
          {"tRRD_S", &DramTiming::tRRD_S},
          {"tFAW", &DramTiming::tFAW},
          {"tREFI_ns", &DramTiming::tREFI_ns},
          {"tRFC_ns", &DramTiming::tRFC_ns},
          {"tCWL", &DramTiming::tCWL},
          {"tWTR", &DramTiming::tWTR},
          {"tRTW", &DramTiming::tRTW},
          {"write_drain_bursts", &DramTiming::write_drain_bursts},
          {"vdd", &DramTiming::vdd},
          {"devices_per_rank", &DramTiming::devices_per_rank},
          {"idd0", &DramTiming::idd0},
          {"idd2n", &DramTiming::idd2n},
          {"idd3n", &DramTiming::idd3n},
          {"idd4r", &DramTiming::idd4r},
          {"idd4w", &DramTiming::idd4w},
          {"idd_tck_ns", &DramTiming::idd_tck_ns},
          {"io_pj_per_bit", &DramTiming::io_pj_per_bit}};
}

double number(const YAML::Node& n, const std::string& file, const std::string& key) {
  if (!n.IsScalar()) fail<ConfigError>("{}: {}.value: must be a number", file, key);
  const std::string s = n.as<std::string>();
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    fail<ConfigError>("{}: {}.value: '{}' is not a number", file, key, s);
  }
  if (!std::isfinite(v) || v <= 0) fail<ConfigError>("{}: {}.value: {} must be a positive finite number", file, key, s);
  return v;
}

DramTiming parse_unchecked(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: line {}: {}", file, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap())
    fail<ConfigError>("{}: a DRAM timing table must be a mapping (configs/memory/ddr4-3200.yaml)", file);
  DramTiming d;
  d.file = file;
  std::set<std::string> seen;
  const auto fields = dram_fields();
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "name") {
      if (!kv.second.IsScalar()) fail<ConfigError>("{}: name: must be a string", file);
      d.name = kv.second.as<std::string>();
      continue;
    }
    auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return key == f.first; });
    if (it == fields.end()) fail<ConfigError>("{}: {}: unknown key", file, key);
    if (!kv.second.IsMap()) fail<ConfigError>("{}: {}: must be {{value: NUMBER, source: TEXT}}", file, key);
    bool has_value = false, has_source = false;
    for (const auto& f : kv.second) {
      const std::string field = f.first.as<std::string>();
      if (field == "value") {
        d.*(it->second) = number(f.second, file, key);
        has_value = true;
      } else if (field == "source") {
        has_source = f.second.IsScalar() && !f.second.as<std::string>().empty();
      } else {
        fail<ConfigError>("{}: {}.{}: unknown key", file, key, field);
      }
    }
    if (!has_value) fail<ConfigError>("{}: {}: 'value' is required", file, key);
    if (!has_source)
      fail<ConfigError>("{}: {}: 'source' is required (every number says where it comes from)", file, key);
    seen.insert(key);
  }
  for (const auto& [key, field] : fields) {
    if (!seen.count(key)) fail<ConfigError>("{}: {}: missing", file, key);
  }
  if (d.tRFC_ns >= d.tREFI_ns) fail<ConfigError>("{}: tRFC_ns: must be below tREFI_ns", file);
  // The activation energy is IDD0's excess over standby: IDD0 must exceed both standby currents.
  if (d.idd0 <= std::max(d.idd3n, d.idd2n)) fail<ConfigError>("{}: idd0: must exceed idd3n and idd2n", file);
  if (d.idd4r <= d.idd3n || d.idd4w <= d.idd3n) fail<ConfigError>("{}: idd4r/idd4w: must exceed idd3n", file);
  return d;
}

}  // namespace

double DramTiming::activate_clocks() const {
  return std::max({tFAW / 4, tRRD_S, (tRAS + tRP) / banks});
}

DramTiming parse_dram(const std::string& text, const std::string& file) {
  try {
    return parse_unchecked(text, file);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: not a DRAM timing table ({})", file, e.what());
  }
}

DramTiming load_dram(const std::string& path) {
  std::string text;
  try {
    text = read_file(path, 1 << 20);
  } catch (const DataError& e) {
    throw ConfigError(e.what());
  }
  return parse_dram(text, path);
}

double DramTiming::turnaround_clocks() const {
  return tWTR + tCL + std::max(0.0, tRTW + tCWL - tCL - burst_clocks());
}

double DramTiming::activate_pj() const {
  const double t_ras = tRAS * tck_ns(), t_rp = tRP * tck_ns();
  return (idd0 * (t_ras + t_rp) - idd3n * t_ras - idd2n * t_rp) * vdd * devices_per_rank;
}

double DramTiming::read_burst_pj() const {
  return (idd4r - idd3n) * vdd * burst_clocks() * idd_tck_ns * devices_per_rank;
}

double DramTiming::write_burst_pj() const {
  return (idd4w - idd3n) * vdd * burst_clocks() * idd_tck_ns * devices_per_rank;
}

DramCost dram_transfer(const DramTiming& d, double bytes, double run_bytes, double write_bytes) {
  DramCost c;
  bytes = std::max(0.0, bytes);
  write_bytes = std::max(0.0, write_bytes);
  if (bytes + write_bytes <= 0) return c;
  const double burst = d.burst_bytes();
  double clocks = d.tRP + d.tRCD + d.tCL, read_bursts = 0, write_bursts = 0;
  if (bytes > 0) {
    if (run_bytes <= 0 || run_bytes > bytes) run_bytes = bytes;
    // Per channel: a run split over the channels when it spans a burst on each, else whole.
    const double run = run_bytes >= d.channels * burst ? run_bytes / d.channels : run_bytes;
    const double runs = bytes / d.channels / run;  // runs each channel serves (fractional last run)
    const double bursts = std::ceil(run / burst), rows = std::ceil(run / d.row_bytes);
    clocks += runs * std::max(bursts * d.burst_clocks(), rows * d.activate_clocks());
    read_bursts = runs * bursts;
    c.activations += runs * rows * d.channels;
  }
  if (write_bytes > 0) {
    // A sequential stream: rows open under the bursts, as for a read stream.
    const double per_channel = write_bytes / d.channels;
    write_bursts = std::ceil(per_channel / burst);
    const double rows = std::ceil(per_channel / d.row_bytes);
    clocks += std::max(write_bursts * d.burst_clocks(), rows * d.activate_clocks());
    c.activations += rows * d.channels;
    if (bytes > 0) clocks += std::ceil(write_bursts / d.write_drain_bursts) * d.turnaround_clocks();
  }
  c.ns = clocks * d.tck_ns() * d.tREFI_ns / (d.tREFI_ns - d.tRFC_ns);
  c.pj = c.activations * d.activate_pj() +
         d.channels * (read_bursts * d.read_burst_pj() + write_bursts * d.write_burst_pj()) +
         8 * (bytes + write_bytes) * d.io_pj_per_bit;
  return c;
}

}  // namespace eff::sim::cost
