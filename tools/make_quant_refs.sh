#!/usr/bin/env bash
# ONNX Runtime's outputs of the models `effectual quantize` exports, for the quantize CLI tests
# (tests/cli/quantize_cli_tests.sh). For every case of tests/fixtures/quant_export/cases.txt:
#   <case>/model.sha256  the SHA-256 of the exported .onnx (the test re-exports and compares, so the
#                        references always belong to the model effectual writes today)
#   <case>/logits.npy    ONNX Runtime's output (tools/ort/run_ort.js) on models/<model>.ref/input.npy (<model>.ref/input.npy for a path)
# The exported models themselves are not kept. Re-run after any change to src/quant that changes
# the bytes written. Usage: tools/make_quant_refs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/${1:-build}/effectual"
dir="$root/tests/fixtures/quant_export"
[ -x "$bin" ] || { echo "make_quant_refs: $bin not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -v '^#' "$dir/cases.txt" | while read -r name model flags; do
  [ -n "$name" ] || continue
  # A model named with a slash is a path from the repository root (test fixtures), else models/NAME.
  case "$model" in */*) base="$root/$model" ;; *) base="$root/models/$model" ;; esac
  # shellcheck disable=SC2086
  "$bin" quantize "$base.onnx" $flags --calib-data fashion-mnist:train --calib-images 64 --threads 1 \
    --out "$tmp/$name.onnx" > /dev/null
  mkdir -p "$dir/$name"
  sha256sum < "$tmp/$name.onnx" | cut -d' ' -f1 > "$dir/$name/model.sha256"
  node "$root/tools/ort/run_ort.js" "$tmp/$name.onnx" "$base.ref/input.npy" "$tmp/$name.ort" > /dev/null
  cp "$tmp/$name.ort/logits.npy" "$dir/$name/logits.npy"
  echo "make_quant_refs: $name: $(cat "$dir/$name/model.sha256")"
done
