// `make bench` section "sweep" (docs/sweep.md): the sweep's own overhead per point, and a 2-rank
// MPI sweep against one process on the same 28 points (~25 s of work in one process: long enough
// that mpirun's start, about a second, is not what is measured). Whole commands timed from outside,
// each run into a fresh folder (its captures included), interleaved round by round; medians.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function benchSweep({ bin, median, rounds }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'effectual-bench-sweep-'));
  const spec = path.join(dir, 'sweep.yaml');
  // 7 designs on 4 ranges of 256 images of the shipped VGG: 4 captures (~2.5 s each here), 28
  // simulations (0.2-1 s each); what a study of designs over data does, in miniature.
  const ranges = [0, 256, 512, 768].map((f) => `{set: "fashion-mnist:test", first: ${f}, images: 256}`);
  fs.writeFileSync(spec, [
    'name: bench', 'compute: [simulate, eval]', 'axes:', '  model: [models/vgg.onnx]',
    `  data: [${ranges.join(', ')}]`,
    '  design: [dadiannao, cnvlutin, stripes, dstripes, tartan, loom, pragmatic]', ''].join('\n'));
  const plugin = path.join(path.dirname(bin), 'libeffectual_mpi.so');
  let hasMpi = fs.existsSync(plugin);
  try { execFileSync('mpirun', ['--version'], { stdio: 'ignore' }); } catch (e) { hasMpi = false; }
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', EFFECTUAL_NO_PROGRESS: '1' };
  let n = 0;
  const run = (cmd, argv, keep) => {
    const out = path.join(dir, `run${n++}`);
    const t0 = process.hrtime.bigint();
    execFileSync(cmd, [...argv, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'], env });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const t = JSON.parse(fs.readFileSync(path.join(out, 'timings.json'), 'utf8')).points;
    const work = t.reduce((s, p) => s + p.timing.seconds, 0);
    const byProcess = {};  // each rank's (process's) own work: the balance, and the slowdown from sharing cores
    for (const p of t) byProcess[p.timing.process] = (byProcess[p.timing.process] || 0) + p.timing.seconds;
    if (keep) {
      // MPI's fixed cost: the same command again with every point done (--resume): mpirun, MPI_Init
      // on both ranks, the lock, the merge.
      const t1 = process.hrtime.bigint();
      execFileSync(cmd, [...argv, '--out', out, '--resume'], { stdio: ['ignore', 'ignore', 'inherit'], env });
      keep.startup = Number(process.hrtime.bigint() - t1) / 1e9;
    }
    fs.rmSync(out, { recursive: true, force: true });
    return { wall, work, points: t.length, ranks: Object.values(byProcess) };
  };
  // Rows: the default (one point per core, one thread each), one point at a time with one thread
  // (what each MPI rank does) and with every core (OpenMP teams inside a point), and 2 MPI ranks.
  const rows = [
    { name: '`effectual sweep SPEC --out DIR` (default: --jobs <cores> --threads 1)', argv: [] },
    { name: '`effectual sweep SPEC --out DIR --jobs 1 --threads 1`', argv: ['--jobs', '1', '--threads', '1'], overhead: true },
    { name: '`effectual sweep SPEC --out DIR --jobs 1 --threads 0` (every core inside each point)', argv: ['--jobs', '1', '--threads', '0'] },
  ];
  if (hasMpi) rows.push({ name: '`mpirun -np 2 --oversubscribe effectual sweep SPEC --out DIR`', mpi: true });
  for (const r of rows) r.walls = [];
  const overhead = [], startup = [], rankWork = [], oneWork = [];
  for (let k = 0; k < rounds; ++k) {
    for (const r of rows) {
      const keep = {};
      const t = r.mpi ? run('mpirun', ['-np', '2', '--oversubscribe', bin, 'sweep', spec], keep) : run(bin, ['sweep', spec, ...r.argv]);
      r.walls.push(t.wall);
      if (r.overhead) {
        overhead.push((t.wall - t.work) / t.work);
        oneWork.push(t.work);
      }
      if (r.mpi) {
        startup.push(keep.startup);
        rankWork.push(Math.max(...t.ranks));
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  for (const r of rows) r.wall = median(r.walls);
  const m = { overhead: median(overhead), rows: rows.map((r) => ({ name: r.name, wall: r.wall })) };
  const one = rows[1].wall;
  process.stderr.write(`sweep 28 points: ${rows.map((r) => `${r.wall.toFixed(2)} s`).join(', ')}; overhead ${(100 * m.overhead).toFixed(1)}%\n`);
  let md = `\n## Sweeps (goals: overhead per point < 5% of its work; 2-rank MPI < 0.6x one process)\n\n`;
  md += `28 points (shipped vgg, 7 designs on 4 ranges of 256 Fashion-MNIST test images, simulate + eval: 4 captures, 28 simulations; the ranks or jobs start on different captures), whole commands into fresh folders, median of ${rounds} interleaved rounds. Overhead: the wall time of \`--jobs 1 --threads 1\` minus the points' own work (capture and simulation, timed inside each point), over that work: process start, validation, locks, point folders and the merge.\n\n`;
  md += `| command | wall s | vs --jobs 1 --threads 1 |\n|---|---|---|\n`;
  for (const r of rows) md += `| ${r.name} | ${r.wall.toFixed(2)} | ${(r.wall / one).toFixed(2)} |\n`;
  md += `\nSweep overhead: ${(100 * m.overhead).toFixed(1)}% of the points' work.\n`;
  if (startup.length) {
    m.mpi_startup = median(startup);
    m.mpi_rank_work = median(rankWork);
    m.one_work = median(oneWork);
    md += `MPI: start-up and merge with nothing to compute (\`mpirun -np 2 ... --resume\` on the finished folder) ${m.mpi_startup.toFixed(2)} s; the busier rank's own work ${m.mpi_rank_work.toFixed(2)} s against ${m.one_work.toFixed(2)} s of work in one process (${(m.mpi_rank_work / m.one_work).toFixed(2)}: 0.5 when each rank has a core of its own, up to 1 when the ranks share one).\n`;
  }
  return { markdown: md, ...m };
}

module.exports = { benchSweep };

if (require.main === module) {
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const k = Math.floor(s.length / 2); return s.length % 2 ? s[k] : 0.5 * (s[k - 1] + s[k]); };
  const r = benchSweep({ bin: process.argv[2] || 'build/effectual', median, rounds: Number(process.argv[3] || 3) });
  process.stdout.write(r.markdown);
}
