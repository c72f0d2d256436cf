'use strict';
// The real-model section of tools/bench.js: full-size models written by tools/make_real_models.sh
// (build/real-models), effectual against ONNX Runtime on the same input, interleaved round by
// round. A model whose file is absent, or that either engine cannot run, gets a stated line
// instead of figures, so that the bench always completes.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

// Batch 32 where the activations stay within a few GB (the 640x640 detector: about 2 GB for effectual,
// 3.4 GB for ONNX Runtime); the 1024x1024 U-Net runs at batch 1.
const MODELS = [
  { name: 'mobilenetv2', what: 'MobileNetV2 1.0, 224x224', batches: [1, 32] },
  { name: 'resnet18', what: 'ResNet-18, 224x224', batches: [1, 32] },
  { name: 'efficientnet_b0', what: 'EfficientNet-B0, 224x224', batches: [1, 32] },
  { name: 'ppocr_det', what: 'PaddleOCR-style DBNet (MobileNetV3 backbone), 640x640', batches: [1, 32] },
  { name: 'unet_fp16', what: 'fp16 U-Net, 1024x1024', batches: [1] },
];

function firstLine(e) {
  const text = `${e.stderr || ''}`.trim() || `${e.message || e}`;
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  // effectual and bench_ort print one error line; node may add a stack below it.
  return (lines.find((l) => /error|effectual|bench_ort/i.test(l)) || lines[0] || 'failed').slice(0, 300);
}

function inputOf(dir, name) {
  const bench = path.join(dir, `${name}.bench.npy`);
  if (fs.existsSync(bench)) return bench;
  const inputs = path.join(dir, `${name}.ref`, 'inputs');
  if (!fs.existsSync(inputs)) return null;
  const files = fs.readdirSync(inputs).filter((f) => f.endsWith('.npy')).sort();
  return files.length === 1 ? path.join(inputs, files[0]) : null;
}

function benchReal({ bin, ortBench, median, runJson, dir, only, rounds, repeat }) {
  const wanted = only ? new Set(only.split(',')) : null;
  if (wanted) {
    const known = new Set(MODELS.map((m) => m.name));
    for (const n of wanted) if (!known.has(n)) process.stderr.write(`bench: --real-models: unknown model '${n}' (known: ${[...known].join(', ')})\n`);
  }
  const rows = [];
  const skipped = [];
  const quiet = (cmd, argv) => JSON.parse(execFileSync(cmd, argv, {
    encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'pipe'],
  }));
  for (const m of MODELS) {
    if (wanted && !wanted.has(m.name)) continue;
    const file = path.join(dir, `${m.name}.onnx`);
    const input = inputOf(dir, m.name);
    if (!fs.existsSync(file) || !input) {
      skipped.push({ model: m.name, why: `${file} absent (tools/make_real_models.sh writes it)` });
      process.stderr.write(`bench: ${m.name}: skipped, ${file} absent\n`);
      continue;
    }
    // One short run of each engine first: a model either cannot run is reported, not timed.
    const probe = ['--batch', '1', '--threads', '1', '--repeat', '1', '--input', input];
    let failed = null;
    try {
      quiet(bin, ['bench', file, ...probe, '--json']);
    } catch (e) {
      const line = firstLine(e);
      failed = line.startsWith('effectual') ? line : `effectual: ${line}`;
    }
    if (!failed) {
      try {
        quiet('node', [ortBench, file, ...probe]);
      } catch (e) {
        failed = `ONNX Runtime: ${firstLine(e)}`;
      }
    }
    if (failed) {
      skipped.push({ model: m.name, why: failed });
      process.stderr.write(`bench: ${m.name}: skipped, ${failed}\n`);
      continue;
    }
    for (const batch of m.batches) {
      for (const threads of [1, 2]) {
        const eff = [], ort = [];
        const common = ['--batch', String(batch), '--threads', String(threads), '--repeat', String(repeat), '--input', input];
        for (let r = 0; r < rounds; ++r) {
          eff.push(runJson(bin, ['bench', file, ...common, '--json']).latency_ms.median);
          ort.push(runJson('node', [ortBench, file, ...common]).latency_ms.median);
        }
        const row = { model: m.name, what: m.what, batch, threads, eff_ms: median(eff), ort_ms: median(ort) };
        row.ratio = row.eff_ms / row.ort_ms;
        rows.push(row);
        process.stderr.write(`${m.name} b${batch} t${threads}: effectual ${row.eff_ms.toFixed(1)} ms, ORT ${row.ort_ms.toFixed(1)} ms (x${row.ratio.toFixed(2)})\n`);
      }
    }
  }
  let md = `\n## Real models against ONNX Runtime (full size, random weights)\n\n`;
  md += `Models written by \`tools/make_real_models.sh\` into ${dir} (architectures of the originals, seeded random weights with calibrated BatchNorm; see tests/fixtures/real/README.md); input: the model's reference input tiled to the batch (U-Net: a 1024x1024 image). Median over ${rounds} interleaved rounds of the median latency of ${repeat} timed runs.\n\n`;
  if (rows.length) {
    md += `| model | batch | threads | effectual ms | ORT ms | ratio eff/ORT | effectual img/s | ORT img/s |\n|---|---|---|---|---|---|---|---|\n`;
    for (const r of rows) {
      md += `| ${r.model} (${r.what}) | ${r.batch} | ${r.threads} | ${r.eff_ms.toFixed(1)} | ${r.ort_ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${(r.batch * 1000 / r.eff_ms).toFixed(1)} | ${(r.batch * 1000 / r.ort_ms).toFixed(1)} |\n`;
    }
  }
  if (skipped.length) {
    md += `\nNot measured:\n\n`;
    for (const s of skipped) md += `- ${s.model}: ${s.why.replace(/\|/g, '\\|')}\n`;
  }
  return { rows, skipped, markdown: md };
}

module.exports = { benchReal };
