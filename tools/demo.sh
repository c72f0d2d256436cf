#!/usr/bin/env bash
# The main job on a shipped model: layers, a few shipped images, accuracy on a slice of the
# test set, a trace of one image. Usage: tools/demo.sh BIN MODEL
set -euo pipefail
bin=${1:-build/effectual}
model=${2:-models/lenet5.onnx}
out=${DEMO_OUT:-out/demo}
echo "== effectual info $model"
"$bin" info "$model"
echo
echo "== effectual run $model models/images/*.png"
"$bin" run "$model" models/images/*.png --top 3
echo
echo "== effectual eval $model --data fashion-mnist:test --limit 2000"
"$bin" eval "$model" --data fashion-mnist:test --limit 2000
echo
echo "== effectual trace $model --data fashion-mnist:test --images 1 --out $out/trace"
"$bin" trace "$model" --data fashion-mnist:test --images 1 --out "$out/trace" --format both
ls "$out/trace"
