// Busy-machine section of `make bench` (issue 8): effectual and ONNX Runtime at their DEFAULT
// thread settings (no --threads, no environment variable) while the machine is doing other work,
// because users run effectual beside other work:
//   quiet      nothing else running (the reference)
//   pytorch    beside a PyTorch job that keeps every core busy (matrix products, torch threads = cores)
//   two-copies two copies of the same engine at once, as parallel sweeps run
// Per scenario and engine: the median over rounds of each process's median latency, of its mean
// latency (the median hides time another process took from the cores between or inside single
// runs; the mean counts it), and the worst single run as a multiple of its process's median (goal: effectual median <= 1.2x ONNX Runtime's
// in the busy scenarios, no single run over 20x the median, <= 1.0x on the quiet machine).
// A busy machine makes single rounds swing (one round's ratio 0.8, the next 1.3), so each scenario
// runs as many short interleaved rounds as fit its time budget (--busy-seconds, default 45 per
// scenario: the section stays under ~3 minutes), the engine that goes first alternating, and the
// table gives the per-round ratio's median and spread (min, quartiles, max) beside the medians.
// Every process also writes each run's time (--runs-out, both engines), so a second table shows
// the slow single runs for both engines alike: how many went over 20x their process's median,
// the 99.9th percentile, and the worst one (ms, where in its process, thread count) with the
// context switches the process had during it: an involuntary switch means another task (or the
// host) took a core from us; a run with none was slow by itself. In two-copies, each run over 20x
// is also lined up with the other copy's runs (start_ms, the machine-wide monotonic clock both
// engines write): was the other copy running a team (threads > 1: the governor probing or
// warming the full team), one thread, or not timing yet / any more (starting up, exiting).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

// The rows of a --runs-out CSV (both engines write the same columns).
function readRuns(file) {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = lines[0].split(',');
  return lines.slice(1).map((l) => {
    const v = l.split(',');
    const r = {};
    cols.forEach((c, i) => { r[c] = v[i] === '' ? null : Number(v[i]); });
    return r;
  });
}

function runJsonAsync(cmd, argv) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}`));
      // effectual prints one pretty JSON document, bench_ort.js one line after any notes.
      try {
        return resolve(JSON.parse(out));
      } catch (e) {
        return resolve(JSON.parse(out.trim().split('\n').pop()));
      }
    });
  });
}

// Convolutions through PyTorch's own oneDNN, one OpenMP thread per core: a training-like job that
// keeps every core busy whatever BLAS Debian's alternatives pick (with the reference libblas a
// matrix-product loop ran on one core only: 106% CPU on 2 cores).
function startLoad() {
  const threads = os.cpus().length;
  const code = [
    'import torch', `torch.set_num_threads(${threads})`,
    'x = torch.randn(8, 64, 56, 56)', 'w = torch.randn(64, 64, 3, 3) * 0.05',
    'while True:', '    x = torch.nn.functional.conv2d(x, w, padding=1).clamp_(-1, 1)', ''].join('\n');
  return spawn('/usr/bin/python3', ['-c', code], { stdio: 'ignore' });
}

// CPU seconds a process (all its threads) has used so far, from /proc/PID/stat.
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;  // utime + stime, USER_HZ ticks
  } catch (e) {
    return null;
  }
}

// The share of a copy's timed window (first run's start to last run's end) during which the other
// copy was timing too: two short processes started together may barely overlap.
function overlapShare(runs, other) {
  if (!runs.length || !other.length) return null;
  const span = (rs) => [Math.min(...rs.map((r) => r.start_ms)), Math.max(...rs.map((r) => r.start_ms + r.ms))];
  const [a0, a1] = span(runs);
  const [b0, b1] = span(other);
  return a1 > a0 ? Math.max(0, Math.min(a1, b1) - Math.max(a0, b0)) / (a1 - a0) : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What the other copy was doing during `run` (both from --runs-out CSVs with start_ms): 'team' if any
// of its runs overlapping it had threads > 1, 'one thread' (effectual at 1 thread) or 'timing' (ORT:
// its threads are not known), 'starting' before its first timed run, 'done' after its last,
// 'between runs' in a gap between two of its runs.
function partnerState(run, other) {
  if (!other.length || run.start_ms == null || other[0].start_ms == null) return null;
  const t0 = run.start_ms, t1 = run.start_ms + run.ms;
  const last = other[other.length - 1];
  if (t1 < other[0].start_ms) return 'starting';
  if (t0 > last.start_ms + last.ms) return 'done';
  const overlapping = other.filter((o) => o.start_ms <= t1 && o.start_ms + o.ms >= t0);
  if (!overlapping.length) return 'between runs';
  if (overlapping.some((o) => o.threads > 1)) return 'team';
  return overlapping.every((o) => o.threads === 1) ? 'one thread' : 'timing';
}

// The q-quantile of xs (linear between neighbours).
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const at = (s.length - 1) * q, lo = Math.floor(at), hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

function partnerCell(worst, counts) {
  const spread = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return worst.partner ? `${worst.partner}; ${spread}` : '-';
}

async function benchBusy({ bin, ortBench, median, models, rounds, repeat, seconds = 45, maxRounds = 60 }) {
  const rows = [];
  for (const model of models) {
    for (const scenario of ['quiet', 'pytorch', 'two-copies']) {
      const stats = { eff: { med: [], mean: [], worst: [] }, ort: { med: [], mean: [], worst: [] }, ratios: [] };
      // Per engine: every single run over its process's median, and the worst run's details.
      const slow = {
        eff: { over: [], count20: 0, worst: null, partner: {} },
        ort: { over: [], count20: 0, worst: null, partner: {} },
      };
      const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-busy-'));
      let procs = 0;
      let load = null;
      let loadCpu0 = null;
      let loadT0 = 0;
      const overlaps = { eff: [], ort: [] };
      if (scenario === 'pytorch') {
        load = startLoad();
        await sleep(1500);  // torch import and thread start-up
        loadCpu0 = cpuSeconds(load.pid);
        loadT0 = Date.now();
      }
      let loadShare = null;
      try {
        // At least `rounds` rounds, then more while the scenario's time budget lasts.
        const started = Date.now();
        for (let r = 0; r < maxRounds && (r < rounds || Date.now() - started < seconds * 1000); ++r) {
          const round = { eff: [], ort: [] };
          for (const engine of r % 2 ? ['ort', 'eff'] : ['eff', 'ort']) {
            const copies = scenario === 'two-copies' ? 2 : 1;
            // Two copies time 5x the runs: a process's start-up varies by tens of ms, as long as
            // 200 runs, so that short copies timed alone for a third of their runs (measured overlap).
            const runCount = String(copies === 2 ? 5 * repeat : repeat);
            const files = Array.from({ length: copies }, () => path.join(runsDir, `${procs++}.csv`));
            const argv = (file) => (engine === 'eff'
              ? [bin, ['bench', model, '--repeat', runCount, '--json', '--runs-out', file]]
              : ['node', [ortBench, model, '--threads', '0', '--repeat', runCount, '--runs-out', file]]);
            const results = await Promise.all(files.map((f) => runJsonAsync(...argv(f))));
            const runsOf = files.map((f) => readRuns(f));
            files.forEach((f) => fs.unlinkSync(f));
            for (const [k, j] of results.entries()) {
              const runs = runsOf[k];
              const other = copies === 2 ? runsOf[1 - k] : [];
              if (copies === 2) overlaps[engine].push(overlapShare(runs, other));
              const med = j.latency_ms.median;
              runs.forEach((x, at) => {
                const over = x.ms / med;
                slow[engine].over.push(over);
                const partner = over > 20 ? partnerState(x, other) : null;
                if (over > 20) slow[engine].count20 += 1;
                if (partner) slow[engine].partner[partner] = (slow[engine].partner[partner] || 0) + 1;
                if (!slow[engine].worst || over > slow[engine].worst.over) {
                  slow[engine].worst = { ...x, over, at, of: runs.length, round: r, partner: partnerState(x, other) };
                }
              });
              stats[engine].med.push(j.latency_ms.median);
              stats[engine].mean.push(j.latency_ms.mean);
              stats[engine].worst.push(j.latency_ms.max / j.latency_ms.median);
              round[engine].push(j.latency_ms.median);
            }
          }
          stats.ratios.push(median(round.eff) / median(round.ort));
        }
        if (load && loadCpu0 !== null) {
          const used = cpuSeconds(load.pid);
          if (used !== null) loadShare = (used - loadCpu0) / ((Date.now() - loadT0) / 1000) / os.cpus().length;
        }
      } finally {
        if (load) load.kill('SIGKILL');
        fs.rmSync(runsDir, { recursive: true, force: true });
      }
      const row = {
        model: model.split('/').pop().replace(/\.onnx$/, ''), scenario,
        eff_ms: median(stats.eff.med), ort_ms: median(stats.ort.med),
        eff_mean: median(stats.eff.mean), ort_mean: median(stats.ort.mean),
        eff_worst: Math.max(...stats.eff.worst), ort_worst: Math.max(...stats.ort.worst),
        eff_worst_med: median(stats.eff.worst), ort_worst_med: median(stats.ort.worst),
        rounds: stats.ratios.length, ratio_med: median(stats.ratios),
        ratio_min: Math.min(...stats.ratios), ratio_max: Math.max(...stats.ratios),
        ratio_q1: quantile(stats.ratios, 0.25), ratio_q3: quantile(stats.ratios, 0.75),
        load_share: loadShare,
        eff_overlap: overlaps.eff.length ? median(overlaps.eff.filter((x) => x !== null)) : null,
        ort_overlap: overlaps.ort.length ? median(overlaps.ort.filter((x) => x !== null)) : null,
      };
      row.ratio = row.eff_ms / row.ort_ms;
      for (const e of ['eff', 'ort']) {
        row[`${e}_slow`] = {
          runs: slow[e].over.length, count20: slow[e].count20, p999: quantile(slow[e].over, 0.999), worst: slow[e].worst,
          partner: slow[e].partner,
        };
      }
      rows.push(row);
      process.stderr.write(`busy ${row.model} ${scenario}: effectual ${row.eff_ms.toFixed(3)} ms (worst x${row.eff_worst.toFixed(1)}), ORT ${row.ort_ms.toFixed(3)} ms (worst x${row.ort_worst.toFixed(1)}), ratio ${row.ratio.toFixed(2)} (per round: median ${row.ratio_med.toFixed(2)}, ${row.ratio_min.toFixed(2)}-${row.ratio_max.toFixed(2)} over ${row.rounds} rounds); means ${row.eff_mean.toFixed(3)} / ${row.ort_mean.toFixed(3)} ms${row.load_share !== null ? `; PyTorch used ${(100 * row.load_share).toFixed(0)}% of the cores` : ''}${row.eff_overlap !== null ? `; copies overlapped ${(100 * row.eff_overlap).toFixed(0)}% / ${(100 * row.ort_overlap).toFixed(0)}%` : ''}\n`);
    }
  }
  let md = `\n## Beside other work: default threads, batch 1 (goal: median <= 1.2x ONNX Runtime when busy, <= 1.0x quiet; no run over 20x its median)\n\n`;
  md += `Both engines at their defaults: \`effectual bench MODEL --repeat ${repeat}\` (no --threads, no environment variable) and ONNX Runtime with intraOpNumThreads 0 (its default). pytorch: a /usr/bin/python3 job running 3x3 convolutions (64 channels, 8 x 56 x 56, PyTorch's oneDNN) with one thread per core runs throughout, its measured share of the cores in the last column; two-copies: two processes of the same engine started at once (both counted), each timing ${5 * repeat} runs (their start-up varies by tens of ms: with ${repeat} runs ONNX Runtime's copies overlapped 69% of their timed runs), with the median share of each copy's timed runs during which the other copy was timing too (overlap). Each scenario runs at least ${rounds} and then as many interleaved rounds as fit ${seconds} s (at most ${maxRounds}; which engine goes first alternates); ms: the median over all rounds of each process's median (and of its mean: the median of single runs does not count the time another process held the cores, the mean does); per-round ratio: each round's effectual median over ONNX Runtime's, as median [min, quartiles, max] over the rounds, so one unlucky round no longer decides; worst: the slowest single run over its process's median, the worst process and the median process.\n\n`;
  md += `| model | scenario | rounds | effectual ms | ORT ms | ratio eff/ORT | per-round ratio: median [min, q1-q3, max] | effectual mean ms | ORT mean ms | mean ratio | effectual worst/median (worst, median process) | ORT worst/median | other work: PyTorch's share of the cores, or the copies' overlap (effectual / ORT) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    md += `| ${r.model} | ${r.scenario} | ${r.rounds} | ${r.eff_ms.toFixed(3)} | ${r.ort_ms.toFixed(3)} | ${r.ratio.toFixed(2)} | ${r.ratio_med.toFixed(2)} [${r.ratio_min.toFixed(2)}, ${r.ratio_q1.toFixed(2)}-${r.ratio_q3.toFixed(2)}, ${r.ratio_max.toFixed(2)}] | ${r.eff_mean.toFixed(3)} | ${r.ort_mean.toFixed(3)} | ${(r.eff_mean / r.ort_mean).toFixed(2)} | ${r.eff_worst.toFixed(1)}, ${r.eff_worst_med.toFixed(1)} | ${r.ort_worst.toFixed(1)}, ${r.ort_worst_med.toFixed(1)} | ${r.load_share !== null ? `${(100 * r.load_share).toFixed(0)}%` : r.eff_overlap !== null ? `${(100 * r.eff_overlap).toFixed(0)}% / ${(100 * r.ort_overlap).toFixed(0)}%` : '-'} |\n`;
  }
  md += `\nSlow single runs, both engines measured alike (each process writes every run's time with \`--runs-out\`; each run over its own process's median, pooled over the scenario's processes): how many went over 20x, the 99.9th percentile, and the worst run with where it fell (run index in its process, counting from 0 after the warm-up runs), the threads it ran on (effectual's governor may change them between runs; ORT does not say) and the context switches its process had during it (involuntary: another task or the host took a core; voluntary: a thread slept, e.g. at a barrier). two-copies, other copy meanwhile: what the other process of the pair was doing during each run over 20x (its runs lined up by start time): running a team (effectual threads > 1), one thread, timing (ORT), between runs, starting (before its first timed run) or done; the worst run's first.\n\n`;
  md += `| model | scenario | engine | runs | over 20x | 99.9th pct / median | worst / median | worst ms | worst at run (round) | threads | involuntary, voluntary switches | other copy meanwhile: worst run; runs over 20x |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    for (const [e, name] of [['eff', 'effectual'], ['ort', 'ONNX Runtime']]) {
      const x = r[`${e}_slow`];
      const w = x.worst || {};
      md += `| ${r.model} | ${r.scenario} | ${name} | ${x.runs} | ${x.count20} | ${x.p999.toFixed(1)} | ${(w.over || 0).toFixed(1)} | ${(w.ms || 0).toFixed(2)} | ${w.at}/${w.of} (${w.round}) | ${w.threads ?? '-'} | ${w.nivcsw}, ${w.nvcsw} | ${partnerCell(w, x.partner)} |\n`;
    }
  }
  return { rows, markdown: md };
}

module.exports = { benchBusy, partnerState };
