// Python section of `make bench` (issue 14: Python calls within 5% of the CLI's time on the same
// work). Per job, rounds interleave the CLI command and tools/bench_python.py doing the same work
// through `import effectual`, both timed as whole processes from outside (interpreter start, import,
// model loading included); the Python process also reports its own import/load/call split.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const jobs = [
  { command: 'eval', model: 'models/resnet.onnx', images: 1000, cli: ['--limit'] },
  { command: 'profile', model: 'models/vgg.onnx', images: 256, cli: ['--images'] },
  { command: 'simulate', model: 'models/lenet5.onnx', images: 100, cli: ['--images'] },
];

function benchPython({ bin, median, rounds, only, threads = 0 }) {
  const build = path.dirname(bin);
  const script = path.join(__dirname, 'bench_python.py');
  if (!fs.readdirSync(path.join(build, 'python'), { withFileTypes: true }).some((f) => f.name.startsWith('effectual'))) {
    process.stderr.write(`bench: skipping the python section (no module in ${build}/python)\n`);
    return null;
  }
  const rows = [];
  for (const job of jobs.filter((j) => !only || only.split(',').includes(j.command))) {
    const cli = [], py = [], call = [], imp = [];
    const cliArgs = [job.command, job.model, '--data', 'fashion-mnist:test', job.cli[0], String(job.images), '--threads', String(threads), '--json'];
    for (let r = 0; r < rounds; ++r) {
      let t0 = process.hrtime.bigint();
      execFileSync(bin, cliArgs, { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 28 });
      cli.push(Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      const out = execFileSync('/usr/bin/python3', [script, build, job.command, job.model, String(job.images), String(threads)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      py.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const inside = JSON.parse(out);
      call.push(inside.in_process_ms);
      imp.push(inside.import_ms);
    }
    const row = { ...job, rounds, cli_ms: median(cli), py_ms: median(py), py_in_ms: median(call), import_ms: median(imp) };
    row.ratio = row.py_ms / row.cli_ms;
    row.in_ratio = row.py_in_ms / row.cli_ms;
    rows.push(row);
    process.stderr.write(`python ${job.command} ${job.model} ${job.images}: CLI ${row.cli_ms.toFixed(0)} ms, python ${row.py_ms.toFixed(0)} ms (x${row.ratio.toFixed(3)}; in process x${row.in_ratio.toFixed(3)}, import ${row.import_ms.toFixed(0)} ms)\n`);
  }
  let markdown = `\n## Python module against the CLI (goal: the same work within 5% of the CLI's time)\n\n`;
  markdown += `Each job: \`effectual COMMAND MODEL --data fashion-mnist:test ...\` against tools/bench_python.py doing the same through \`import effectual\` (load, then the call), both whole processes timed from outside, ${threads ? `${threads} thread(s)` : 'default threads'}, median of interleaved rounds; "in process" is the Python process's own time from its first line (import, load, call), against the CLI's whole process; the difference between the two ratios is the interpreter's start (\`python3 -c pass\`), which a script pays once. "import" is \`import effectual\`: loading the shared libraries the CLI loads too (oneDNN, ONNX, protobuf); numpy is imported only when an array is passed or returned.\n\n`;
  markdown += `| command | model | images | CLI ms | python ms | python/CLI | in process ms | in process/CLI | import ms |\n|---|---|---|---|---|---|---|---|---|\n`;
  for (const r of rows) {
    markdown += `| ${r.command} | ${path.basename(r.model, '.onnx')} | ${r.images} | ${r.cli_ms.toFixed(0)} | ${r.py_ms.toFixed(0)} | ${r.ratio.toFixed(3)} | ${r.py_in_ms.toFixed(0)} | ${r.in_ratio.toFixed(3)} | ${r.import_ms.toFixed(0)} |\n`;
  }
  return { rows, markdown };
}

module.exports = { benchPython };
