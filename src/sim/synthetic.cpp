// Values a network never produced: synthetic activations and weights drawn to a specification
// (shape-only simulation of networks one cannot run), and the network descriptions they use
// (presets, network YAML). Split from sources.cpp, which reads live captures and traces.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/fc_rows.h"
#include "sim/machinery.h"
#include "sim/sources.h"

namespace eff::sim {

// ---- (c) synthetic values ----------------------------------------------------------------------

namespace {

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

enum class Magnitude { kUniform, kLogUniform, kHalfNormal };

Magnitude magnitude_kind(const std::string& m) {
  if (m == "uniform") return Magnitude::kUniform;
  if (m == "log-uniform") return Magnitude::kLogUniform;
  if (m == "half-normal") return Magnitude::kHalfNormal;
  fail<UsageError>("--magnitude must be uniform, log-uniform or half-normal (got '{}')", m);
}

// Magnitude in [1, 2^(bits-1) - 1] (bits includes the sign bit).
int32_t draw_magnitude(uint64_t r, Magnitude kind, int bits) {
  const int32_t max_mag = (1 << (bits - 1)) - 1;
  if (max_mag <= 1) return 1;
  switch (kind) {
    case Magnitude::kUniform:
      return 1 + static_cast<int32_t>((r >> 20) % static_cast<uint64_t>(max_mag));
    case Magnitude::kLogUniform: {
      const int e = static_cast<int>((r >> 58) % static_cast<uint64_t>(bits - 1));  // msb position 0..bits-2
      return (1 << e) | static_cast<int32_t>(r & ((uint64_t{1} << e) - 1));
    }
    case Magnitude::kHalfNormal: {
      // Irwin-Hall of four uniforms approximates a normal (sd 1 after scaling); |z| * max/3.
      const double u = (double((r >> 0) & 0xFFFF) + double((r >> 16) & 0xFFFF) + double((r >> 32) & 0xFFFF) +
                        double((r >> 48) & 0xFFFF)) /
                       65536.0;
      const double z = std::fabs((u - 2.0) * 1.7320508075688772);
      return std::clamp(static_cast<int32_t>(z * max_mag / 3.0) + 1, 1, max_mag);
    }
  }
  return 1;
}

void fill_codes(std::vector<int16_t>& out, uint64_t seed, double zero_fraction, Magnitude kind, int bits, bool sign) {
  // Fixed-size chunks, each with its own seed: the same codes for any thread count.
  constexpr int64_t kChunk = 1 << 14;
  const int64_t n = static_cast<int64_t>(out.size());
  const uint64_t zero_cut = static_cast<uint64_t>(std::clamp(zero_fraction, 0.0, 1.0) * 9007199254740992.0);
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    uint64_t s = seed ^ (static_cast<uint64_t>(c0 / kChunk) * 0xD1B54A32D192ED03ull);
    const int64_t c1 = std::min(n, c0 + kChunk);
    for (int64_t i = c0; i < c1; ++i) {
      // Zero test and sign from one draw (zero_cut compares bits 11..63, the sign is bit 0).
      const uint64_t r = zero_cut == 0 && !sign ? 0 : splitmix(s);
      if ((r >> 11) < zero_cut) {
        out[i] = 0;
        continue;
      }
      const int32_t m = draw_magnitude(splitmix(s), kind, bits);
      out[i] = static_cast<int16_t>(sign && (r & 1) ? -m : m);
    }
  }
}

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0x9E3779B97F4A7C15ull);
  return splitmix(s);
}

}  // namespace

void validate_synthetic(const SyntheticSpec& s) {
  if (!(s.zero_fraction >= 0.0 && s.zero_fraction <= 1.0)) {
    fail<UsageError>("--zero-fraction must be in [0, 1] (got {})", s.zero_fraction);
  }
  if (s.act_bits < 1 || s.act_bits > 16) fail<UsageError>("--act-bits must be in [1, 16] (got {})", s.act_bits);
  if (s.wgt_bits < 1 || s.wgt_bits > 16) fail<UsageError>("--wgt-bits must be in [1, 16] (got {})", s.wgt_bits);
  magnitude_kind(s.magnitude);
}

SimLayer synthetic_layer(const LayerGeometry& model_g, const SyntheticSpec& s, int image, bool first_layer,
                         bool space_to_depth, bool weights) {
  // An FC layer over several rows: the 1x1 convolution the designs see (sim/fc_rows.h).
  const LayerGeometry g = simulated_geometry(model_g);
  validate_synthetic(s);
  const Magnitude kind = magnitude_kind(s.magnitude);
  const bool fc = g.kind == "fc";
  check_layer_size(g);
  std::vector<int16_t> acts(static_cast<size_t>(fc ? g.Ni : g.Ni * g.Ny * g.Nx));
  std::vector<int16_t> wgts(
      static_cast<size_t>(fc ? g.Ni * g.Nf : g.Nf * (g.Ni / std::max<int64_t>(1, g.groups)) * g.Ky * g.Kx));
  const uint64_t base = mix(mix(s.seed, static_cast<uint64_t>(g.index) + 1), static_cast<uint64_t>(image) + 1);
  // Activations are unsigned: P magnitude bits, no sign bit (seed 001 Table 2), at most 15 so a
  // code fits a 16-bit word. fill_codes' width counts a sign bit, hence + 1.
  fill_codes(acts, base, s.zero_fraction, kind, std::min(s.act_bits, 15) + 1, false);
  // Without `weights` the codes stay zero: no design reads them, and drawing FC weights would
  // dominate the run (VGG-16: 124 M of its 138 M weights are FC).
  if (weights) fill_codes(wgts, mix(s.seed ^ 0x5157u, static_cast<uint64_t>(g.index) + 1), 0.0, kind, s.wgt_bits, true);
  SimLayerOptions o;
  o.image = image;
  o.first_layer = first_layer;
  o.space_to_depth = space_to_depth;
  o.fc_over_rows = model_g.kind == "fc" && g.kind == "conv";
  return make_sim_layer_from_codes(g, std::move(acts), std::move(wgts), s.act_bits, s.wgt_bits, o);
}

namespace {

LayerGeometry conv_geometry(int index, const std::string& name, int64_t c, int64_t h, int64_t w, int64_t filters,
                            int64_t ky, int64_t kx, int64_t stride, int64_t pad, int64_t groups) {
  LayerGeometry g;
  g.index = index;
  g.name = name;
  g.op = "Conv";
  g.kind = "conv";
  g.Ni = c;
  g.Ny = h;
  g.Nx = w;
  g.Nf = filters;
  g.Ky = ky;
  g.Kx = kx;
  g.stride_x = g.stride_y = stride;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = pad;
  g.groups = groups;
  g.Oy = (h + 2 * pad - ky) / stride + 1;
  g.Ox = (w + 2 * pad - kx) / stride + 1;
  g.macs = g.Ox * g.Oy * g.Nf * (c / groups) * kx * ky;
  g.params = g.Nf * (c / groups) * kx * ky + g.Nf;
  return g;
}

LayerGeometry fc_geometry(int index, const std::string& name, int64_t in, int64_t out) {
  LayerGeometry g;
  g.index = index;
  g.name = name;
  g.op = "Gemm";
  g.kind = "fc";
  g.Ni = in;
  g.Nf = out;
  g.macs = in * out;
  g.params = in * out + out;
  return g;
}

}  // namespace

std::vector<LayerGeometry> network_preset(const std::string& name) {
  std::vector<LayerGeometry> net;
  if (name == "vgg16" || name == "vgg16-conv") {
    const int64_t widths[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512};
    int64_t c = 3, hw = 224;
    int block = 1, pos = 1;
    for (int64_t f : widths) {
      if (f == 0) {
        hw /= 2;
        ++block;
        pos = 1;
        continue;
      }
      net.push_back(conv_geometry(static_cast<int>(net.size()), fmt::format("conv{}_{}", block, pos++), c, hw, hw, f, 3,
                                  3, 1, 1, 1));
      c = f;
    }
    if (name == "vgg16") {
      net.push_back(fc_geometry(static_cast<int>(net.size()), "fc6", 512 * 7 * 7, 4096));
      net.push_back(fc_geometry(static_cast<int>(net.size()), "fc7", 4096, 4096));
      net.push_back(fc_geometry(static_cast<int>(net.size()), "fc8", 4096, 1000));
    }
  }
  return net;
}

namespace {
std::vector<LayerGeometry> parse_network_yaml(const std::string& text, const std::string& file);
}  // namespace

std::vector<LayerGeometry> network_from_yaml(const std::string& text, const std::string& file) {
  // yaml-cpp throws on any node read as the wrong kind (a map where a key's string should be);
  // every such case is a malformed file (found by tests/fuzz/fuzz_configs.cpp).
  try {
    return parse_network_yaml(text, file);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: not a network description ({})", file, e.what());
  }
}

namespace {
std::vector<LayerGeometry> parse_network_yaml(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail<ConfigError>("{}: line {}: {}", file, e.mark.line + 1, e.msg);
  }
  if (!root.IsMap() || !root["layers"] || !root["layers"].IsSequence()) {
    fail<ConfigError>("{}: expected a mapping with a 'layers' list", file);
  }
  for (const auto& kv : root) {
    if (kv.first.as<std::string>() != "layers")
      fail<ConfigError>("{}: {}: unknown key", file, kv.first.as<std::string>());
  }
  std::vector<LayerGeometry> net;
  const YAML::Node layers = root["layers"];
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string where = fmt::format("{}: layers[{}]", file, i);
    const YAML::Node n = layers[i];
    if (!n.IsMap()) fail<ConfigError>("{}: must be a mapping", where);
    auto integer = [&](const char* key, int64_t def, bool required) -> int64_t {
      if (!n[key]) {
        if (required) fail<ConfigError>("{}.{}: required", where, key);
        return def;
      }
      try {
        const int64_t v = n[key].as<int64_t>();
        if (v < 0 || v > (int64_t{1} << 24)) fail<ConfigError>("{}.{}: {} is out of range", where, key, v);
        return v;
      } catch (const YAML::Exception&) {
        fail<ConfigError>("{}.{}: not an integer", where, key);
      }
    };
    const std::string type = n["type"] ? n["type"].as<std::string>() : "";
    const std::string name = n["name"] ? n["name"].as<std::string>() : fmt::format("layer{}", i);
    std::vector<std::string> allowed;
    if (type == "conv") {
      allowed = {"name", "type", "channels", "height", "width", "filters", "kernel", "stride", "pad", "groups"};
    } else if (type == "fc") {
      allowed = {"name", "type", "inputs", "outputs"};
    } else {
      fail<ConfigError>("{}.type: must be conv or fc", where);
    }
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        fail<ConfigError>("{}.{}: unknown key", where, key);
      }
    }
    LayerGeometry g;
    if (type == "conv") {
      const int64_t c = integer("channels", 0, true), h = integer("height", 0, true), w = integer("width", h, false);
      const int64_t f = integer("filters", 0, true), k = integer("kernel", 1, false), s = integer("stride", 1, false);
      const int64_t p = integer("pad", 0, false), gr = integer("groups", 1, false);
      if (c < 1 || h < 1 || w < 1 || f < 1 || k < 1 || s < 1 || gr < 1) {
        fail<ConfigError>("{}: channels, height, width, filters, kernel, stride and groups must be positive", where);
      }
      if (c % gr != 0 || f % gr != 0)
        fail<ConfigError>("{}.groups: {} does not divide channels and filters", where, gr);
      if (h + 2 * p < k || w + 2 * p < k) fail<ConfigError>("{}.kernel: {} is larger than the padded input", where, k);
      g = conv_geometry(static_cast<int>(i), name, c, h, w, f, k, k, s, p, gr);
    } else {
      const int64_t in = integer("inputs", 0, true), out = integer("outputs", 0, true);
      if (in < 1 || out < 1) fail<ConfigError>("{}: inputs and outputs must be positive", where);
      g = fc_geometry(static_cast<int>(i), name, in, out);
    }
    net.push_back(g);
  }
  return net;
}

}  // namespace

void simulate_synthetic(const std::vector<LayerGeometry>& net, const SyntheticSpec& s, int images, SimRun& run,
                        int threads, bool space_to_depth, const std::function<void()>& on_layer_done) {
  validate_synthetic(s);
  const int64_t jobs = static_cast<int64_t>(net.size()) * images;
  const bool weights = run.needs_weights();
  // Biggest layers first so the threads finish together (results do not depend on the order).
  std::vector<size_t> order(net.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto work = [&](size_t i) { return net[i].macs + (weights ? net[i].params : 0); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return work(a) > work(b); });
  std::string error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && jobs > 1)
  for (int64_t j = 0; j < jobs; ++j) {
    const size_t li = order[static_cast<size_t>(j % static_cast<int64_t>(net.size()))];
    const int img = static_cast<int>(j / static_cast<int64_t>(net.size()));
    try {
      if (net[li].kind == "conv" || net[li].kind == "fc") {
        run.simulate(synthetic_layer(net[li], s, img, li == 0, space_to_depth, weights));
      }
      if (on_layer_done) {
#pragma omp critical(eff_sim_progress)
        on_layer_done();
      }
    } catch (const std::exception& ex) {
#pragma omp critical(eff_sim_synth_error)
      if (error.empty()) error = ex.what();
    }
  }
  if (!error.empty()) throw Error(error);
}

}  // namespace eff::sim
