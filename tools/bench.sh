#!/usr/bin/env bash
# make bench: installs the ONNX Runtime peer (npm onnxruntime-node) if missing, then runs
# tools/bench.js, which writes bench/RESULTS.md.
set -euo pipefail
build=${1:-build}
if [ ! -d tools/ort/node_modules/onnxruntime-node ]; then
  echo "bench: installing onnxruntime-node (npm) into tools/ort"
  (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
exec node tools/bench.js --bin "$build/effectual" --out bench/RESULTS.md "${@:2}"
