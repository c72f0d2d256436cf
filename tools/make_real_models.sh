#!/usr/bin/env bash
# Writes the full-size real models (MobileNetV2-224 and its dynamic-shape and QDQ variants,
# ResNet-18, EfficientNet-B0, PaddleOCR-sized DBNet detector and SVTR recognizer, a 4-level fp16
# U-Net) with their ONNX Runtime references into a build folder; they are too large to commit.
# tools/bench.js benchmarks them when present; the reduced variants in tests/fixtures/real are
# written by `/usr/bin/python3 tools/make_real_models.py` (default --set small).
# Usage: tools/make_real_models.sh [OUT_DIR (default build/real-models)] [NAME,...]
# Needs Debian's python3-torch/torchvision/onnx (/usr/bin/python3) and tools/ort/node_modules.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/real-models}
only=${2:-}
if [ ! -d "$root/tools/ort/node_modules/onnxruntime-node" ]; then
  echo "make_real_models: installing onnxruntime-node into tools/ort/node_modules"
  (cd "$root/tools/ort" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi
exec /usr/bin/python3 "$root/tools/make_real_models.py" --set large --out "$out" ${only:+--only "$only"}
