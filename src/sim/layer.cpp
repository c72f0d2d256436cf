#include "sim/layer.h"

#include <algorithm>

#include "core/error.h"

namespace eff::sim {

namespace {
int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
}  // namespace

WalkShape walk_shape(const SimLayer& l, const Grid& g) {
  WalkShape w;
  w.window_sets = ceil_div(l.windows(), g.columns);
  if (l.mapping == ChannelMapping::kDepthwise) {
    // One channel and one filter per group: min(lanes, rows) groups share a tile diagonally
    // (lane i feeds row i), tiles take consecutive channel sets.
    const int d = std::min(g.lanes, g.rows);
    w.lanes_used = d;
    w.chunks = 1;
    w.group_passes = 1;
    w.filter_sets = ceil_div(ceil_div(l.groups, d), g.tiles);
  } else {
    w.lanes_used = g.lanes;
    w.chunks = ceil_div(l.C, g.lanes);
    w.group_passes = l.groups;
    w.filter_sets = ceil_div(l.filters_per_group(), static_cast<int64_t>(g.tiles) * g.rows);
  }
  w.steps = l.Kx * l.Ky * w.chunks;
  return w;
}

StepBrick step_brick(const SimLayer& l, const Grid& g, const WalkShape& ws, int64_t group, int64_t filter_set, int tile,
                     int64_t window, int64_t step) {
  const int64_t pos = step / ws.chunks, chunk = step % ws.chunks;
  const int64_t ky = pos / l.Kx, kx = pos % l.Kx;
  StepBrick b;
  b.x = l.window_x(window, kx);
  b.y = l.window_y(window, ky);
  if (l.mapping == ChannelMapping::kDepthwise) {
    const int64_t set = filter_set * g.tiles + tile;
    b.first = set * ws.lanes_used;
    b.count = static_cast<int>(std::clamp<int64_t>(l.groups - b.first, 0, ws.lanes_used));
  } else {
    b.first = l.group_channel_base(group) + chunk * g.lanes;
    b.count = static_cast<int>(std::min<int64_t>(g.lanes, l.C - chunk * g.lanes));
  }
  return b;
}

uint64_t fc_rotation_cycles(const std::vector<uint32_t>& costs, int columns) {
  EFF_ASSERT(columns >= 1);
  std::vector<uint64_t> end(columns, 0);
  uint64_t t = 0;
  int c = 0;
  for (uint32_t cost : costs) {
    t = std::max(t, end[c]);
    end[c] = t + cost;
    t += 1;
    c = c + 1 == columns ? 0 : c + 1;
  }
  uint64_t last = t;
  for (uint64_t e : end) last = std::max(last, e);
  return last;
}

uint64_t run_ahead_cycles(const uint32_t* costs, int64_t steps, int groups, int registers) {
  std::vector<uint64_t> finish(groups, 0);
  // history[s % (registers + 1)] = max over groups of the finish time of step s.
  std::vector<uint64_t> history(registers + 1, 0);
  uint64_t latest = 0;
  for (int64_t s = 0; s < steps; ++s) {
    // Step s may start once every group finished step s - 1 - registers.
    const int64_t gate_step = s - 1 - registers;
    const uint64_t start = gate_step >= 0 ? history[gate_step % (registers + 1)] : 0;
    const uint32_t* row = costs + s * groups;
    uint64_t mx = 0;
    for (int gi = 0; gi < groups; ++gi) {
      finish[gi] = std::max(start, finish[gi]) + row[gi];
      mx = std::max(mx, finish[gi]);
    }
    history[s % (registers + 1)] = mx;
    latest = std::max(latest, mx);
  }
  return latest;
}

}  // namespace eff::sim
