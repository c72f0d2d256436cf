#!/usr/bin/env bash
# The command line as users meet it: each command on a shipped model, and bad input answered by
# exactly one line on stderr naming the file/node/field, with the documented non-zero exit code.
# Usage: run_cli_tests.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
bad=$src/tests/fixtures/bad
model=$src/models/lenet5.onnx
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# --- bad input ---------------------------------------------------------------------------------
expect_error 3 "no/such/model.onnx" -- info no/such/model.onnx
expect_error 3 "garbage.onnx" -- info "$bad/garbage.onnx"
head -c 300 "$model" > "$tmp/truncated.onnx"
expect_error 3 "truncated.onnx" -- info "$tmp/truncated.onnx"
expect_error 4 "unsupported_op.onnx: node 'mvn1' \(MeanVarianceNormalization\)" -- info "$bad/unsupported_op.onnx"
expect_error 3 "short_initializer.onnx.*'w'" -- info "$bad/short_initializer.onnx"
expect_error 3 "huge_initializer.onnx.*'w'" -- info "$bad/huge_initializer.onnx"
expect_error 3 "quant_scale_length.onnx: node 'dequant_w' \(DequantizeLinear\): input scale has 3 values" -- info "$bad/quant_scale_length.onnx"
expect_error 3 "quant_axis.onnx: node 'dequant_w' \(DequantizeLinear\): axis 4 is out of range" -- info "$bad/quant_axis.onnx"
expect_error 3 "quant_zero_point_type.onnx: node 'dequant_w' \(DequantizeLinear\): zero point has type uint8" -- info "$bad/quant_zero_point_type.onnx"
expect_error 5 "expects shape" -- run "$model" "$bad/wrong_shape.npy"
expect_error 6 "huge.npy" -- run "$model" "$bad/huge.npy"
expect_error 6 "missing.npy" -- run "$model" "$tmp/missing.npy"
expect_error 7 "bad_profile.json: layers.no_such_layer" -- eval "$model" --data fashion-mnist:test --limit 10 --precision-profile "$bad/bad_profile.json"
expect_error 7 "bad_thresholds.json" -- eval "$model" --data fashion-mnist:test --limit 10 --thresholds "$bad/bad_thresholds.json"
EFFECTUAL_FASHION_MNIST_DIR=$tmp/nowhere expect_error 6 "nowhere" -- eval "$model" --data fashion-mnist:test --limit 10
expect_error 2 "format" -- trace "$model" --data fashion-mnist:test --out "$tmp/t" --format nope

# --- commands on a shipped model ---------------------------------------------------------------
expect_ok info "$model" --json
if grep -q '"macs"' "$tmp/out" && grep -q '"Nf"' "$tmp/out"; then ok; else ko "info --json lacks layer geometry"; fi
expect_ok run "$model" "$src"/models/images/*.png --json
if grep -q '"top"' "$tmp/out"; then ok; else ko "run --json lacks top classes"; fi
expect_ok run "$model" "$src/models/lenet5.ref/input.npy" --out "$tmp/run"
if [ -f "$tmp/run/logits.npy" ]; then ok; else ko "run --out did not write logits.npy"; fi
# A float16 model: --out keeps the declared float16 ('<f2'); a float32 input gets one note.
fp16=$src/tests/fixtures/models/quant/fp16_cnn
expect_ok run "$fp16.onnx" --input "$fp16.input.npy" --out "$tmp/run16"
if head -c 128 "$tmp/run16/mask.npy" | grep -q "'<f2'"; then ok; else ko "run --out of a float16 output is not <f2"; fi
expect_ok run "$src/tests/fixtures/models/quant/qdq_cnn.onnx" --input "$src/tests/fixtures/models/quant/qdq_cnn.input.npy"
expect_ok run "$model" --data fashion-mnist:test --first 5 --limit 3 --json
if grep -q '"index": 7' "$tmp/out" && grep -q '"label"' "$tmp/out" && ! grep -q '"index": 8' "$tmp/out"; then
  ok
else
  ko "run --data --first 5 --limit 3 did not report items 5..7 with labels"
fi
expect_error 2 "nothing to run" -- run "$model"
expect_error 2 "either --data or --input" -- run "$model" --data fashion-mnist:test --input "$src/models/lenet5.ref/input.npy"
expect_ok bench "$model" --data fashion-mnist:test --batch 4 --repeat 2 --json
if grep -q '"batch": 4' "$tmp/out"; then ok; else ko "bench --data --batch 4 did not bench a batch of 4"; fi
expect_ok bench "$model" --repeat 3 --json
if grep -q '"median"' "$tmp/out" && grep -q '"throughput_per_s"' "$tmp/out"; then ok; else ko "bench --json schema"; fi
# --runs-out: one CSV line per timed run, in the columns documented; its median and slowest run are
# the ones the JSON reports (recomputed here from the file), and p99.9 of 7 runs is the slowest.
expect_ok bench "$model" --repeat 7 --warmup 1 --json --runs-out "$tmp/runs.csv"
if [ "$(head -1 "$tmp/runs.csv")" = "run,ms,threads,minflt,majflt,nvcsw,nivcsw,pool_allocations,start_ms" ] &&
  [ "$(tail -n +2 "$tmp/runs.csv" | awk -F, 'NF == 9 && $2 > 0 && $3 >= 1 && $9 > 0' | wc -l)" -eq 7 ] &&
  [ "$(tail -n +2 "$tmp/runs.csv" | cut -d, -f1 | tr '\n' ' ')" = "0 1 2 3 4 5 6 " ]; then
  ok
else
  ko "bench --runs-out wrote $(cat "$tmp/runs.csv")"
fi
csv_median=$(tail -n +2 "$tmp/runs.csv" | cut -d, -f2 | sort -g | sed -n 4p)
csv_max=$(tail -n +2 "$tmp/runs.csv" | cut -d, -f2 | sort -g | tail -1)
json_of() { grep "\"$1\":" "$tmp/out" | head -1 | sed 's/.*: *//; s/,$//'; }
if awk -v a="$csv_median" -v b="$(json_of median)" -v c="$csv_max" -v d="$(json_of max)" -v e="$(json_of p999)" \
  'BEGIN { exit !((a - b) ^ 2 < 1e-10 && (c - d) ^ 2 < 1e-10 && (c - e) ^ 2 < 1e-10) }' &&
  grep -q '"runs_over_20x_median"' "$tmp/out"; then
  ok
else
  ko "bench --runs-out median $csv_median / max $csv_max disagree with the JSON: $(cat "$tmp/out")"
fi
if ls "$tmp" | grep -q 'runs.csv.tmp'; then ko "bench --runs-out left a temporary file"; else ok; fi
expect_error 6 "/nonexistent-dir/r.csv" -- bench "$model" --repeat 1 --runs-out /nonexistent-dir/r.csv
# OpenMP threads spin ~0.3 ms, not libgomp's ~4.5 ms, at a barrier before sleeping (a team stall costs
# that per region: src/cli/openmp_defaults.cpp) when the user set neither variable nor --threads N;
# the user's choice wins.
want_default=20000
[ "$(nproc)" -lt 2 ] && want_default=null
for case in "-|$want_default|0" "GOMP_SPINCOUNT=77|\"77\"|0" "OMP_WAIT_POLICY=passive|null|0" "-|null|2"; do
  setting=${case%%|*} rest=${case#*|}
  want=${rest%%|*} threads=${rest#*|}
  [ "$want" = 20000 ] && want='"20000"'
  env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY ${setting#-} "$bin" bench "$model" --repeat 1 --json --threads "$threads" \
    > "$tmp/out" 2> "$tmp/err"
  if grep -q "\"gomp_spincount\": $want" "$tmp/out"; then ok; else ko "bench with '$setting': $(grep gomp "$tmp/out")"; fi
done
# The restarted command keeps its name in ps/top (the kernel's comm), not "exe" of /proc/self/exe.
if [ "$want_default" = 20000 ]; then
  env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY "$bin" bench "$model" --repeat 1000000 --max-seconds 5 > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 50); do tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -q '^GOMP_SPINCOUNT=' && break; sleep 0.1; done
  comm=$(cat /proc/$pid/comm 2>/dev/null)
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  if [ "$comm" = "$(basename "$bin" | cut -c1-15)" ]; then ok; else ko "restarted bench is named '$comm'"; fi
fi
# An invalid OMP_NUM_THREADS: libgomp's warning once, not again from the restarted command.
env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY OMP_NUM_THREADS=abc "$bin" info "$model" > /dev/null 2> "$tmp/err"
n=$(grep -c 'Invalid value for environment variable OMP_NUM_THREADS' "$tmp/err")
if [ "$n" = 1 ]; then ok; else ko "OMP_NUM_THREADS=abc warned $n times"; fi
expect_ok eval "$model" --data fashion-mnist:test --limit 200 --json
if grep -q '"top1"' "$tmp/out"; then ok; else ko "eval --json lacks top1"; fi
expect_ok eval "$model" --input "$src/models/lenet5.ref/input.npy" --labels "$src/models/lenet5.ref/labels.npy"
expect_ok trace "$model" --data fashion-mnist:test --images 2 --out "$tmp/trace" --format both
if [ -f "$tmp/trace/manifest.json" ] && [ -f "$tmp/trace/model.csv" ] && ls "$tmp"/trace/layers/000_*/input.npy > /dev/null 2>&1; then
  ok
else
  ko "trace did not write manifest.json, model.csv and layer files"
fi
if ls "$tmp"/trace | grep -q '\.tmp\.'; then ko "trace left temporary files"; else ok; fi
# Every command answers --help.
for c in info run bench eval trace; do expect_ok "$c" --help; done

finish cli
