#!/usr/bin/env bash
# The main job on a shipped model, in under a minute: where the ineffectual work is (value
# profile), the per-layer precisions that keep accuracy (search, checked on a disjoint subset),
# what each value-based accelerator gains with them (simulation), and one HTML report of it all.
# Usage: tools/demo.sh BIN MODEL
set -euo pipefail
bin=${1:-build/effectual}
model=${2:-models/lenet5.onnx}
out=${DEMO_OUT:-out/demo}
mkdir -p "$out"
step() {
  echo
  echo "== effectual $*"
}
step info "$model"
"$bin" info "$model"

step run "$model" models/images/0000_ankle_boot.png models/images/0002_trouser.png
"$bin" run "$model" models/images/0000_ankle_boot.png models/images/0002_trouser.png --top 2

step profile "$model" --data fashion-mnist:test --images 256 --out "$out/profile"
"$bin" profile "$model" --data fashion-mnist:test --images 256 --out "$out/profile"

step search precision "$model" --data fashion-mnist:test --search-images 1000 --report-images 1000 --metric top1-agreement --keep 98% --out "$out/search"
"$bin" search precision "$model" --data fashion-mnist:test --search-images 1000 --report-images 1000 \
  --metric top1-agreement --keep 98% --sim-images 0 --out "$out/search"

step simulate "$model" --data fashion-mnist:test --first 5000 --images 16 --designs all --precision-profile "$out/search/precision_profile.json"
"$bin" simulate "$model" --data fashion-mnist:test --first 5000 --images 16 --designs all \
  --precision-profile "$out/search/precision_profile.json" --out "$out/simulate"

step report --profile "$out/profile/profile.json" --simulation "$out/simulate/results.json" --out "$out/report.html"
"$bin" report --profile "$out/profile/profile.json" --simulation "$out/simulate/results.json" --out "$out/report.html"
echo
echo "open $out/report.html: zeros and precision per layer, the found precisions, every design's speedup"
