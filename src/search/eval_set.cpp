#include "search/eval_set.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.h"

namespace eff::search {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class EvalSetDataset final : public Dataset {
 public:
  explicit EvalSetDataset(const EvalSet& s) : set_(s) {}
  int64_t size() const override { return set_.size(); }
  Shape item_shape() const override {
    const Shape& s = set_.images.shape();
    return Shape(s.begin() + 1, s.end());
  }
  Tensor images(int64_t begin, int64_t count) const override { return set_.batch(begin, count); }
  Tensor labels(int64_t begin, int64_t count) const override {
    if (!set_.has_labels()) return Tensor();
    return Tensor::from<int64_t>(
        {count}, std::vector<int64_t>(set_.labels.begin() + begin, set_.labels.begin() + begin + count));
  }
  bool has_labels() const override { return set_.has_labels(); }
  std::string name() const override { return set_.source; }

 private:
  const EvalSet& set_;
};

}  // namespace

Tensor EvalSet::batch(int64_t begin, int64_t count) const {
  Shape s = images.shape();
  const int64_t per_item = images.numel() / std::max<int64_t>(1, s[0]);
  s[0] = count;
  Tensor out(DType::kFloat32, s);
  std::memcpy(out.data<float>(), images.data<float>() + begin * per_item,
              static_cast<size_t>(count * per_item) * sizeof(float));
  return out;
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(std::max<int64_t>(0, n)));
  std::iota(p.begin(), p.end(), 0);
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    // The modulo bias is below 2^-40 for any data set that fits in memory.
    const int64_t j = static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

SplitIndices split_indices(int64_t n, int64_t search, int64_t report, uint64_t seed) {
  if (search < 1) fail<UsageError>("--search-images must be at least 1 (got {})", search);
  if (report < 1) fail<UsageError>("--report-images must be at least 1 (got {})", report);
  if (search + report > n) {
    fail<UsageError>("--search-images {} and --report-images {} need {} images; the data set has {}", search, report,
                     search + report, n);
  }
  const std::vector<int64_t> p = seeded_permutation(n, seed);
  SplitIndices s;
  s.search.assign(p.begin(), p.begin() + search);
  s.report.assign(p.begin() + search, p.begin() + search + report);
  return s;
}

EvalSet load_eval_set(const Dataset& data, const std::vector<int64_t>& indices, int64_t classes) {
  EvalSet set;
  set.source = data.name();
  set.indices = indices;
  if (indices.empty()) fail<UsageError>("{}: the subset is empty", data.name());
  if (data.input_count() != 1) {
    fail<UsageError>("{}: the search feeds models with one input; these are {} inputs", data.name(),
                     data.input_count());
  }
  Shape shape = data.item_shape();
  shape.insert(shape.begin(), static_cast<int64_t>(indices.size()));
  set.images = Tensor(DType::kFloat32, shape);
  const int64_t per_item = shape_numel(data.item_shape());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t k = indices[i];
    if (k < 0 || k >= data.size()) fail<UsageError>("{}: item {} is outside the data set", data.name(), k);
    Tensor one = data.images(k, 1);
    if (one.dtype() != DType::kFloat32) {
      fail<DataError>("{}: the search takes float32 inputs, not {}", data.name(), dtype_name(one.dtype()));
    }
    if (one.numel() != per_item) fail<DataError>("{}: item {} does not have the shape of item 0", data.name(), k);
    std::memcpy(set.images.data<float>() + static_cast<int64_t>(i) * per_item, one.data<float>(),
                static_cast<size_t>(per_item) * sizeof(float));
    if (data.has_labels()) {
      const int64_t label = data.labels(k, 1).get_i64(0);
      if (classes > 0 && (label < 0 || label >= classes)) {
        fail<DataError>("{}: item {} has label {}, outside the model's {} classes [0, {})", data.name(), k, label,
                        classes, classes);
      }
      set.labels.push_back(label);
    }
  }
  return set;
}

std::unique_ptr<Dataset> as_dataset(const EvalSet& set) {
  return std::make_unique<EvalSetDataset>(set);
}

}  // namespace eff::search
