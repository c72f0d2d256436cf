#!/usr/bin/env node
// Benchmarks every shipped model against ONNX Runtime in the same run and writes
// bench/RESULTS.md. The machine is shared and noisy: each figure is the median of several rounds,
// and the two engines are interleaved round by round so that both see the same noise.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const bin = opt('--bin', 'build/effectual');
const out = opt('--out', 'bench/RESULTS.md');
const rounds = Number(opt('--rounds', '9'));
const repeat = Number(opt('--repeat', '30'));
const models = (opt('--models', '') || fs.readdirSync('models').filter((f) => f.endsWith('.onnx')).map((f) => `models/${f}`).join(','))
  .split(',').filter(Boolean);
const ortBench = path.join(__dirname, 'ort', 'bench_ort.js');
// --sections latency,profile,sim,vgg,real,busy,search,deft,sweep,python,optimize,quant picks sections (default: all), e.g. to try one alone.
const sections = new Set(opt('--sections', 'latency,profile,sim,vgg,real,busy,search,deft,sweep,python,optimize,quant,gate').split(','));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
};
const runJson = (cmd, argv) => JSON.parse(execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 24 }));

// A profile that puts 16-bit fixed point on every layer's activations and weights.
const profile = path.join(os.tmpdir(), `effectual-bench-profile-${process.pid}.json`);
fs.writeFileSync(profile, JSON.stringify({
  format: 'effectual-precision-profile', version: 1,
  default: { activations: { int_bits: 8, frac_bits: 8 }, weights: { int_bits: 2, frac_bits: 14 } },
}));

const rows = [];
for (const model of sections.has('latency') ? models : []) {
  for (const batch of [1, 32]) {
    for (const threads of [1, 2]) {
      const eff = [], ort = [], effTp = [], ortTp = [], hooked = [];
      const common = ['--batch', String(batch), '--threads', String(threads), '--repeat', String(repeat), '--json'];
      for (let r = 0; r < rounds; ++r) {
        const e = runJson(bin, ['bench', model, ...common]);
        const o = runJson('node', [ortBench, model, ...common.filter((a) => a !== '--json')]);
        const h = runJson(bin, ['bench', model, ...common, '--precision-profile', profile]);
        eff.push(e.latency_ms.median); effTp.push(e.throughput_per_s);
        ort.push(o.latency_ms.median); ortTp.push(o.throughput_per_s);
        hooked.push(h.latency_ms.median);
      }
      const row = {
        model: path.basename(model, '.onnx'), batch, threads,
        eff_ms: median(eff), ort_ms: median(ort), hooked_ms: median(hooked),
        eff_tp: median(effTp), ort_tp: median(ortTp),
      };
      row.ratio = row.eff_ms / row.ort_ms;
      row.hook_ratio = row.hooked_ms / row.eff_ms;
      rows.push(row);
      process.stderr.write(`${row.model} b${batch} t${threads}: effectual ${row.eff_ms.toFixed(3)} ms, ORT ${row.ort_ms.toFixed(3)} ms (x${row.ratio.toFixed(2)}), fixed-point hooks x${row.hook_ratio.toFixed(2)}\n`);
    }
  }
}
fs.unlinkSync(profile);

// Profiling cost (issue #3 goal: profile <= 2x plain inference on the same images). Both are whole
// commands timed from outside, model loading included, interleaved round by round.
const wall = (cmd, argv) => {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const profileRows = [];
const profileImages = Number(opt('--profile-images', '256'));
for (const model of sections.has('profile') ? models : []) {
  const ev = [], pr = [];
  for (let r = 0; r < rounds; ++r) {
    ev.push(wall(bin, ['eval', model, '--data', 'fashion-mnist:test', '--limit', String(profileImages), '--json']));
    pr.push(wall(bin, ['profile', model, '--data', 'fashion-mnist:test', '--images', String(profileImages), '--json']));
  }
  const row = { model: path.basename(model, '.onnx'), eval_ms: median(ev), profile_ms: median(pr) };
  row.ratio = row.profile_ms / row.eval_ms;
  profileRows.push(row);
  process.stderr.write(`${row.model}: eval ${row.eval_ms.toFixed(0)} ms, profile ${row.profile_ms.toFixed(0)} ms (x${row.ratio.toFixed(2)})\n`);
}

// Simulator speed: bench/bench_sim.cpp (Google Benchmark) on a synthetic VGG-16-shaped network.
const simBench = path.join(path.dirname(bin), 'bench', 'effectual_bench');
let simRows = [];
if (sections.has('sim') && fs.existsSync(simBench)) {
  const reps = String(Math.max(3, rounds));
  const j = JSON.parse(execFileSync(simBench, ['--benchmark_format=json', '--benchmark_filter=^Sim', `--benchmark_repetitions=${reps}`,
    '--benchmark_report_aggregates_only=true'], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] }));
  simRows = j.benchmarks.filter((b) => b.aggregate_name === 'median').map((b) => ({
    name: b.run_name || b.name, real_ms: b.real_time * ({ ns: 1e-6, us: 1e-3, ms: 1, s: 1e3 }[b.time_unit] || 1),
    macs_per_s: b['simulated_MACs/s'], cost_overhead: b.cost_overhead,
  }));
  for (const r of simRows) process.stderr.write(`${r.name}: ${r.real_ms.toFixed(1)} ms\n`);
}

// All seven designs on one image of a VGG-16 (issue #4 goal: < 3 s on this 2-core machine, value
// capture included). Trained weights cannot be downloaded here: tools/make_vgg16.py writes VGG-16's
// exact geometry with seeded random weights (needs Debian's python3-torch), once, next to the build.
// The peer in the same run is `effectual run` on the same image: loading and inference alone.
let vggRow = null;
const vggModel = path.join(path.dirname(bin), 'bench-models', 'vgg16.onnx');
if ((sections.has('vgg') || sections.has('quant')) && !fs.existsSync(vggModel)) {
  fs.mkdirSync(path.dirname(vggModel), { recursive: true });
  try {
    execFileSync('/usr/bin/python3', [path.join(__dirname, 'make_vgg16.py'), vggModel], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    process.stderr.write(`bench: skipping the VGG-16 simulation (tools/make_vgg16.py failed: ${e.message.split('\n')[0]})\n`);
  }
}
if (sections.has('vgg') && fs.existsSync(vggModel)) {
  const sim = [], run = [];
  const vggRounds = Math.max(3, Math.min(rounds, 7));
  for (let r = 0; r < vggRounds; ++r) {
    run.push(wall(bin, ['run', vggModel, '--data', 'fashion-mnist:test', '--limit', '1', '--json']));
    sim.push(wall(bin, ['simulate', vggModel, '--data', 'fashion-mnist:test', '--images', '1', '--designs', 'all', '--json']));
  }
  vggRow = { rounds: vggRounds, run_ms: median(run), sim_ms: median(sim) };
  process.stderr.write(`vgg16: run ${vggRow.run_ms.toFixed(0)} ms, simulate all designs ${vggRow.sim_ms.toFixed(0)} ms\n`);
}

// Data-free quantization of the same VGG-16 (issue #12 goal: KL clipping + OCS 0.02 in under a
// minute): `effectual quantize` against `effectual run` on one image (loading the model is most
// of both), interleaved rounds.
let quantRow = null;
if (sections.has('quant') && fs.existsSync(vggModel)) {
  const q = [], run = [];
  const quantRounds = Math.max(3, Math.min(rounds, 5));
  const qOut = path.join(path.dirname(vggModel), 'vgg16_w8_kl_ocs.onnx');
  for (let r = 0; r < quantRounds; ++r) {
    run.push(wall(bin, ['run', vggModel, '--data', 'fashion-mnist:test', '--limit', '1', '--json']));
    q.push(wall(bin, ['quantize', vggModel, '--bits', '8', '--clip', 'kl', '--ocs-ratio', '0.02', '--out', qOut]));
  }
  fs.rmSync(qOut, { force: true });
  quantRow = { rounds: quantRounds, run_ms: median(run), quant_ms: median(q) };
  process.stderr.write(`vgg16: quantize kl + ocs 0.02 ${quantRow.quant_ms.toFixed(0)} ms\n`);
}

const real = sections.has('real') ? require('./bench_real').benchReal({
  bin, ortBench, median, runJson,
  dir: opt('--real-dir', path.join(path.dirname(bin), 'real-models')),
  only: opt('--real-models', ''),
  rounds: Number(opt('--real-rounds', String(Math.max(3, Math.min(rounds, 5))))),
  repeat: Number(opt('--real-repeat', '5')),
}) : null;

// Precision search speed (issue 9 goal: the shipped vgg on 2,000 search images under 3 minutes, on
// 10,000 under 10 on this 2-core machine). One run per size (each is many evaluations already);
// --search-sizes picks the sizes (default both; the 10,000-image run takes about 5 minutes of the
// bench). Sizes with the 1,000 report images beyond the 10,000 test images draw on the train split.
const searchRows = [];
for (const n of sections.has('search') ? opt('--search-sizes', '2000,10000').split(',').map(Number) : []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'effectual-bench-search-'));
  const data = n + 1000 > 10000 ? 'fashion-mnist:train' : 'fashion-mnist:test';
  const ms = wall(bin, ['search', 'precision', 'models/vgg.onnx', '--data', data, '--search-images', String(n),
    '--report-images', '1000', '--keep', '99%', '--sim-images', '0', '--out', dir, '--json']);
  const j = JSON.parse(fs.readFileSync(path.join(dir, 'search.json'), 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  const row = { images: n, data, ms, evaluations: j.evaluations ? j.evaluations.total : '?',
    prefix_passes: j.evaluations ? j.evaluations.prefix_passes : '?', notation: j.activation_precisions || '',
    report: j.accuracy ? `${j.accuracy.report.top1.toFixed(2)} (fp32 ${j.accuracy.report.fp32_top1.toFixed(2)})` : '' };
  searchRows.push(row);
  process.stderr.write(`search vgg ${n} images: ${(ms / 1000).toFixed(1)} s, ${JSON.stringify(row.evaluations)} evaluations\n`);
}

// DeftNN kernels (bench/bench_deft.cpp): GFLOP/s of each packed format against oneDNN's fp32 and
// bf16 matmul on the same shapes, one thread each; Google Benchmark interleaves nothing, so each
// shape's runs are repeated and the medians compared (ratios against oneDNN fp32 of the same run).
const deftRows = [], deftConvRows = [], deftPeaks = {};
// The peak (bench/bench_peak.cpp) a kernel is held to: its instruction family, from its name and
// the ISA label it reports (oneDNN's implementation string, our isa_name).
const deftPeakOf = (kernel, label) => {
  if (['onednn-int8', 'int8', 'direct-int8'].includes(kernel)) return /amx/.test(label) ? 'amx-int8' : 'vnni-int8';
  if (['fp32', 'deft16', 'deft16q', 'fp8', 'onednn-fp32'].includes(kernel)) return 'fp32-fma';
  if (/amx/.test(label)) return 'amx-bf16';
  return /bf16/.test(label) ? 'avx512-bf16' : 'fp32-fma';
};
const deftCell = (r, k, base) => {
  if (!r[k] || !base) return '';
  const peak = deftPeaks[deftPeakOf(k, r[`${k}:label`] || '')];
  return `${(r[k] / base).toFixed(2)}${peak ? ` (${((100 * r[k]) / peak).toFixed(0)}%)` : ''}`;
};
if (sections.has('deft') && fs.existsSync(simBench)) {
  const reps = String(Math.max(3, Math.min(rounds, 5)));
  const j = JSON.parse(execFileSync(simBench, ['--benchmark_format=json', '--benchmark_filter=^Deft(Gemm|Conv|Peak)/', `--benchmark_repetitions=${reps}`,
    '--benchmark_report_aggregates_only=true', '--benchmark_min_time=0.1'], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1' } }));
  const byShape = new Map();
  for (const b of j.benchmarks.filter((x) => x.aggregate_name === 'median')) {
    const [family, kernel, shape] = (b.run_name || b.name).split('/');
    if (family === 'DeftPeak') { deftPeaks[kernel] = b['GFLOP/s']; continue; }
    const key = `${family}/${shape}`;
    if (!byShape.has(key)) byShape.set(key, { conv: family === 'DeftConv' });
    byShape.get(key)[kernel] = b['GFLOP/s'];
    byShape.get(key)[`${kernel}:label`] = b.label || '';
  }
  for (const [key, k] of byShape) (k.conv ? deftConvRows : deftRows).push({ shape: key.split('/')[1], ...k });
  for (const r of deftRows) process.stderr.write(`deft ${r.shape}: fp32 ${(r.fp32 || 0).toFixed(1)}, oneDNN fp32 ${(r['onednn-fp32'] || 0).toFixed(1)} GFLOP/s\n`);
}

// Channel gating in the engine (bench/bench_gate.cpp): the gated conv's time as a ratio to the
// ungated conv of the same run, per gated-off fraction, and the break-even fraction.
const gateRows = [];
if (sections.has('gate') && fs.existsSync(simBench)) {
  const reps = String(Math.max(3, Math.min(rounds, 5)));
  // (the coefficient of variation of a counter that is 0 in every repetition is NaN: not JSON)
  const j = JSON.parse(execFileSync(simBench, ['--benchmark_format=json', '--benchmark_filter=^GateConv/', `--benchmark_repetitions=${reps}`,
    '--benchmark_report_aggregates_only=true'], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1' } }).replace(/\bNaN\b/g, 'null'));
  for (const b of j.benchmarks.filter((x) => x.aggregate_name === 'median')) {
    const [, kind] = (b.run_name || b.name).split('/');
    gateRows.push({ kind, skipped: b.skipped, ms: b.cpu_time });
  }
}

const python = sections.has('python') ? require('./bench_python').benchPython({
  bin, median, rounds: Number(opt('--python-rounds', String(Math.max(3, Math.min(rounds, 5))))), only: opt('--python-jobs', ''), threads: Number(opt('--python-threads', '0')),
}) : null;

// DeftNN end to end (tools/bench_optimize.js): optimized models against the engine and ORT.
const optimized = sections.has('optimize') ? require('./bench_optimize').benchOptimize({
  bin, ortBench, median, runJson, models: opt('--optimize-models', models.join(',')).split(',').filter(Boolean),
  rounds, repeat, searchImages: Number(opt('--optimize-search-images', '2000')),
  smallSearchImages: Number(opt('--optimize-small-search-images', '1000')),
}) : null;

(async () => {
const busy = sections.has('busy') ? await require('./bench_busy').benchBusy({
  bin, ortBench, median, models: opt('--busy-models', 'models/resnet.onnx').split(',').filter(Boolean),
  rounds: Number(opt('--busy-rounds', '5')), repeat: Number(opt('--busy-repeat', '200')),
  seconds: Number(opt('--busy-seconds', '45')),
}) : null;
const sweep = sections.has('sweep') ? require('./bench_sweep').benchSweep({ bin, median, rounds: Math.min(rounds, 3) }) : null;
const cpu = os.cpus()[0] ? os.cpus()[0].model : 'unknown';
const ortVersion = (() => {
  try { return require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node', 'package.json')).version; } catch (e) { return '?'; }
})();
let md = `# Benchmark results\n\n`;
md += `- date: ${new Date().toISOString()}\n- machine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}\n`;
md += `- command: \`make bench\` (tools/bench.js --rounds ${rounds} --repeat ${repeat})\n`;
md += `- peer: ONNX Runtime ${ortVersion} (npm onnxruntime-node, CPU, graph optimisation 'all'), same inputs, same run, interleaved\n`;
md += `- each figure: median over ${rounds} rounds of the median latency of ${repeat} timed runs after warm-up\n\n`;
if (rows.length) {
  md += `## Latency against ONNX Runtime (goal: ratio <= 1.25) and the cost of fixed-point hooks (goal: <= 1.3)\n\n`;
  md += `| model | batch | threads | effectual ms | ORT ms | ratio eff/ORT | effectual img/s | ORT img/s | hooks ms | hooks/plain |\n|---|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    md += `| ${r.model} | ${r.batch} | ${r.threads} | ${r.eff_ms.toFixed(3)} | ${r.ort_ms.toFixed(3)} | ${r.ratio.toFixed(2)} | ${r.eff_tp.toFixed(0)} | ${r.ort_tp.toFixed(0)} | ${r.hooked_ms.toFixed(3)} | ${r.hook_ratio.toFixed(2)} |\n`;
  }
}
if (profileRows.length) {
  md += `\n## Profiling cost (goal: profile <= 2x plain inference on the same images)\n\n`;
  md += `\`effectual eval MODEL --data fashion-mnist:test --limit ${profileImages}\` against \`effectual profile MODEL --data fashion-mnist:test --images ${profileImages}\`, whole commands, default threads, median of ${rounds} interleaved rounds.\n\n`;
  md += `| model | eval ms | profile ms | profile/eval |\n|---|---|---|---|\n`;
  for (const r of profileRows) md += `| ${r.model} | ${r.eval_ms.toFixed(0)} | ${r.profile_ms.toFixed(0)} | ${r.ratio.toFixed(2)} |\n`;
}
if (simRows.length) {
  md += `\n## Simulator speed (synthetic VGG-16-shaped network, one image; bench/bench_sim.cpp)\n\n`;
  md += `Peer (DNNsim, single thread, VGG-16 conv layers, one image, incl. ~1.4 s trace loading, from ../shared/specs/accelerators.md): Stripes 1.8 s, Dynamic Stripes 2.0 s, Bit-Pragmatic 21 s, Loom 21 s. Goal: each design >= 20x faster single-threaded; all seven designs < 3 s on 2 cores.\n\n`;
  md += `| benchmark | median wall ms | simulated MACs/s |\n|---|---|---|\n`;
  for (const r of simRows) md += `| ${r.name} | ${r.real_ms.toFixed(1)} | ${r.macs_per_s ? r.macs_per_s.toExponential(2) : ''} |\n`;
  const cost = simRows.find((r) => r.name.startsWith('SimCostOverhead') && r.cost_overhead !== undefined);
  if (cost) {
    md += `\nEnergy and memory model (docs/energy-area.md): ${(100 * cost.cost_overhead).toFixed(2)}% of the simulation's time, measured as a ratio in the same iteration (SimCostOverhead: energy of every record and the memory timeline of every design and baseline, over simulating the VGG-16 conv layers with all seven designs and their DaDianNao; goal < 10%).\n`;
  }
}
if (vggRow) {
  md += `\n## All seven designs on one VGG-16 image, value capture included (goal: < 3 s on 2 cores)\n\n`;
  md += `Model: VGG-16 configuration D (13 conv + 3 FC, 15.5 G MACs, 138 M weights, 553 MB ONNX) written by tools/make_vgg16.py with seeded random weights: the geometry and the work are VGG-16's, the value statistics are not a trained network's. Input: one Fashion-MNIST test image resized to 224x224 RGB. Whole commands timed from outside (model loading included), default threads (2), median of ${vggRow.rounds} interleaved rounds.\n\n`;
  md += `| command | median wall ms |\n|---|---|\n`;
  md += `| \`effectual run vgg16.onnx --data fashion-mnist:test --limit 1\` (load + inference: the peer) | ${vggRow.run_ms.toFixed(0)} |\n`;
  md += `| \`effectual simulate vgg16.onnx --data fashion-mnist:test --images 1 --designs all\` | ${vggRow.sim_ms.toFixed(0)} |\n`;
  md += `| simulate / run | ${(vggRow.sim_ms / vggRow.run_ms).toFixed(2)} |\n`;
}
if (quantRow) {
  md += `\n## Data-free quantization of VGG-16 (goal: KL clipping + OCS 0.02 in < 60 s)\n\n`;
  md += `The VGG-16 above (138 M weights). \`effectual quantize vgg16.onnx --bits 8 --clip kl --ocs-ratio 0.02 --out OUT.onnx\`: load, fold, split 2% of every layer's input channels, KL thresholds, 8-bit codes, write the QDQ model; whole command, default threads, median of ${quantRow.rounds} interleaved rounds with the peer.\n\n`;
  md += `| command | median wall ms |\n|---|---|\n`;
  md += `| \`effectual run vgg16.onnx --data fashion-mnist:test --limit 1\` (load + inference: the peer) | ${quantRow.run_ms.toFixed(0)} |\n`;
  md += `| \`effectual quantize vgg16.onnx --bits 8 --clip kl --ocs-ratio 0.02\` | ${quantRow.quant_ms.toFixed(0)} |\n`;
  md += `| quantize / run | ${(quantRow.quant_ms / quantRow.run_ms).toFixed(2)} |\n`;
}
if (real) md += real.markdown;
if (busy) md += busy.markdown;
if (sweep) md += sweep.markdown;
if (searchRows.length) {
  md += `\n## Precision search speed (goal: shipped vgg, 2,000 search images < 3 min; 10,000 < 10 min)\n\n`;
  md += `\`effectual search precision models/vgg.onnx --data DATA --search-images N --report-images 1000 --keep 99% --sim-images 0\`, whole command, default threads, one run per size (10,000 + 1,000 images exceed the test split: DATA is then fashion-mnist:train).\n\n`;
  md += `| search images | data | wall s | evaluations | passes up to a layer | activation precisions | report top-1 % |\n|---|---|---|---|---|---|---|\n`;
  for (const r of searchRows) md += `| ${r.images} | ${r.data} | ${(r.ms / 1000).toFixed(1)} | ${r.evaluations} | ${r.prefix_passes} | ${r.notation} | ${r.report} |\n`;
}
if (deftRows.length) {
  const kernels = ['fp32', 'deft16', 'deft16q', 'fp8', 'bf16dot', 'bf16dot-avx512', 'int8', 'onednn-bf16', 'onednn-int8'];
  md += `\n## DeftNN kernels against oneDNN (bench/bench_deft.cpp, one thread)\n\n`;
  const peakNames = ['fp32-fma', 'avx512-bf16', 'vnni-int8', 'amx-bf16', 'amx-int8'].filter((k) => deftPeaks[k]);
  if (peakNames.length) {
    md += `This CPU's measured peak, one thread, register-only loops (bench/bench_peak.cpp; GOP/s for int8):\n\n| ${peakNames.join(' | ')} |\n|${peakNames.map(() => '---').join('|')}|\n| ${peakNames.map((k) => deftPeaks[k].toFixed(0)).join(' | ')} |\n\n`;
  }
  md += `GEMM Out (J x M) = In (J x K) W^T for conv layers in im2col view (J = output pixels) and FC layers (J = batch). Each cell: our kernel's GFLOP/s as a ratio to oneDNN fp32 matmul on the same shape in the same run (> 1: faster), and in parentheses its fraction of the peak of the instruction family it runs on (fp32 FMA for fp32/deft16/deft16q/fp8; AMX-BF16 or vdpbf16ps for bf16dot and onednn-bf16; AMX-INT8 or VNNI for onednn-int8); median of repetitions. bf16dot runs on the AMX tiles where the CPU has them, bf16dot-avx512 is the same format on vdpbf16ps. int8 is the DeftNN int8 FC (fp32 rows quantized to u8, oneDNN's u8s8 int32 matmul, our epilogue to fp32: all three timed). onednn-bf16 / onednn-int8 are oneDNN's own bf16 and u8s8 (per-channel scales, fp32 out) matmuls, the strongest peers. VGG-16 fc6/fc8 rows run only bf16dot (400 MB of fp32 weights).\n\n`;
  md += `| shape (M, K, J) | oneDNN fp32 GFLOP/s | ${kernels.join(' | ')} |\n|---|---|${kernels.map(() => '---').join('|')}|\n`;
  for (const r of deftRows) {
    const base = r['onednn-fp32'];
    const basePeak = deftPeaks['fp32-fma'] && base ? ` (${((100 * base) / deftPeaks['fp32-fma']).toFixed(0)}%)` : '';
    md += `| ${r.shape} | ${base ? base.toFixed(1) : '?'}${basePeak} | ${kernels.map((k) => deftCell(r, k, base)).join(' | ')} |\n`;
  }
}
if (gateRows.length) {
  const ungated = (gateRows.find((r) => r.kind === 'ungated') || {}).ms;
  const base = (gateRows.find((r) => r.kind === 'base_only') || {}).ms;
  md += `\n## Channel gating in the engine (bench/bench_gate.cpp, one thread)\n\n`;
  md += `vgg's features.10 shape (64 -> 64, 3x3, 14x14, batch 32), base path 1/4 of the channels. Gated conv CPU time as a ratio to the ungated oneDNN conv of the same run (< 1: faster), median of repetitions. The base path alone: ${ungated && base ? (base / ungated).toFixed(2) : '?'}x.\n\n`;
  md += `| gate pattern | gated-off fraction | time / ungated |\n|---|---|---|\n`;
  for (const r of gateRows.filter((x) => x.kind.startsWith('gated_'))) {
    md += `| ${r.kind.slice(6)} | ${(r.skipped * 100).toFixed(0)}% | ${ungated ? (r.ms / ungated).toFixed(2) : '?'} |\n`;
  }
}
if (deftConvRows.length) {
  const kernels = ['amx-bf16', 'im2col-bf16dot', 'direct-bf16dot', 'int8', 'direct-int8', 'onednn-bf16', 'onednn-int8'];
  md += `\nConv layers as convs (3x3, stride 1, one image, one thread): amx-bf16 is the DeftNN direct conv on the AMX tile unit (Deft-16 weights, activations rounded to bf16, timed from NCHW fp32 input to NCHW fp32 output), im2col-bf16dot the same operands without AMX (im2col + vdpbf16ps), direct-bf16dot the same operands on the few-channel direct conv (fp32 FMA; lenet5's 5x5 convs are rows of their own), int8 the DeftNN int8 conv on oneDNN from channel-blocked fp32 to channel-blocked fp32 (quantization to u8, oneDNN's u8s8 int32 conv, our epilogue: all timed; what int8 layers run on a CPU without VNNI), direct-int8 our own VNNI convs that int8 layers run where the CPU has VNNI: for at most 8 input channels deft/int8_small_conv.h (VNNI over four taps of a kernel row, 16 filters in the lanes; NCHW fp32 in, quantization timed, out channel-blocked for vgg and fmnist_wide and NCHW for lenet5, as their next layers read), for more deft/int8_direct_conv.h (four input channels of a pixel broadcast against 16 filters, 2 filter blocks x up to 12 pixels of sums in registers, the epilogue in registers; channel-blocked fp32 in and out, quantization timed), onednn-bf16 / onednn-int8 oneDNN's own bf16 and u8s8 convs (its layouts, reorders not timed). Ratios to oneDNN's fp32 conv, fraction of the family's peak in parentheses.\n\n`;
  md += `| layer | oneDNN fp32 conv GFLOP/s | ${kernels.join(' | ')} |\n|---|---|${kernels.map(() => '---').join('|')}|\n`;
  for (const r of deftConvRows) {
    const base = r['onednn-fp32'];
    const basePeak = deftPeaks['fp32-fma'] && base ? ` (${((100 * base) / deftPeaks['fp32-fma']).toFixed(0)}%)` : '';
    md += `| ${r.shape} | ${base ? base.toFixed(1) : '?'}${basePeak} | ${kernels.map((k) => deftCell(r, k, base)).join(' | ')} |\n`;
  }
}
if (python) md += python.markdown;
if (optimized) md += optimized.markdown;
const extra = opt('--append', '');
if (extra && fs.existsSync(extra)) md += '\n' + fs.readFileSync(extra, 'utf8');
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.tmp.${process.pid}`;
fs.writeFileSync(tmp, md);
fs.renameSync(tmp, out);
console.log(`wrote ${out}`);
})().catch((e) => { process.stderr.write(`bench: ${e.message}\n`); process.exit(1); });
