#!/usr/bin/env node
'use strict';
// ONNX Runtime (CPU) reference runner for effectual.
//
//   node run_ort.js MODEL.onnx INPUT.npy[,INPUT2.npy...] OUT_DIR
//       Runs the model on the given input(s) (matched to the model inputs in order; a
//       single input may also be given as NAME=FILE.npy) and writes every output as
//       OUT_DIR/<output name>.npy (C order, little-endian, npy v1.0).
//       Tensors of any type npy.js maps (float32/float16/float64, int8..int64, uint8, bool) go
//       both ways, so fp16 and quantized models need no conversion. ORT_THREADS sets the
//       intra-op threads (default 2), ORT_GRAPH_OPT the optimisation level (default 'all').
//
//   node run_ort.js --accuracy MODEL.onnx IMAGES.npy LABELS.npy [--batch N]
//       Prints top-1 accuracy over the whole set as JSON.
//
// Install the runtime first: (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)
const fs = require('fs');
const path = require('path');
const { readNpy, writeNpy } = require('./npy');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  process.stderr.write('run_ort: onnxruntime-node is not installed; run: (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)\n');
  process.exit(2);
}

function usage() {
  process.stderr.write('usage: node run_ort.js MODEL.onnx INPUT.npy[,INPUT2.npy...] OUT_DIR\n'
    + '       node run_ort.js --accuracy MODEL.onnx IMAGES.npy LABELS.npy [--batch N]\n');
  process.exit(2);
}

function sessionOptions() {
  return {
    executionProviders: ['cpu'],
    // ORT_GRAPH_OPT=disabled runs the graph as written (QDQ as float fake-quantization instead of
    // fused integer kernels), to see how far two valid executions of one model may differ.
    graphOptimizationLevel: process.env.ORT_GRAPH_OPT || 'all',
    executionMode: 'sequential',
    intraOpNumThreads: Number.parseInt(process.env.ORT_THREADS || '2', 10),
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
}

function safeName(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function runMode(modelPath, inputArg, outDir) {
  const session = await ort.InferenceSession.create(modelPath, sessionOptions());
  const specs = inputArg.split(',');
  const feeds = {};
  specs.forEach((spec, i) => {
    let name;
    let file = spec;
    const eq = spec.indexOf('=');
    if (eq > 0 && !fs.existsSync(spec)) {
      name = spec.slice(0, eq);
      file = spec.slice(eq + 1);
    } else {
      if (i >= session.inputNames.length) throw new Error(`more input files than model inputs (${session.inputNames.join(', ')})`);
      name = session.inputNames[i];
    }
    const arr = readNpy(file);
    feeds[name] = new ort.Tensor(arr.type, arr.data, arr.shape);
  });
  for (const n of session.inputNames) {
    if (!(n in feeds)) throw new Error(`no input given for model input '${n}'`);
  }
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  const summary = {};
  for (const name of session.outputNames) {
    const t = results[name];
    const file = path.join(outDir, `${safeName(name)}.npy`);
    writeNpy(file, t.type, t.data, t.dims);
    summary[name] = { file, type: t.type, shape: Array.from(t.dims) };
  }
  process.stdout.write(`${JSON.stringify({ model: modelPath, outputs: summary })}\n`);
}

async function accuracyMode(modelPath, imagesPath, labelsPath, batch) {
  const session = await ort.InferenceSession.create(modelPath, sessionOptions());
  const images = readNpy(imagesPath);
  const labels = readNpy(labelsPath);
  const n = images.shape[0];
  if (labels.data.length !== n) throw new Error(`labels (${labels.data.length}) do not match images (${n})`);
  const per = images.data.length / n;
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  let correct = 0;
  let bs = batch;
  for (let start = 0; start < n;) {
    const cnt = Math.min(bs, n - start);
    const slice = images.data.slice(start * per, (start + cnt) * per);
    let out;
    try {
      out = (await session.run({ [inName]: new ort.Tensor(images.type, slice, [cnt, ...images.shape.slice(1)]) }))[outName];
    } catch (e) {
      if (bs === 1) throw e;
      bs = 1; // model with a fixed batch dimension: fall back to one image at a time
      continue;
    }
    const classes = out.data.length / cnt;
    for (let i = 0; i < cnt; i += 1) {
      let best = 0;
      for (let c = 1; c < classes; c += 1) {
        if (out.data[i * classes + c] > out.data[i * classes + best]) best = c;
      }
      if (best === Number(labels.data[start + i])) correct += 1;
    }
    start += cnt;
  }
  process.stdout.write(`${JSON.stringify({ model: modelPath, n, correct, top1: correct / n })}\n`);
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--accuracy') {
    let batch = 250;
    const bi = args.indexOf('--batch');
    if (bi >= 0) {
      batch = Number.parseInt(args[bi + 1], 10);
      args.splice(bi, 2);
    }
    if (args.length !== 4 || !(batch > 0)) usage();
    await accuracyMode(args[1], args[2], args[3], batch);
  } else {
    if (args.length !== 3) usage();
    await runMode(args[0], args[1], args[2]);
  }
}

main().catch((e) => {
  process.stderr.write(`run_ort: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
