#!/usr/bin/env node
'use strict';
// ONNX Runtime (CPU) latency baseline for effectual's benchmarks.
//
//   node bench_ort.js MODEL.onnx --batch B --threads T --repeat R [--warmup W] [--input X.npy]
//                     [--runs-out FILE.csv]
//
// Session: intraOpNumThreads=T, interOpNumThreads=1, graphOptimizationLevel 'all',
// executionMode 'sequential'. Without --input, the input is deterministic pseudo-random
// data of the model's input shape with the batch dimension set to B (other symbolic
// dimensions must be fixed in the model). With --input, its first dimension is tiled or
// cut to B rows. Prints one JSON line:
//   {"model":..,"batch":B,"threads":T,"repeat":R,
//    "latency_ms":{"median":..,"min":..,"max":..,"mean":..,"p99":..,"p999":..},
//    "runs_over_20x_median":..,"throughput_per_s":..}
// (p99/p999: nearest-rank percentiles of the single runs.) --runs-out writes every timed run as
// CSV in the columns of `effectual bench --runs-out` (threads and pool_allocations empty: ONNX
// Runtime does not say), so the two engines' runs can be laid side by side.
// where throughput_per_s = B * 1000 / median latency (samples per second).
const { readNpy } = require('./npy');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  process.stderr.write('bench_ort: onnxruntime-node is not installed; run: (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)\n');
  process.exit(2);
}

function usage(msg) {
  if (msg) process.stderr.write(`bench_ort: ${msg}\n`);
  process.stderr.write('usage: node bench_ort.js MODEL.onnx --batch B --threads T --repeat R [--warmup W] [--input X.npy] [--runs-out FILE.csv]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { model: null, batch: 1, threads: 1, repeat: 20, warmup: null, input: null, runsOut: null };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      i += 1;
      return argv[i];
    };
    const int = (v) => {
      const n = Number.parseInt(v, 10);
      if (!Number.isFinite(n) || String(n) !== String(v).trim()) usage(`${a}: not an integer: ${v}`);
      return n;
    };
    if (a === '--batch') opt.batch = int(next());
    else if (a === '--threads') opt.threads = int(next());
    else if (a === '--repeat') opt.repeat = int(next());
    else if (a === '--warmup') opt.warmup = int(next());
    else if (a === '--input') opt.input = next();
    else if (a === '--runs-out') opt.runsOut = next();
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (opt.model === null) opt.model = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!opt.model) usage('no model given');
  if (opt.batch < 1 || opt.threads < 0 || opt.repeat < 1) usage('--batch and --repeat must be >= 1, --threads >= 0 (0: ONNX Runtime\'s default)');
  if (opt.warmup === null) opt.warmup = Math.max(2, Math.min(10, Math.ceil(opt.repeat / 5)));
  return opt;
}

const TYPED = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array,
};

// Deterministic pseudo-random numbers (mulberry32).
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeInput(meta, batch) {
  if (!meta || !meta.isTensor || !meta.shape || meta.shape.length === 0) {
    throw new Error(`input '${meta && meta.name}': shape unknown; pass --input X.npy`);
  }
  const dims = meta.shape.map((d, i) => {
    if (i === 0) return batch;
    if (typeof d === 'number' && d > 0) return d;
    throw new Error(`input '${meta.name}': dimension ${i} is symbolic (${d}); pass --input X.npy`);
  });
  const type = meta.type;
  const Ctor = TYPED[type];
  if (!Ctor) throw new Error(`input '${meta.name}': unsupported type ${type}; pass --input X.npy`);
  const n = dims.reduce((a, b) => a * b, 1);
  const r = rng(12345);
  const data = new Ctor(n);
  for (let i = 0; i < n; i += 1) {
    const v = r() * 2 - 1;
    if (Ctor === BigInt64Array) data[i] = BigInt(Math.floor((v + 1) * 4));
    else if (Ctor === Float32Array || Ctor === Float64Array) data[i] = v;
    else data[i] = Math.floor((v + 1) * 64);
  }
  return new ort.Tensor(type, data, dims);
}

function inputFromNpy(path, batch) {
  const arr = readNpy(path);
  const rows = arr.shape[0];
  if (arr.shape.length === 0 || rows === 0) throw new Error(`${path}: need an array with a leading batch dimension`);
  const per = arr.data.length / rows;
  const data = new arr.data.constructor(per * batch);
  for (let b = 0; b < batch; b += 1) {
    const src = b % rows;
    data.set(arr.data.subarray(src * per, (src + 1) * per), b * per);
  }
  return new ort.Tensor(arr.type, data, [batch, ...arr.shape.slice(1)]);
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(opt.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: opt.threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  if (session.inputNames.length !== 1) throw new Error(`model has ${session.inputNames.length} inputs; bench_ort supports one`);
  const name = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  const tensor = opt.input ? inputFromNpy(opt.input, opt.batch) : makeInput(meta, opt.batch);
  const feeds = { [name]: tensor };
  for (let i = 0; i < opt.warmup; i += 1) await session.run(feeds);
  const times = [];
  const starts = [];  // CLOCK_MONOTONIC ms (hrtime), as effectual's start_ms
  const usage = [];
  for (let i = 0; i < opt.repeat; i += 1) {
    const u0 = opt.runsOut ? process.resourceUsage() : null;
    const t0 = process.hrtime.bigint();
    if (opt.runsOut) starts.push(Number(t0) / 1e6);
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (u0) {
      const u1 = process.resourceUsage();
      usage.push(['minorPageFault', 'majorPageFault', 'voluntaryContextSwitches', 'involuntaryContextSwitches'].map((k) => u1[k] - u0[k]));
    }
  }
  if (opt.runsOut) {
    const fs = require('fs');
    let csv = 'run,ms,threads,minflt,majflt,nvcsw,nivcsw,pool_allocations,start_ms\n';
    times.forEach((t, i) => { csv += `${i},${t.toFixed(6)},,${usage[i].join(',')},,${starts[i].toFixed(3)}\n`; });
    const tmp = `${opt.runsOut}.tmp.${process.pid}`;
    fs.writeFileSync(tmp, csv);
    fs.renameSync(tmp, opt.runsOut);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const round = (v) => Math.round(v * 1000) / 1000;
  const nearestRank = (q) => sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1];
  const out = {
    model: opt.model,
    runtime: `onnxruntime-node ${ort.env.versions ? ort.env.versions.node : ''}`.trim(),
    batch: opt.batch,
    threads: opt.threads,
    repeat: opt.repeat,
    warmup: opt.warmup,
    latency_ms: {
      median: round(median), min: round(sorted[0]), max: round(sorted[sorted.length - 1]), mean: round(mean),
      p99: round(nearestRank(0.99)), p999: round(nearestRank(0.999)),
    },
    runs_over_20x_median: times.filter((t) => t > 20 * median).length,
    throughput_per_s: round((opt.batch * 1000) / median),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench_ort: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
