#include "profile/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include "core/error.h"

namespace eff::profile {

ComputeMemory compute_memory(const LayerGeometry& g, int bits) {
  if (bits < 1 || bits > 64) fail<UsageError>("--bits {}: must be between 1 and 64", bits);
  ComputeMemory r;
  const int64_t groups = std::max<int64_t>(1, g.groups);
  r.macs = g.macs;
  r.ops = 2 * g.macs;
  if (g.kind == "fc") {
    const int64_t rows = g.Ni * g.Nf > 0 ? g.macs / (g.Ni * g.Nf) : 0;
    r.weights = g.Ni * g.Nf;
    r.input_values = rows * g.Ni;
    r.output_values = rows * g.Nf;
  } else {
    r.weights = g.kind == "deconv" ? g.Ni * (g.Nf / groups) * g.Kx * g.Ky : g.Nf * (g.Ni / groups) * g.Kx * g.Ky;
    r.input_values = g.Nx * g.Ny * g.Ni;
    r.output_values = g.Ox * g.Oy * g.Nf;
  }
  const double b = bits / 8.0;
  r.weight_bytes = r.weights * b;
  r.input_bytes = r.input_values * b;
  r.output_bytes = r.output_values * b;
  auto ratio = [](double ops, double bytes) { return bytes > 0 ? ops / bytes : 0.0; };
  r.intensity_weights = ratio(r.ops, r.weight_bytes);
  r.intensity_offchip = ratio(r.ops, r.weight_bytes + r.input_bytes + r.output_bytes);
  r.intensity_onchip = ratio(r.ops, r.input_bytes + r.output_bytes);
  return r;
}

namespace {

// Nominal fp32 peak of this CPU: cores x max clock x ops per cycle (one FMA pipe of the widest
// vector: 2 ops x 16 lanes with AVX-512, 2 x 8 x 2 pipes with AVX2+FMA, else 8).
Machine detect_cpu() {
  double mhz = 0;
  {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
    double khz = 0;
    if (f >> khz && khz > 0) mhz = khz / 1000;
  }
  std::string flags;
  {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
      if (mhz == 0 && line.rfind("cpu MHz", 0) == 0) {
        auto colon = line.find(':');
        if (colon != std::string::npos) mhz = std::atof(line.c_str() + colon + 1);
      }
      if (flags.empty() && line.rfind("flags", 0) == 0) flags = " " + line + " ";
      if (mhz > 0 && !flags.empty()) break;
    }
  }
  if (!(mhz > 0)) mhz = 2000;
  mhz = std::round(mhz / 100) * 100;  // the current clock wanders; keep the figure stable
  const bool avx512 = flags.find(" avx512f ") != std::string::npos;
  const bool avx2fma = flags.find(" avx2 ") != std::string::npos && flags.find(" fma ") != std::string::npos;
  const double per_cycle = avx512 || avx2fma ? 32 : 8;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  Machine m;
  m.name = "cpu";
  m.peak_ops_per_s = cores * mhz * 1e6 * per_cycle;
  m.bytes_per_s = 20e9;
  m.description = fmt::format("this CPU, nominal: {} cores x {:.1f} GHz x {:.0f} fp32 ops/cycle; 20 GB/s", cores,
                              mhz / 1000, per_cycle);
  return m;
}

}  // namespace

std::vector<Machine> default_machines() {
  Machine dadn{"dadiannao", 7.8e12, 51.2e9,
               "DaDianNao 16 tiles: 3.9 Tmul/s (seed 001 Table 1) = 7.8 Tops/s; DDR4-3200 x 2 channels, 51.2 GB/s"};
  return {detect_cpu(), dadn};
}

Machine parse_machine(const std::string& spec) {
  const auto eq = spec.find('=');
  const auto comma = spec.find(',', eq == std::string::npos ? 0 : eq);
  Machine m;
  if (eq == std::string::npos || eq == 0 || comma == std::string::npos) {
    fail<UsageError>("--machine '{}': expected NAME=OPS_PER_S,BYTES_PER_S (e.g. npu=1e12,25e9)", spec);
  }
  m.name = spec.substr(0, eq);
  try {
    size_t used = 0;
    const std::string ops = spec.substr(eq + 1, comma - eq - 1), bw = spec.substr(comma + 1);
    m.peak_ops_per_s = std::stod(ops, &used);
    if (used != ops.size()) throw std::invalid_argument(ops);
    m.bytes_per_s = std::stod(bw, &used);
    if (used != bw.size()) throw std::invalid_argument(bw);
  } catch (const std::exception&) {
    fail<UsageError>("--machine '{}': OPS_PER_S and BYTES_PER_S must be numbers", spec);
  }
  if (!(m.peak_ops_per_s > 0) || !(m.bytes_per_s > 0) || !std::isfinite(m.peak_ops_per_s) ||
      !std::isfinite(m.bytes_per_s)) {
    fail<UsageError>("--machine '{}': OPS_PER_S and BYTES_PER_S must be positive", spec);
  }
  m.description = "given with --machine";
  return m;
}

RooflinePlacement place_on_roofline(const Machine& m, double intensity) {
  RooflinePlacement p;
  p.intensity = intensity;
  p.ridge = m.peak_ops_per_s / m.bytes_per_s;
  p.attainable = std::min(m.peak_ops_per_s, intensity * m.bytes_per_s);
  p.memory_bound = intensity < p.ridge;
  return p;
}

// ---- synapse vectors -------------------------------------------------------------------------

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void SynapseRedundancy::merge(const SynapseRedundancy& o) {
  rows += o.rows;
  rows_examined += o.rows_examined;
  constant_rows += o.constant_rows;
  if (alphas.empty()) alphas = o.alphas;
  if (represented.size() < o.represented.size()) represented.resize(o.represented.size(), 0);
  for (size_t i = 0; i < o.represented.size(); ++i) represented[i] += o.represented[i];
}

SynapseRedundancy synapse_redundancy(const float* matrix, int64_t rows, int64_t len, const std::vector<double>& alphas,
                                     int64_t max_rows, uint64_t seed) {
  SynapseRedundancy r;
  r.rows = rows;
  r.alphas = alphas;
  r.represented.assign(alphas.size(), 0);
  std::vector<int64_t> pick(rows);
  std::iota(pick.begin(), pick.end(), 0);
  if (max_rows > 0 && rows > max_rows) {
    // Partial Fisher-Yates with a fixed seed, then back to index order.
    for (int64_t i = 0; i < max_rows; ++i) {
      const int64_t j = i + static_cast<int64_t>(mix64(seed + i) % static_cast<uint64_t>(rows - i));
      std::swap(pick[i], pick[j]);
    }
    pick.resize(max_rows);
    std::sort(pick.begin(), pick.end());
  }
  const int64_t n = static_cast<int64_t>(pick.size());
  r.rows_examined = n;
  // Centred, unit-length rows: their dot products are the Pearson correlations.
  std::vector<double> z(static_cast<size_t>(n * len));
  std::vector<uint8_t> constant(n, 0);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = matrix + pick[i] * len;
    double mean = 0;
    for (int64_t k = 0; k < len; ++k) mean += row[k];
    mean /= static_cast<double>(len);
    double ss = 0;
    for (int64_t k = 0; k < len; ++k) {
      const double d = row[k] - mean;
      z[i * len + k] = d;
      ss += d * d;
    }
    if (!(ss > 0) || !std::isfinite(ss)) {
      constant[i] = 1;
      ++r.constant_rows;
      continue;
    }
    const double inv = 1.0 / std::sqrt(ss);
    for (int64_t k = 0; k < len; ++k) z[i * len + k] *= inv;
  }
  std::vector<float> rho(static_cast<size_t>(n * n), 0.0f);
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) {
    if (constant[i]) continue;
    for (int64_t j = i + 1; j < n; ++j) {
      if (constant[j]) continue;
      double d = 0;
      const double* a = &z[i * len];
      const double* b = &z[j * len];
      for (int64_t k = 0; k < len; ++k) d += a[k] * b[k];
      rho[i * n + j] = static_cast<float>(d);
      rho[j * n + i] = static_cast<float>(d);
    }
  }
  // Rounding can put the correlation of identical rows a hair below 1; alpha = 1 should still
  // match them, so compare with a tolerance far below any alpha step a user would choose.
  constexpr double kTolerance = 1e-6;
  std::vector<uint8_t> adj(static_cast<size_t>(n * n));
  std::vector<int64_t> count(n);
  std::vector<uint8_t> alive(n);
  for (size_t a = 0; a < alphas.size(); ++a) {
    const float cut = static_cast<float>(alphas[a] - kTolerance);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const bool e = i != j && !constant[i] && !constant[j] && rho[i * n + j] >= cut;
        adj[i * n + j] = e;
        count[i] += e;
      }
    }
    std::fill(alive.begin(), alive.end(), 1);
    int64_t represented = 0;
    auto remove = [&](int64_t v) {
      alive[v] = 0;
      for (int64_t j = 0; j < n; ++j) {
        if (adj[v * n + j] && alive[j]) --count[j];
      }
    };
    for (;;) {
      int64_t best = -1;
      for (int64_t i = 0; i < n; ++i) {
        if (alive[i] && count[i] > 0 && (best < 0 || count[i] > count[best])) best = i;
      }
      if (best < 0) break;
      std::vector<int64_t> members;
      for (int64_t j = 0; j < n; ++j) {
        if (alive[j] && adj[best * n + j]) members.push_back(j);
      }
      remove(best);
      for (int64_t j : members) {
        remove(j);
        ++represented;
      }
    }
    r.represented[a] = represented;
  }
  return r;
}

std::optional<SynapseRedundancy> layer_synapse_redundancy(const LayerGeometry& g, const float* weights, bool fc_nk,
                                                          const std::vector<double>& alphas, int64_t max_rows,
                                                          uint64_t seed) {
  if (g.kind == "deconv") return std::nullopt;
  const int64_t groups = std::max<int64_t>(1, g.groups);
  const int64_t fpg = g.Nf / groups;  // vector length: filters of the group
  if (fpg < 2) return std::nullopt;
  if (g.kind == "fc") {
    std::vector<float> m(static_cast<size_t>(g.Ni * g.Nf));
    for (int64_t k = 0; k < g.Ni; ++k) {
      for (int64_t f = 0; f < g.Nf; ++f) m[k * g.Nf + f] = fc_nk ? weights[f * g.Ni + k] : weights[k * g.Nf + f];
    }
    return synapse_redundancy(m.data(), g.Ni, g.Nf, alphas, max_rows, seed);
  }
  const int64_t cg = g.Ni / groups, taps = g.Kx * g.Ky, rows = cg * taps;
  SynapseRedundancy total;
  total.alphas = alphas;
  total.represented.assign(alphas.size(), 0);
  std::vector<float> m(static_cast<size_t>(rows * fpg));
  for (int64_t gi = 0; gi < groups; ++gi) {
    for (int64_t f = 0; f < fpg; ++f) {
      const float* wf = weights + (gi * fpg + f) * rows;  // [c][ky][kx] of filter gi*fpg + f
      for (int64_t k = 0; k < rows; ++k) m[k * fpg + f] = wf[k];
    }
    total.merge(synapse_redundancy(m.data(), rows, fpg, alphas, max_rows, seed + static_cast<uint64_t>(gi)));
  }
  return total;
}

// ---- partial sums ------------------------------------------------------------------------------

void Pearson::merge(const Pearson& o) {
  n += o.n;
  sx += o.sx;
  sy += o.sy;
  sxx += o.sxx;
  syy += o.syy;
  sxy += o.sxy;
}

std::optional<double> Pearson::r() const {
  if (n < 2) return std::nullopt;
  const double dn = static_cast<double>(n);
  const double vx = sxx - sx * sx / dn, vy = syy - sy * sy / dn, cxy = sxy - sx * sy / dn;
  // Variances that are rounding noise relative to the sums of squares count as zero.
  if (!(vx > 1e-12 * sxx) || !(vy > 1e-12 * syy)) return std::nullopt;
  return std::clamp(cxy / std::sqrt(vx * vy), -1.0, 1.0);
}

void accumulate_partial_sums(const LayerGeometry& g, const float* acts, const float* weights, bool fc_nk,
                             const std::vector<int>& denominators, int64_t samples, uint64_t seed, int64_t image,
                             std::vector<Pearson>& out) {
  if (g.kind == "deconv") return;
  out.resize(denominators.size());
  const bool fc = g.kind == "fc";
  const int64_t groups = fc ? 1 : std::max<int64_t>(1, g.groups);
  const int64_t cg = g.Ni / groups;
  const int64_t positions = fc ? (g.Ni * g.Nf > 0 ? g.macs / (g.Ni * g.Nf) : 0) : g.Ox * g.Oy;
  const int64_t outputs = positions * g.Nf;
  if (outputs == 0 || cg == 0) return;
  std::vector<int64_t> cut(denominators.size());
  for (size_t i = 0; i < denominators.size(); ++i) cut[i] = cg / std::max(1, denominators[i]);
  const bool all = samples <= 0 || samples >= outputs;
  const int64_t n = all ? outputs : samples;
  std::vector<double> prefix(static_cast<size_t>(cg + 1));
  const int64_t fpg = g.Nf / groups;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t o =
        all ? s
            : static_cast<int64_t>(mix64(seed ^ mix64(static_cast<uint64_t>(image) * 0x100000001ull + s)) %
                                   static_cast<uint64_t>(outputs));
    const int64_t f = o / positions, pos = o % positions;
    prefix[0] = 0;
    if (fc) {
      const float* a = acts + pos * g.Ni;
      for (int64_t k = 0; k < g.Ni; ++k) {
        const double w = fc_nk ? weights[f * g.Ni + k] : weights[k * g.Nf + f];
        prefix[k + 1] = prefix[k] + w * a[k];
      }
    } else {
      const int64_t gi = f / std::max<int64_t>(1, fpg);
      const int64_t oy = pos / g.Ox, ox = pos % g.Ox;
      const float* wf = weights + f * cg * g.Ky * g.Kx;
      // Taps inside the input (the rest read padding zeros).
      const int64_t y0 = oy * g.stride_y - g.pad_top, x0 = ox * g.stride_x - g.pad_left;
      int64_t ky0 = 0, ky1 = g.Ky, kx0 = 0, kx1 = g.Kx;
      while (ky0 < ky1 && y0 + ky0 * g.dilation_y < 0) ++ky0;
      while (ky1 > ky0 && y0 + (ky1 - 1) * g.dilation_y >= g.Ny) --ky1;
      while (kx0 < kx1 && x0 + kx0 * g.dilation_x < 0) ++kx0;
      while (kx1 > kx0 && x0 + (kx1 - 1) * g.dilation_x >= g.Nx) --kx1;
      for (int64_t c = 0; c < cg; ++c) {
        const float* plane = acts + (gi * cg + c) * g.Ny * g.Nx;
        const float* wc = wf + c * g.Ky * g.Kx;
        double sum = 0;
        for (int64_t ky = ky0; ky < ky1; ++ky) {
          const float* row = plane + (y0 + ky * g.dilation_y) * g.Nx;
          const float* wr = wc + ky * g.Kx;
          for (int64_t kx = kx0; kx < kx1; ++kx) sum += static_cast<double>(wr[kx]) * row[x0 + kx * g.dilation_x];
        }
        prefix[c + 1] = prefix[c] + sum;
      }
    }
    for (size_t i = 0; i < cut.size(); ++i) {
      if (cut[i] > 0) out[i].add(prefix[cut[i]], prefix[cg]);
    }
  }
}

}  // namespace eff::profile
