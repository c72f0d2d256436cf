#!/usr/bin/env bash
# make bench: installs the ONNX Runtime peer (npm onnxruntime-node) and writes the real models if
# missing, then runs tools/bench.js, which writes bench/RESULTS.md.
set -euo pipefail
build=${1:-build}
if [ ! -d tools/ort/node_modules/onnxruntime-node ]; then
  echo "bench: installing onnxruntime-node (npm) into tools/ort"
  (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
# The real-model section needs the full-size models (too large to commit); write them once.
if [ ! -f "$build/real-models/mobilenetv2.onnx" ]; then
  echo "bench: writing the full-size real models into $build/real-models (tools/make_real_models.sh)"
  tools/make_real_models.sh "$build/real-models" || echo "bench: some real models were not written; their rows are skipped" >&2
fi
exec node tools/bench.js --bin "$build/effectual" --out bench/RESULTS.md "${@:2}"
