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
'use strict';
const { spawn } = require('child_process');
const os = require('os');

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

function startLoad() {
  const threads = os.cpus().length;
  const code = `import torch\ntorch.set_num_threads(${threads})\na = torch.randn(768, 768)\nwhile True:\n    a = (a @ a).clamp_(-1, 1)\n`;
  return spawn('/usr/bin/python3', ['-c', code], { stdio: 'ignore' });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function benchBusy({ bin, ortBench, median, models, rounds, repeat }) {
  const rows = [];
  for (const model of models) {
    for (const scenario of ['quiet', 'pytorch', 'two-copies']) {
      const stats = { eff: { med: [], mean: [], worst: 0 }, ort: { med: [], mean: [], worst: 0 } };
      let load = null;
      if (scenario === 'pytorch') {
        load = startLoad();
        await sleep(1500);  // torch import and thread start-up
      }
      try {
        for (let r = 0; r < rounds; ++r) {
          for (const engine of ['eff', 'ort']) {
            const argv = engine === 'eff'
              ? [bin, ['bench', model, '--repeat', String(repeat), '--json']]
              : ['node', [ortBench, model, '--threads', '0', '--repeat', String(repeat)]];
            const copies = scenario === 'two-copies' ? 2 : 1;
            const results = await Promise.all(Array.from({ length: copies }, () => runJsonAsync(...argv)));
            for (const j of results) {
              stats[engine].med.push(j.latency_ms.median);
              stats[engine].mean.push(j.latency_ms.mean);
              stats[engine].worst = Math.max(stats[engine].worst, j.latency_ms.max / j.latency_ms.median);
            }
          }
        }
      } finally {
        if (load) load.kill('SIGKILL');
      }
      const row = {
        model: model.split('/').pop().replace(/\.onnx$/, ''), scenario,
        eff_ms: median(stats.eff.med), ort_ms: median(stats.ort.med),
        eff_mean: median(stats.eff.mean), ort_mean: median(stats.ort.mean),
        eff_worst: stats.eff.worst, ort_worst: stats.ort.worst,
      };
      row.ratio = row.eff_ms / row.ort_ms;
      rows.push(row);
      process.stderr.write(`busy ${row.model} ${scenario}: effectual ${row.eff_ms.toFixed(3)} ms (worst x${row.eff_worst.toFixed(1)}), ORT ${row.ort_ms.toFixed(3)} ms (worst x${row.ort_worst.toFixed(1)}), ratio ${row.ratio.toFixed(2)}; means ${row.eff_mean.toFixed(3)} / ${row.ort_mean.toFixed(3)} ms\n`);
    }
  }
  let md = `\n## Beside other work: default threads, batch 1 (goal: median <= 1.2x ONNX Runtime when busy, <= 1.0x quiet; no run over 20x its median)\n\n`;
  md += `Both engines at their defaults: \`effectual bench MODEL --repeat ${repeat}\` (no --threads, no environment variable) and ONNX Runtime with intraOpNumThreads 0 (its default). pytorch: a /usr/bin/python3 job multiplying 768x768 matrices on every core runs throughout; two-copies: two processes of the same engine at once (both counted). Median over ${rounds} interleaved rounds of each process's median (and of its mean: the median of single runs does not count the time another process held the cores, the mean does); worst: the slowest single run over its process's median.\n\n`;
  md += `| model | scenario | effectual ms | ORT ms | ratio eff/ORT | effectual mean ms | ORT mean ms | mean ratio | effectual worst/median | ORT worst/median |\n|---|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    md += `| ${r.model} | ${r.scenario} | ${r.eff_ms.toFixed(3)} | ${r.ort_ms.toFixed(3)} | ${r.ratio.toFixed(2)} | ${r.eff_mean.toFixed(3)} | ${r.ort_mean.toFixed(3)} | ${(r.eff_mean / r.ort_mean).toFixed(2)} | ${r.eff_worst.toFixed(1)} | ${r.ort_worst.toFixed(1)} |\n`;
  }
  return { rows, markdown: md };
}

module.exports = { benchBusy };
