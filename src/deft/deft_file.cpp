#include "deft/deft_file.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"

namespace eff::deft {

using nlohmann::json;
namespace fs = std::filesystem;

static_assert(std::endian::native == std::endian::little, "the weights file is read as little-endian fp32");

namespace {

constexpr size_t kMaxModelBytes = size_t{4} << 30;

void append_floats(std::string& bytes, const std::vector<float>& v) {
  const size_t at = bytes.size();
  bytes.resize(at + v.size() * sizeof(float));
  std::memcpy(bytes.data() + at, v.data(), v.size() * sizeof(float));
}

}  // namespace

void write_optimized_model(const std::string& source_model, const json& sidecar, const DeftModelPlan& plan,
                           const json& extra, const json& layer_extra, const std::string& out_model) {
  const fs::path out(out_model);
  const fs::path stem = out.parent_path() / out.stem();
  const std::string bin_name = stem.filename().string() + ".deft.bin";
  std::string bytes;
  json layers = json::array();
  for (const DeftLayerPlan& p : plan.layers) {
    json l = {{"name", p.name},
              {"kind", p.conv ? "conv" : "fc"},
              {"format", format_name(p.format)},
              {"alpha", p.sve.kept() == p.depth ? 2.0 : p.sve.alpha},
              {"compensation", compensation_name(p.compensation)},
              {"depth", p.depth},
              {"rows", p.weights.rows},
              {"kept", p.sve.kept()},
              {"offset", bytes.size()}};
    if (p.format == Format::kFp8) l["fp8"] = {{"exp_bits", p.fp8.exp_bits}, {"bias", p.fp8.bias}};
    if (p.format == Format::kInt8) l["int8"] = {{"scale", p.int8.scale}, {"zero", p.int8.zero}};
    if (p.sve.kept() != p.depth) l["synapses"] = p.sve.order;
    if (p.threads > 0) l["threads"] = p.threads;
    if (layer_extra.is_object() && layer_extra.contains(p.name)) l["measured"] = layer_extra.at(p.name);
    append_floats(bytes, p.weights.weights);
    append_floats(bytes, p.weights.bias);
    layers.push_back(std::move(l));
  }
  json deft = {{"format", kPlanFormat},
               {"version", 1},
               {"source_model", source_model},
               {"weights", bin_name},
               {"weights_bytes", bytes.size()},
               {"calibration_images", plan.calibration_images},
               {"layers", layers}};
  if (plan.batch_split) deft["batch_split"] = true;
  if (extra.is_object()) deft.update(extra);
  json side = sidecar.is_object() ? sidecar : json::object();
  if (!side.contains("name")) side["name"] = fs::path(source_model).stem().string();
  side["deft"] = deft;
  if (!out.parent_path().empty()) make_dirs(out.parent_path().string());
  write_file_atomic((stem.string() + ".deft.bin"), bytes);
  write_file_atomic(stem.string() + ".json", side.dump(2) + "\n");
  write_file_atomic(stem.string() + ".onnx", read_file(source_model, kMaxModelBytes));
}

DeftModelPlan read_optimized_plan(const json& deft, const std::string& sidecar_path) {
  const std::string where = sidecar_path + ": \"deft\"";
  DeftModelPlan plan;
  try {
    if (!deft.is_object() || deft.value("format", "") != kPlanFormat)
      fail<ConfigError>("{}: not an {} object", where, kPlanFormat);
    if (deft.at("version").get<int>() != 1) fail<ConfigError>("{}: version must be 1", where);
    const std::string bin_name = deft.at("weights").get<std::string>();
    if (bin_name.empty() || bin_name.find('/') != std::string::npos || bin_name == "..")
      fail<ConfigError>("{}.weights: '{}' must be a file name beside the sidecar", where, bin_name);
    const std::string bin_path = (fs::path(sidecar_path).parent_path() / bin_name).string();
    const std::string bytes = read_file(bin_path, kMaxModelBytes);
    if (bytes.size() != deft.at("weights_bytes").get<size_t>())
      fail<DataError>("{}: {} bytes, the plan in {} says {}", bin_path, bytes.size(), sidecar_path,
                      deft.at("weights_bytes").get<size_t>());
    plan.calibration_images = deft.value("calibration_images", int64_t{0});
    if (deft.contains("batch_split") && !deft.at("batch_split").is_boolean())
      fail<ConfigError>("{}.batch_split: must be true or false", where);
    plan.batch_split = deft.value("batch_split", false);
    for (const json& l : deft.at("layers")) {
      DeftLayerPlan p;
      p.name = l.at("name").get<std::string>();
      const std::string lw = fmt::format("{}.layers[{}]", where, p.name);
      const std::string kind = l.at("kind").get<std::string>();
      if (kind != "conv" && kind != "fc") fail<ConfigError>("{}.kind: '{}' is not conv or fc", lw, kind);
      p.conv = kind == "conv";
      if (!parse_format(l.at("format").get<std::string>(), p.format))
        fail<ConfigError>("{}.format: unknown format '{}'", lw, l.at("format").get<std::string>());
      if (!parse_compensation(l.value("compensation", "none"), p.compensation))
        fail<ConfigError>("{}.compensation: unknown '{}'", lw, l.value("compensation", ""));
      p.depth = l.at("depth").get<int64_t>();
      const int64_t rows = l.at("rows").get<int64_t>();
      const int64_t kept = l.at("kept").get<int64_t>();
      if (p.depth < 1 || rows < 1 || kept < 1 || kept > p.depth || p.depth > (int64_t{1} << 31) ||
          rows > (int64_t{1} << 31))
        fail<ConfigError>("{}: depth {}, rows {}, kept {} out of range", lw, p.depth, rows, kept);
      p.sve = sve_identity(p.depth);
      p.sve.alpha = l.value("alpha", 2.0);
      if (l.contains("synapses")) {
        p.sve.order = l.at("synapses").get<std::vector<int32_t>>();
        for (int32_t k : p.sve.order)
          if (k < 0 || k >= p.depth) fail<ConfigError>("{}.synapses: {} is outside [0, {})", lw, k, p.depth);
      }
      if (p.sve.kept() != kept) fail<ConfigError>("{}: {} synapses listed, kept says {}", lw, p.sve.kept(), kept);
      if (p.format == Format::kFp8) {
        p.fp8.exp_bits = l.at("fp8").at("exp_bits").get<int>();
        p.fp8.bias = l.at("fp8").at("bias").get<int>();
        if (p.fp8.exp_bits < 1 || p.fp8.exp_bits > 7) fail<ConfigError>("{}.fp8.exp_bits must be 1..7", lw);
      }
      if (p.format == Format::kInt8) {
        // The activation quantization: a finite scale above 0, a zero point 0..255, no elimination.
        if (!l.contains("int8") || !l.at("int8").is_object())
          fail<ConfigError>("{}.int8: an int8 layer needs {{\"scale\": S, \"zero\": Z}}", lw);
        const json& q = l.at("int8");
        if (!q.contains("scale") || !q.at("scale").is_number())
          fail<ConfigError>("{}.int8.scale: must be a number", lw);
        if (!q.contains("zero") || !q.at("zero").is_number_integer())
          fail<ConfigError>("{}.int8.zero: must be an integer", lw);
        const double scale = q.at("scale").get<double>();
        const int64_t zero = q.at("zero").get<int64_t>();
        p.int8.scale = static_cast<float>(scale);
        if (!(scale > 0) || !valid_int8_input({p.int8.scale, 0}))
          fail<ConfigError>("{}.int8.scale: {} must be a finite number above 0", lw, scale);
        if (zero < 0 || zero > 255) fail<ConfigError>("{}.int8.zero: {} is outside 0..255", lw, zero);
        p.int8.zero = static_cast<int32_t>(zero);
        if (p.sve.kept() != p.depth) fail<ConfigError>("{}.synapses: int8 runs without synapse vector elimination", lw);
      }
      p.threads = l.value("threads", 0);
      if (p.threads < 0 || p.threads > 4096) fail<ConfigError>("{}.threads: {} must be 0 (any) .. 4096", lw, p.threads);
      const size_t offset = l.at("offset").get<size_t>();
      const size_t count = static_cast<size_t>(rows * kept + rows);
      if (offset % sizeof(float) || offset > bytes.size() || count > (bytes.size() - offset) / sizeof(float))
        fail<ConfigError>("{}.offset: {} floats at byte {} do not fit the {}-byte weights file", lw, count, offset,
                          bytes.size());
      p.weights.rows = rows;
      p.weights.depth = kept;
      p.weights.weights.resize(static_cast<size_t>(rows * kept));
      p.weights.bias.resize(static_cast<size_t>(rows));
      std::memcpy(p.weights.weights.data(), bytes.data() + offset, p.weights.weights.size() * sizeof(float));
      std::memcpy(p.weights.bias.data(), bytes.data() + offset + p.weights.weights.size() * sizeof(float),
                  p.weights.bias.size() * sizeof(float));
      plan.layers.push_back(std::move(p));
    }
  } catch (const json::exception& e) {
    fail<ConfigError>("{}: missing or malformed field ({})", where, e.what());
  }
  return plan;
}

}  // namespace eff::deft
