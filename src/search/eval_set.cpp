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
    const Shape& s = set_.inputs.at(0).shape();
    return Shape(s.begin() + 1, s.end());
  }
  Tensor images(int64_t begin, int64_t count) const override { return set_.batch(begin, count).at(0); }
  std::vector<Tensor> inputs(int64_t begin, int64_t count) const override { return set_.batch(begin, count); }
  size_t input_count() const override { return set_.inputs.size(); }
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

std::vector<Tensor> EvalSet::batch(int64_t begin, int64_t count) const {
  std::vector<Tensor> out;
  for (const Tensor& all : inputs) {
    Shape s = all.shape();
    const size_t per_item = all.nbytes() / static_cast<size_t>(std::max<int64_t>(1, s[0]));
    s[0] = count;
    Tensor part(all.dtype(), s);
    std::memcpy(part.raw(), static_cast<const std::byte*>(all.raw()) + static_cast<size_t>(begin) * per_item,
                static_cast<size_t>(count) * per_item);
    out.push_back(std::move(part));
  }
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
  for (int64_t k : indices) {
    if (k < 0 || k >= data.size()) fail<UsageError>("{}: item {} is outside the data set", data.name(), k);
  }
  // Every input's items, in the order given; the first item fixes each input's type and shape.
  const std::vector<Tensor> first = data.inputs(indices[0], 1);
  for (const Tensor& t : first) {
    Shape shape = t.shape();
    if (shape.empty()) fail<DataError>("{}: an input without a first (item) dimension", data.name());
    shape[0] = static_cast<int64_t>(indices.size());
    set.inputs.emplace_back(t.dtype(), shape);
  }
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t k = indices[i];
    const std::vector<Tensor> one = data.inputs(k, 1);
    for (size_t j = 0; j < one.size() && j < set.inputs.size(); ++j) {
      Tensor& all = set.inputs[j];
      const size_t per_item = all.nbytes() / indices.size();
      if (one[j].dtype() != all.dtype() || one[j].nbytes() != per_item) {
        fail<DataError>("{}: item {} does not have the type and shape of the first item", data.name(), k);
      }
      std::memcpy(static_cast<std::byte*>(all.raw()) + i * per_item, one[j].raw(), per_item);
    }
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
