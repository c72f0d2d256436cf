#include "search/level_search.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "core/progress.h"

namespace eff::search {

std::vector<int> search_levels(size_t n, int max_level, const LevelSearchCallbacks& cb, EvaluationCounts& counts,
                               std::vector<int>& sensitivity, const std::string& what) {
  std::vector<int> level(n, 0);
  {
    Progress bar("sensitivity", static_cast<int64_t>(n));
    for (size_t l = 0; l < n; ++l) {
      int lo = 0, hi = max_level;
      std::vector<int> alone(n, 0);
      while (lo < hi) {
        const int mid = lo + (hi - lo + 1) / 2;
        alone[l] = mid;
        if (cb.met(alone, true, counts.sensitivity)) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      level[l] = lo;
      if (cb.progress) bar.advance();
    }
    bar.finish();
  }
  sensitivity = level;
  // Together the sensitivity levels usually miss (errors add up): every layer gives up the same
  // number k of levels, the smallest k that meets the target (doubling, then bisection); a uniform
  // step leaves no per-layer choice for noise to steer.
  const auto lowered = [&](int k) {
    std::vector<int> down = sensitivity;
    for (int& x : down) x = std::max(0, x - k);
    return down;
  };
  if (!cb.met(level, true, counts.ascent)) {
    const std::vector<int> none(n, 0);
    int missed = 0, met = 1;
    for (;; met *= 2) {
      if (cb.met(lowered(met), true, counts.ascent)) break;
      missed = met;
      if (lowered(met) == none) fail("the target is not met on the search set even without {}", what);
    }
    while (met - missed > 1) {
      const int mid = missed + (met - missed) / 2;
      (cb.met(lowered(mid), true, counts.ascent) ? met : missed) = mid;
    }
    level = lowered(met);
    if (cb.log) cb.log(fmt::format("lift: every layer {} levels down", met));
  }
  // Back up towards the sensitivity levels, the layer with the most to regain first; each takes
  // the highest level between its current one and its sensitivity level that still meets the
  // target, by bisection.
  std::vector<size_t> order(n);
  for (size_t l = 0; l < n; ++l) order[l] = l;
  auto regain = [&](size_t l) {
    std::vector<int> up = level;
    up[l] = sensitivity[l];
    return cb.saving(up) - cb.saving(level);
  };
  std::vector<double> gains(n);
  for (size_t l = 0; l < n; ++l) gains[l] = regain(l);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return gains[a] > gains[b]; });
  for (size_t l : order) {
    int lo = level[l], hi = sensitivity[l];
    while (lo < hi) {
      std::vector<int> up = level;
      up[l] = lo + (hi - lo + 1) / 2;
      if (cb.met(up, true, counts.descent)) {
        lo = up[l];
      } else {
        hi = up[l] - 1;
      }
    }
    level[l] = lo;
  }
  return level;
}

}  // namespace eff::search
