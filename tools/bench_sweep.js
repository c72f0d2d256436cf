// `make bench` section "sweep" (docs/sweep.md): the sweep's own overhead per point, and a 2-rank
// MPI sweep against one process on the same 21 points. Whole commands timed from outside, each run
// into a fresh folder (its capture included), interleaved round by round; medians.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function benchSweep({ bin, median, rounds }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'effectual-bench-sweep-'));
  const spec = path.join(dir, 'sweep.yaml');
  // 7 designs x 3 configurations of the shipped VGG on 128 images: one capture, 21 simulations.
  fs.writeFileSync(spec, [
    'name: bench', 'compute: [simulate, eval]', 'axes:', '  model: [models/vgg.onnx]',
    '  data: [{set: "fashion-mnist:test", first: 0, images: 128}]',
    '  design: [dadiannao, cnvlutin, stripes, dstripes, tartan, loom, pragmatic]',
    '  config: [{}, {name: t8, tiles: 8}, {name: t4, tiles: 4}]', ''].join('\n'));
  const plugin = path.join(path.dirname(bin), 'libeffectual_mpi.so');
  let hasMpi = fs.existsSync(plugin);
  try { execFileSync('mpirun', ['--version'], { stdio: 'ignore' }); } catch (e) { hasMpi = false; }
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', EFFECTUAL_NO_PROGRESS: '1' };
  let n = 0;
  const run = (cmd, argv) => {
    const out = path.join(dir, `run${n++}`);
    const t0 = process.hrtime.bigint();
    execFileSync(cmd, [...argv, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'], env });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const t = JSON.parse(fs.readFileSync(path.join(out, 'timings.json'), 'utf8')).points;
    const work = t.reduce((s, p) => s + p.timing.seconds, 0);
    fs.rmSync(out, { recursive: true, force: true });
    return { wall, work, points: t.length };
  };
  const single = [], single1 = [], jobs2 = [], mpi = [], overhead = [];
  for (let r = 0; r < rounds; ++r) {
    const s = run(bin, ['sweep', spec]);
    single.push(s.wall);
    const s1 = run(bin, ['sweep', spec, '--threads', '1']);
    single1.push(s1.wall);
    overhead.push((s1.wall - s1.work) / s1.work);
    jobs2.push(run(bin, ['sweep', spec, '--jobs', '2', '--threads', '1']).wall);
    if (hasMpi) mpi.push(run('mpirun', ['-np', '2', '--oversubscribe', bin, 'sweep', spec]).wall);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const m = { single: median(single), single1: median(single1), jobs2: median(jobs2), overhead: median(overhead) };
  if (mpi.length) m.mpi = median(mpi);
  process.stderr.write(`sweep 21 points: single ${m.single.toFixed(2)} s, --threads 1 ${m.single1.toFixed(2)} s (overhead ${(100 * m.overhead).toFixed(1)}%), --jobs 2 ${m.jobs2.toFixed(2)} s${m.mpi ? `, mpirun -np 2 ${m.mpi.toFixed(2)} s` : ''}\n`);
  let md = `\n## Sweeps (goals: overhead per point < 5% of its work; 2-rank MPI < 0.6x one process)\n\n`;
  md += `21 points (shipped vgg, 128 Fashion-MNIST test images, 7 designs x 3 configurations, simulate + eval: one capture, 21 simulations), whole commands into fresh folders, median of ${rounds} interleaved rounds. Overhead: the wall time of \`--threads 1\` minus the points' own work (their capture and simulation, timed inside each point), over that work: process start, validation, locks, point folders and the merge.\n\n`;
  md += `| command | wall s | vs one process |\n|---|---|---|\n`;
  md += `| \`effectual sweep SPEC --out DIR\` (one process, default threads) | ${m.single.toFixed(2)} | 1.00 |\n`;
  md += `| \`effectual sweep SPEC --out DIR --threads 1\` | ${m.single1.toFixed(2)} | ${(m.single1 / m.single).toFixed(2)} |\n`;
  md += `| \`effectual sweep SPEC --out DIR --jobs 2 --threads 1\` | ${m.jobs2.toFixed(2)} | ${(m.jobs2 / m.single).toFixed(2)} |\n`;
  if (m.mpi) md += `| \`mpirun -np 2 --oversubscribe effectual sweep SPEC --out DIR\` | ${m.mpi.toFixed(2)} | ${(m.mpi / m.single).toFixed(2)} (${(m.mpi / m.single1).toFixed(2)} of --threads 1) |\n`;
  md += `\nSweep overhead: ${(100 * m.overhead).toFixed(1)}% of the points' work.\n`;
  return { markdown: md, ...m };
}

module.exports = { benchSweep };

if (require.main === module) {
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const k = Math.floor(s.length / 2); return s.length % 2 ? s[k] : 0.5 * (s[k - 1] + s[k]); };
  const r = benchSweep({ bin: process.argv[2] || 'build/effectual', median, rounds: Number(process.argv[3] || 3) });
  process.stdout.write(r.markdown);
}
