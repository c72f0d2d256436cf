#include "engine/evaluate.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "core/progress.h"
#include "data/dataset.h"

namespace eff {

std::vector<int64_t> top_k(const Tensor& scores, int64_t row, int64_t k) {
  const int64_t c = scores.rank() >= 2 ? scores.numel() / scores.dim(0) : scores.numel();
  k = std::min(k, c);
  std::vector<int64_t> idx(static_cast<size_t>(c));
  std::iota(idx.begin(), idx.end(), 0);
  std::vector<float> v = scores.to_f32_vector();
  const float* r = v.data() + row * c;
  // NaN scores rank last (a NaN comparison would break the sort's ordering); ties by index.
  auto before = [&](int64_t a, int64_t b) {
    const bool nan_a = std::isnan(r[a]), nan_b = std::isnan(r[b]);
    if (nan_a != nan_b) return nan_b;
    if (!nan_a && r[a] != r[b]) return r[a] > r[b];
    return a < b;
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), before);
  idx.resize(static_cast<size_t>(k));
  return idx;
}

bool row_is_finite(const Tensor& scores, int64_t row) {
  const int64_t c = scores.rank() >= 2 ? scores.numel() / scores.dim(0) : scores.numel();
  auto finite = [](auto x) { return std::isfinite(static_cast<double>(x)); };
  if (scores.dtype() == DType::kFloat32) {  // the common case, without a copy per row
    const float* r = scores.data<float>() + row * c;
    return std::all_of(r, r + c, finite);
  }
  const std::vector<float> v = scores.to_f32_vector();
  return std::all_of(v.begin() + row * c, v.begin() + (row + 1) * c, finite);
}

EvalResult evaluate(Executor& ex, Dataset& data, const EvalOptions& opts) {
  EvalResult res;
  const int64_t end = opts.limit > 0 ? std::min(data.size(), opts.first + opts.limit) : data.size();
  if (opts.first < 0 || opts.first >= end) return res;
  const int64_t batch = std::max<int64_t>(1, opts.batch);
  Progress progress("eval", end - opts.first);
  for (int64_t b = opts.first; b < end; b += batch) {
    const int64_t n = std::min(batch, end - b);
    const std::vector<Tensor> inputs = data.inputs(b, n);
    Tensor labels = data.labels(b, n);
    if (!labels.defined()) fail<DataError>("{}: the data set has no labels; eval needs them", data.name());
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Tensor> out = ex.run(inputs);
    res.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Tensor& scores = out.at(0);
    for (const Tensor& t : inputs) res.input_non_finite += count_non_finite(t);
    res.output_non_finite += count_non_finite(scores);
    // Class scores are [N, C] (or [N, C, 1, 1] from a conv head); a probability map or a
    // sequence flattened into "classes" would give a meaningless top-1.
    const Shape& s = scores.shape();
    const bool class_scores = s.size() >= 2 && s[0] == n && s[1] >= 2 &&
                              std::all_of(s.begin() + 2, s.end(), [](int64_t d) { return d == 1; });
    if (!class_scores) {
      fail<ShapeError>("{}: output '{}' has shape {}; eval needs class scores [{}, classes] (run shows other outputs)",
                       ex.graph().source, ex.graph().value(ex.graph().outputs.at(0)).name, shape_str(s), n);
    }
    for (int64_t i = 0; i < n; ++i) {
      const int64_t label = labels.get_i64(i);
      if (label < 0 || label >= s[1]) {
        fail<DataError>("{}: label {} of item {} is not one of the model's {} classes (0 to {})", data.name(), label,
                        b + i, s[1], s[1] - 1);
      }
      if (!row_is_finite(scores, i)) continue;
      auto top = top_k(scores, i, 5);
      if (!top.empty() && top[0] == label) ++res.top1_correct;
      if (std::find(top.begin(), top.end(), label) != top.end()) ++res.top5_correct;
    }
    res.count += n;
    if (opts.progress) progress.advance(n);
  }
  progress.finish();
  return res;
}

LatencyStats measure_latency(Executor& ex, const Tensor& input, int repeat, int warmup) {
  return measure_latency(ex, std::vector<Tensor>{input}, repeat, warmup);
}

LatencyStats measure_latency(Executor& ex, const std::vector<Tensor>& inputs, int repeat, int warmup,
                             double max_seconds) {
  if (repeat < 1) fail<UsageError>("--repeat must be at least 1");
  if (inputs.empty()) fail<UsageError>("measure_latency: no inputs");
  const Tensor& input = inputs[0];
  const auto start = std::chrono::steady_clock::now();
  auto over_budget = [&] {
    return max_seconds > 0 &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds;
  };
  for (int i = 0; i < warmup && !over_budget(); ++i) ex.run(inputs);
  LatencyStats s;
  s.runs.reserve(static_cast<size_t>(std::min(repeat, 1 << 20)));
  rusage before{}, after{};
  for (int i = 0; i < repeat && (i == 0 || !over_budget()); ++i) {
    const size_t allocs = ex.pool_allocations();
    getrusage(RUSAGE_SELF, &before);
    auto t0 = std::chrono::steady_clock::now();
    ex.run(inputs);
    const auto t1 = std::chrono::steady_clock::now();
    getrusage(RUSAGE_SELF, &after);
    RunSample r;
    r.ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    r.start_ms = std::chrono::duration<double, std::milli>(t0.time_since_epoch()).count();
    r.threads = ex.last_run_threads();
    r.minflt = after.ru_minflt - before.ru_minflt;
    r.majflt = after.ru_majflt - before.ru_majflt;
    r.nvcsw = after.ru_nvcsw - before.ru_nvcsw;
    r.nivcsw = after.ru_nivcsw - before.ru_nivcsw;
    r.pool_allocations = static_cast<int64_t>(ex.pool_allocations() - allocs);
    s.runs.push_back(r);
  }
  std::vector<double> ms;
  ms.reserve(s.runs.size());
  for (const RunSample& r : s.runs) ms.push_back(r.ms);
  for (double m : ms) s.mean_ms += m / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  s.repeat = static_cast<int>(ms.size());
  s.batch = input.rank() > 0 ? input.dim(0) : 1;
  s.min_ms = ms.front();
  s.max_ms = ms.back();
  s.median_ms = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  auto nearest_rank = [&](double q) {
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(ms.size())));
    return ms[std::clamp<size_t>(rank, 1, ms.size()) - 1];
  };
  s.p99_ms = nearest_rank(0.99);
  s.p999_ms = nearest_rank(0.999);
  s.runs_over_20x_median =
      static_cast<int>(std::count_if(ms.begin(), ms.end(), [&](double m) { return m > 20 * s.median_ms; }));
  s.throughput_per_s = s.median_ms > 0 ? static_cast<double>(s.batch) * 1000.0 / s.median_ms : 0.0;
  return s;
}

std::string runs_csv(const std::vector<RunSample>& runs) {
  std::string out = "run,ms,threads,minflt,majflt,nvcsw,nivcsw,pool_allocations,start_ms\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSample& r = runs[i];
    out += fmt::format("{},{:.6f},{},{},{},{},{},{},{:.3f}\n", i, r.ms, r.threads, r.minflt, r.majflt, r.nvcsw,
                       r.nivcsw, r.pool_allocations, r.start_ms);
  }
  return out;
}

}  // namespace eff
