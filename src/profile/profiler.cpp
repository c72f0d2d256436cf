#include "profile/profiler.h"

#include <algorithm>
#include <cmath>

#include "core/progress.h"
#include "data/dataset.h"
#include "engine/quantized_layers.h"

namespace eff::profile {

Profiler::Profiler(const Graph& graph, ProfileOptions options) : graph_(graph), options_(std::move(options)) {
  machines_ = options_.machines.empty() ? default_machines() : options_.machines;
  for (const GroupShape& s : options_.groups) {
    if (s.channels < 1 || s.windows < 1 || s.channels > 4096 || s.windows > 4096) {
      fail<UsageError>("--group {}x{}: channels and windows must be between 1 and 4096", s.channels, s.windows);
    }
  }
  for (double t : options_.near_zero) {
    if (!(t >= 0) || !std::isfinite(t)) fail<UsageError>("--near-zero {}: thresholds must be finite and >= 0", t);
  }
  for (double t : options_.relative_near_zero) {
    if (!(t >= 0) || !(t <= 1)) fail<UsageError>("--relative-near-zero {}: fractions must be in [0, 1]", t);
  }
  for (int d : options_.psum_denominators) {
    if (d < 1) fail<UsageError>("partial-sum fraction 1/{}: the denominator must be >= 1", d);
  }
  std::vector<LayerInfo> infos = find_layers(graph_);
  layers_.resize(infos.size());
  for (size_t i = 0; i < infos.size(); ++i) layers_[i].info = infos[i];
}

bool Profiler::needs_calibration() const {
  if (!options_.relative_near_zero.empty()) return true;
  for (const LayerProfile& p : layers_) {
    auto it = options_.transforms.find(p.info.name);
    if (it == options_.transforms.end() || it->second.activations.kind != OperandTransform::kFixedPoint) return true;
  }
  return false;
}

std::vector<const LayerProfile*> Profiler::layers() const {
  std::vector<const LayerProfile*> out;
  for (const LayerProfile& p : layers_) {
    if (p.seen) out.push_back(&p);
  }
  return out;
}

int64_t Profiler::images() const {
  for (const LayerProfile& p : layers_) {
    if (p.seen) return p.images;
  }
  return 0;
}

namespace {

float absmax_of(const float* v, int64_t n) {
  float lo = 0, hi = 0;
  finite_range(v, n, lo, hi);
  return std::max(-lo, hi);
}

Tensor codes_as_float(const std::vector<int16_t>& codes, const Shape& shape) {
  Tensor t(DType::kFloat32, shape);
  std::copy(codes.begin(), codes.end(), t.data<float>());
  return t;
}

Tensor as_f32(const Tensor& t) {
  return t.dtype() == DType::kFloat32 ? t : t.cast(DType::kFloat32);
}

// Images in an activation tensor and values per image.
std::pair<int64_t, int64_t> split_images(const Tensor& a) {
  const int64_t n = a.rank() >= 2 ? a.dim(0) : 1;
  return {n, n > 0 ? a.numel() / n : 0};
}

}  // namespace

void Profiler::first_sight(LayerProfile& p, const LayerInfo& layer, const Tensor& a, const Tensor& w, const Tensor& o) {
  p.seen = true;
  p.geo = layer_geometry(graph_, layer, a.shape(), w.shape(), o.shape());
  const Node& node = graph_.nodes[layer.node];
  const int64_t groups = std::max<int64_t>(1, p.geo.groups);
  if (p.geo.kind == "fc") {
    if (layer.op == "Gemm" && node.attr_int("transA", 0) != 0) {
      fail<UnsupportedError>("{}: layer '{}' (Gemm): profiling does not support transA=1", graph_.source, layer.name);
    }
    p.fc_nk = layer.op == "Gemm" && node.attr_int("transB", 0) != 0;
    p.mac_unit = p.geo.Nf;
  } else if (p.geo.kind == "conv") {
    p.mac_unit = p.geo.Nf / groups;
  } else {
    p.mac_unit = p.geo.Kx * p.geo.Ky * (p.geo.Nf / groups);
  }
  p.compute = compute_memory(p.geo, options_.memory_bits);
  p.groups.assign(options_.groups.size(), GroupCounters{});
  p.psum.assign(options_.psum_denominators.size(), Pearson{});

  auto it = options_.transforms.find(layer.name);
  const LayerTransform* t = it == options_.transforms.end() ? nullptr : &it->second;
  const LayerQuantization q = layer_quantization(graph_, layer);
  if (q.present) {  // on_layer passes the integer codes: their own integer formats
    p.act_fixed = FixedPointFormat{q.act_bits, 0};
    p.act_fixed_source = "quantized-model";
  } else if (t && t->activations.kind == OperandTransform::kFixedPoint) {
    p.act_fixed = t->activations.fixed;
    p.act_fixed_source = "precision-profile";
  } else {
    if (!p.calibrated) {
      fail<UsageError>("profile: layer '{}' needs its activation range; run a calibration pass first", layer.name);
    }
    p.act_fixed = fixed_format_for_range(p.calibration_absmax);
    p.act_fixed_source = "range";
  }
  for (double v : options_.near_zero) p.act_thresholds.push_back(static_cast<float>(v));
  for (double r : options_.relative_near_zero) {
    if (!p.calibrated) {
      fail<UsageError>("profile: layer '{}' needs its activation range; run a calibration pass first", layer.name);
    }
    p.act_thresholds.push_back(static_cast<float>(r * p.calibration_absmax));
  }
  p.act = ValueCounters(p.act_thresholds.size());

  Tensor wf = as_f32(w);
  p.wgt_absmax = absmax_of(wf.data<float>(), wf.numel());
  if (q.present) {
    p.wgt_fixed = FixedPointFormat{q.wgt_bits, 0};
    p.wgt_fixed_source = "quantized-model";
  } else if (t && t->weights.kind == OperandTransform::kFixedPoint) {
    p.wgt_fixed = t->weights.fixed;
    p.wgt_fixed_source = "precision-profile";
  } else {
    p.wgt_fixed = fixed_format_for_range(p.wgt_absmax);
    p.wgt_fixed_source = "range";
  }
  profile_weights(p, wf);
}

void Profiler::profile_weights(LayerProfile& p, const Tensor& wf) {
  const float* w = wf.data<float>();
  const int64_t n = wf.numel();
  for (double v : options_.near_zero) p.wgt_thresholds.push_back(static_cast<float>(v));
  for (double r : options_.relative_near_zero) p.wgt_thresholds.push_back(static_cast<float>(r * p.wgt_absmax));
  float lo = 0, hi = 0;
  finite_range(w, n, lo, hi);
  ValueContext ctx{p.wgt_fixed, Uniform8::for_range(lo, hi), p.wgt_thresholds};
  p.wgt = ValueCounters(p.wgt_thresholds.size());
  accumulate_values(w, n, nullptr, 1, ctx, p.wgt);
  if (options_.correlations) {
    p.synapse = layer_synapse_redundancy(p.geo, w, p.fc_nk, options_.alphas, options_.synapse_max_rows,
                                         options_.seed + static_cast<uint64_t>(p.info.index) * 7919);
  }
}

void Profiler::on_layer(const LayerInfo& layer, const Tensor& activations, const Tensor& weights,
                        const Tensor& output) {
  if (layer.index < 0 || static_cast<size_t>(layer.index) >= layers_.size()) return;
  LayerProfile& p = layers_[layer.index];
  // A quantized model's layer is profiled on its integer codes, code - zero point
  // (engine/quantized_layers.h): the values an 8-bit datapath multiplies.
  const LayerQuantization q = layer_quantization(graph_, layer);
  Tensor af = q.present ? codes_as_float(activation_codes(q, activations), activations.shape()) : as_f32(activations);
  Tensor quantized_weights;
  if (q.present) quantized_weights = codes_as_float(weight_codes(q, weights), weights.shape());
  const Tensor& wgts = q.present ? quantized_weights : weights;
  const float* a = af.data<float>();
  if (calibrating_) {
    p.calibration_absmax = std::max<double>(p.calibration_absmax, absmax_of(a, af.numel()));
    p.calibrated = true;
    return;
  }
  if (!p.seen) first_sight(p, layer, af, wgts, output);
  const LayerGeometry& g = p.geo;
  // Plain variables, not a structured binding: OpenMP regions below capture them (clang 14).
  const std::pair<int64_t, int64_t> split = split_images(af);
  const int64_t images = split.first, per_image = split.second;
  const bool fc = g.kind == "fc";
  const int64_t rows = fc && g.Ni > 0 ? per_image / g.Ni : 0;
  const int64_t expect = fc ? rows * g.Ni : g.Ni * g.Ny * g.Nx;
  if (per_image != expect || (fc && rows * g.Ni * g.Nf != g.macs)) {
    fail<ShapeError>("layer '{}': input {} does not match the geometry seen first ({} values per image)", layer.name,
                     shape_str(af.shape()), expect);
  }
  // Per-MAC weights of one input plane: separable, cov_y[y] * cov_x[x].
  std::vector<int64_t> cov_plane;
  if (g.kind == "conv") {
    const auto cov_y = coverage_1d(g.Ny, g.Oy, g.Ky, g.stride_y, g.dilation_y, g.pad_top);
    const auto cov_x = coverage_1d(g.Nx, g.Ox, g.Kx, g.stride_x, g.dilation_x, g.pad_left);
    cov_plane.resize(g.Ny * g.Nx);
    for (int64_t y = 0; y < g.Ny; ++y) {
      for (int64_t x = 0; x < g.Nx; ++x) cov_plane[y * g.Nx + x] = cov_y[y] * cov_x[x];
    }
  }
  Tensor wf = as_f32(wgts);
  const float* w = wf.data<float>();

  struct PerImage {
    ValueCounters values;
    std::vector<GroupCounters> groups;
    std::vector<Pearson> psum;
  };
  std::vector<PerImage> results(images);
  const int threads = resolve_threads(options_.threads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (images > 1)
  for (int64_t n = 0; n < images; ++n) {
    const float* img = a + n * per_image;
    PerImage& r = results[n];
    float lo = 0, hi = 0;
    finite_range(img, per_image, lo, hi);
    // Per image, as the engine's uniform8 transform takes the range of each sample.
    ValueContext ctx{p.act_fixed, Uniform8::for_range(lo, hi), p.act_thresholds};
    r.values = ValueCounters(ctx.thresholds.size());
    std::vector<uint8_t> width(per_image), nonzero(per_image);
    if (g.kind == "conv") {
      const int64_t plane = g.Ny * g.Nx;
      for (int64_t c = 0; c < g.Ni; ++c) {
        accumulate_values(img + c * plane, plane, cov_plane.data(), 1, ctx, r.values, &width[c * plane],
                          &nonzero[c * plane]);
      }
    } else {
      accumulate_values(img, per_image, nullptr, 1, ctx, r.values, width.data(), nonzero.data());
    }
    r.groups.assign(options_.groups.size(), GroupCounters{});
    for (size_t s = 0; s < options_.groups.size(); ++s) {
      if (g.kind == "conv") {
        accumulate_groups_conv(g, width.data(), nonzero.data(), options_.groups[s], r.groups[s]);
      } else if (fc) {
        accumulate_groups_rows(rows, g.Ni, width.data(), nonzero.data(), options_.groups[s], r.groups[s]);
      } else {
        // Deconv: no windows to walk; groups of channels at each input position.
        std::vector<uint8_t> tw(per_image), tn(per_image);
        const int64_t plane = g.Ny * g.Nx;
        for (int64_t c = 0; c < g.Ni; ++c) {
          for (int64_t q = 0; q < plane; ++q) {
            tw[q * g.Ni + c] = width[c * plane + q];
            tn[q * g.Ni + c] = nonzero[c * plane + q];
          }
        }
        accumulate_groups_rows(plane, g.Ni, tw.data(), tn.data(), GroupShape{options_.groups[s].channels, 1},
                               r.groups[s]);
      }
    }
    if (options_.correlations) {
      accumulate_partial_sums(g, img, w, p.fc_nk, options_.psum_denominators, options_.psum_samples_per_image,
                              options_.seed + static_cast<uint64_t>(layer.index) * 104729, p.images + n, r.psum);
    }
  }
  // Merge in image order: the only order-sensitive sums (means, correlations) then add up the same
  // way for every thread count and batch size.
  for (PerImage& r : results) {
    p.act.merge(r.values);
    for (size_t s = 0; s < r.groups.size(); ++s) p.groups[s].merge(r.groups[s]);
    for (size_t d = 0; d < r.psum.size() && d < p.psum.size(); ++d) p.psum[d].merge(r.psum[d]);
  }
  p.images += images;
}

void run_profile(Executor& ex, const Dataset& data, Profiler& profiler, int64_t first, int64_t count, int64_t batch,
                 bool progress, NonFiniteObserver* non_finite, NonFinite* input_non_finite) {
  if (first < 0 || first >= data.size()) {
    fail<UsageError>("--first {} is outside the data set {} ({} items)", first, data.name(), data.size());
  }
  if (count < 1) fail<UsageError>("--images must be at least 1");
  if (batch < 1) fail<UsageError>("--batch must be at least 1");
  const int64_t end = std::min(data.size(), first + count);
  struct Detach {
    Executor& ex;
    ~Detach() { ex.set_observer(nullptr); }
  } detach{ex};
  ObserverList observers({&profiler, non_finite});
  ex.set_observer(non_finite ? static_cast<LayerObserver*>(&observers) : &profiler);
  if (profiler.needs_calibration()) {
    profiler.set_calibrating(true);
    ex.set_observer(&profiler);
    const int64_t cal_end = std::min(end, first + std::max<int64_t>(1, profiler.options().calibration_images));
    for (int64_t b = first; b < cal_end; b += batch) ex.run(data.inputs(b, std::min(batch, cal_end - b)));
    profiler.set_calibrating(false);
    ex.set_observer(non_finite ? static_cast<LayerObserver*>(&observers) : &profiler);
  }
  std::optional<Progress> bar;
  if (progress) bar.emplace("profile", end - first);
  for (int64_t b = first; b < end; b += batch) {
    const int64_t n = std::min(batch, end - b);
    const std::vector<Tensor> inputs = data.inputs(b, n);
    for (const Tensor& t : inputs) {
      if (input_non_finite) *input_non_finite += count_non_finite(t);
    }
    ex.run(inputs);
    if (bar) bar->advance(n);
  }
  if (bar) bar->finish();
}

}  // namespace eff::profile
