'use strict';
// The DeftNN end-to-end section of tools/bench.js (issue 11): each shipped model optimized by
// `effectual optimize --target-loss 0.5` (layer times measured at the batch and thread count of the
// row: four runs, the last three replaying the first one's evaluations), then the optimized model
// against our fp32 engine on the original and against ONNX Runtime fp32 on the original, same
// input (models/NAME.ref/input.npy, rows tiled to the batch), same threads, interleaved round by
// round. Per model, the layers the optimizer chose and why the 2x / 1.5x goal is or is not met.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

// A layer's FLOP per byte of weights at a batch: below the ridge of this core it waits on memory.
// Ridge ~10 FLOP/byte: one core's fp32 FMA peak (~100 GFLOP/s at AVX-512) over its share of DRAM
// bandwidth (~10 GB/s); weights that fit in L2 (1-2 MB) make even low-intensity layers compute-bound.
const RIDGE = 10;
const bytesPer = (format) => (format === 'fp8' ? 1 : format.startsWith('deft16') || format === 'bf16dot' ? 2 : 4);

function boundAt(l, batch) {
  const intensity = l.macs ? (2 * l.macs * batch) / (l.rows * l.depth * 4) : 0;
  const bound = intensity && intensity < RIDGE && l.rows * l.depth * 4 > 2 ** 20 ? 'memory' : 'compute';
  return `${bound}-bound at batch ${batch} (${intensity.toFixed(0)} FLOP/weight byte)`;
}

function layerWhy(l, batch) {
  const fmtName = l.chosen.split('@')[0];
  const weightBytes = l.rows * l.kept * (l.chosen === 'engine' ? 4 : bytesPer(fmtName));
  const kept = l.depth ? (100 * l.kept) / l.depth : 100;
  return `${l.name}: ${l.kind}, ${(l.rows * l.depth * 4 / 1024).toFixed(0)} KiB of fp32 weights, ${boundAt(l, 1)}, ` +
    `${boundAt(l, 32)}; chosen ${l.chosen}` +
    (l.chosen === 'engine' ? '' : ` (${(weightBytes / 1024).toFixed(0)} KiB packed, SVE kept ${kept.toFixed(1)}% of K=${l.depth})`) +
    `, ${l.engine_ms.toFixed(4)} -> ${l.ms.toFixed(4)} ms at batch ${batch}` +
    (l.chosen === 'engine' ? `; fastest DeftNN candidate ${Math.min(...l.options.slice(1).map((o) => o.ms)).toFixed(4)} ms` : '');
}

function benchOptimize({ bin, ortBench, median, runJson, models, rounds, repeat, searchImages, smallSearchImages = 500 }) {
  const rows = [];
  const notes = [];
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'effectual-bench-optimize-'));
  for (const model of models) {
    const name = path.basename(model, '.onnx');
    const input = path.join(path.dirname(model), `${name}.ref`, 'input.npy');
    if (!fs.existsSync(input)) { notes.push(`- ${name}: no ${input}, skipped`); continue; }
    // Small models (ONNX file < 2 MB: lenet5, resnet) search on fewer images so that the section
    // stays bounded with every shipped model in it; their per-layer timing dominates anyway.
    const images = fs.statSync(model).size < 2e6 ? Math.min(searchImages, smallSearchImages) : searchImages;
    // One optimized model per reported batch and thread count: the layer times that decide are
    // measured at that batch and on that many threads (`optimize --threads`; lenet5's FC layers lose
    // at batch 1 and win 2-4x at 32, and a layer's best kernel on two threads need not be its best on
    // one). Every run after the first replays the first one's evaluations from its checkpoint
    // (accuracy does not depend on the batch or the thread count), so only timing reruns.
    const docs = {}, optSeconds = {};
    const runs = [[1, 1], [32, 1], [1, 2], [32, 2]];
    for (const [batch, threads] of runs) {
      const key = `${batch}t${threads}`;
      const out = path.join(workDir, `${name}-b${batch}-t${threads}`);
      const t0 = Date.now();
      const resume = key !== '1t1' && docs['1t1'] ? ['--resume'] : [];
      if (resume.length) {
        fs.mkdirSync(out, { recursive: true });
        fs.copyFileSync(path.join(workDir, `${name}-b1-t1`, 'checkpoint.json'), path.join(out, 'checkpoint.json'));
      }
      try {
        docs[key] = runJson(bin, ['optimize', model, '--data', 'fashion-mnist:test', '--target-loss', '0.5', '--threads', String(threads),
          '--search-images', String(images), '--report-images', '2000', '--speed-batch', String(batch), ...resume, '--out', out, '--json']);
        docs[key].optimized = path.join(out, `${name}.onnx`);
      } catch (e) {
        notes.push(`- ${name}: optimize at batch ${batch}, ${threads} thread(s) failed: ${`${e.stderr || e.message}`.trim().split('\n')[0]}`);
      }
      optSeconds[key] = (Date.now() - t0) / 1000;
    }
    if (runs.some(([b, t]) => !docs[`${b}t${t}`])) continue;
    const missed = [];
    for (const batch of [1, 32]) {
      for (const threads of [1, 2]) {
        const doc = docs[`${batch}t${threads}`], optimized = doc.optimized, rep = doc.accuracy.report;
        const common = ['--batch', String(batch), '--threads', String(threads), '--repeat', String(repeat), '--input', input];
        const eff = [], opt = [], ort = [], optTp = [], vsEff = [], vsOrt = [];
        // This machine is shared: for seconds at a time its cores run 10-50% slower, and not every
        // kernel alike. So each round times the three back to back (the engine and the optimized
        // model in alternating order) and a row's ratios are medians of the rounds' own ratios,
        // not ratios of medians that may come from different phases.
        const timeEff = () => { eff.push(runJson(bin, ['bench', model, ...common, '--json']).latency_ms.median); };
        const timeOpt = () => {
          const o = runJson(bin, ['bench', optimized, ...common, '--json']);
          opt.push(o.latency_ms.median); optTp.push(o.throughput_per_s);
        };
        for (let r = 0; r < rounds; ++r) {
          if (r % 2) { timeOpt(); timeEff(); } else { timeEff(); timeOpt(); }
          ort.push(runJson('node', [ortBench, model, ...common]).latency_ms.median);
          if (process.env.EFF_BENCH_ROUNDS) process.stderr.write(`  round ${r}: engine ${eff[r]} optimized ${opt[r]} ORT ${ort[r]}\n`);
          vsEff.push(eff[r] / opt[r]);
          vsOrt.push(ort[r] / opt[r]);
        }
        const row = { model: name, batch, threads, eff_ms: median(eff), opt_ms: median(opt), ort_ms: median(ort), opt_tp: median(optTp) };
        row.vs_eff = median(vsEff);
        row.vs_ort = median(vsOrt);
        row.loss = rep.fp32_top1 - rep.top1;
        row.met = row.vs_eff >= 2 && row.vs_ort >= 1.5 && row.loss <= 0.5;
        rows.push(row);
        if (!row.met) missed.push({ batch, threads, common, optimized });
        process.stderr.write(`optimize ${name} b${batch} t${threads}: engine ${row.eff_ms.toFixed(3)} ms, optimized ${row.opt_ms.toFixed(3)} ms (${row.vs_eff.toFixed(2)}x), ORT ${row.ort_ms.toFixed(3)} ms (${row.vs_ort.toFixed(2)}x)\n`);
      }
    }
    for (const [batch, threads] of runs) {
      const doc = docs[`${batch}t${threads}`], rep = doc.accuracy.report;
      notes.push(`- **${name}**, layers timed at batch ${batch}, ${threads} thread(s) (optimize on ${images} search images: ${optSeconds[`${batch}t${threads}`].toFixed(0)} s, ${doc.evaluations} evaluations` +
        `${doc.from_checkpoint ? `, ${doc.from_checkpoint} replayed` : ''}; report subset top-1 ${rep.top1.toFixed(2)}% vs fp32 ${rep.fp32_top1.toFixed(2)}%, target ${doc.report_met ? 'met' : 'missed'}):`);
      for (const l of doc.layers) notes.push(`  - ${layerWhy(l, batch)}`);
    }
    // Where a row misses the goal: `bench --per-layer` of both models at that batch and thread
    // count, the nodes taking most of the optimized model's time (what is left to win).
    for (const m of missed) {
      // Per-node times are means over the runs (one descheduled run moves them): the median of
      // three such runs per node.
      const perNode = (file) => {
        const runs = [0, 1, 2].map(() => runJson(bin, ['bench', file, ...m.common, '--per-layer', '--json']).per_node);
        const nodes = runs[0].map((n) => ({ ...n, ms: median(runs.map((r) => (r.find((x) => x.node === n.node) || n).ms)) }));
        const total = nodes.reduce((a, n) => a + n.ms, 0);
        return new Map(nodes.map((n) => [n.node, { ...n, share: total > 0 ? n.ms / total : 0 }]));
      };
      const base = perNode(model), mine = perNode(m.optimized);
      const top = [...mine.values()].sort((a, b) => b.ms - a.ms).slice(0, 6).map((n) => {
        const b = base.get(n.node);
        return `${n.node} ${b ? b.ms.toFixed(3) : '?'} -> ${n.ms.toFixed(3)} ms (${n.op}, ${(100 * n.share).toFixed(0)}%)`;
      });
      notes.push(`  - missed at batch ${m.batch}, ${m.threads} thread(s); per layer, engine -> optimized: ${top.join('; ')}`);
    }
  }
  fs.rmSync(workDir, { recursive: true, force: true });
  let md = `\n## DeftNN end to end: optimized models against our fp32 engine and ONNX Runtime fp32 (goal: >= 2.0x and >= 1.5x, <= 0.5 points top-1 loss)\n\n`;
  md += `\`effectual optimize MODEL --data fashion-mnist:test --target-loss 0.5 --threads T --search-images ${searchImages} --report-images 2000 --speed-batch B\` (B and T = the row's batch and threads: each row runs the model optimized with layer times measured at its batch and thread count; the runs after the first replay its evaluations), then \`effectual bench\` of the optimized and the original model and ONNX Runtime on the original, input models/NAME.ref/input.npy tiled to the batch, interleaved: ${rounds} rounds, each the three back to back (engine and optimized in alternating order), each timing the median of ${repeat} runs; the ms columns are medians over the rounds, the ratios medians of the rounds' own ratios. Loss: report subset (never searched on).\n\n`;
  md += `| model | batch | threads | fp32 engine ms | optimized ms | ORT ms | optimized img/s | vs engine | vs ORT | top-1 loss | goal |\n|---|---|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    md += `| ${r.model} | ${r.batch} | ${r.threads} | ${r.eff_ms.toFixed(3)} | ${r.opt_ms.toFixed(3)} | ${r.ort_ms.toFixed(3)} | ${r.opt_tp.toFixed(0)} | ${r.vs_eff.toFixed(2)}x | ${r.vs_ort.toFixed(2)}x | ${r.loss.toFixed(2)} | ${r.met ? 'met' : 'missed'} |\n`;
  }
  md += `\nPer layer (engine ms and chosen ms at the batch the layers were timed at; bound from FLOP per fp32 weight byte against a ridge of ~${RIDGE} FLOP/byte, layers whose weights fit in 1 MiB counted compute-bound):\n\n${notes.join('\n')}\n`;
  return { rows, markdown: md };
}

module.exports = { benchOptimize };
