#!/usr/bin/env bash
# Every numeric option of every command, given the values that break programs: zero, negatives,
# the edges of 32- and 64-bit integers, huge counts, NaN, infinity, empty and non-numbers. Each run
# must end by itself (under a minute) with exit 0 or one of effectual's error codes (2-9) and, when
# it fails, say so in one stderr line: never a signal (crash), a hang or a runaway allocation
# (ulimit -v). The value list is fixed, so a failure reproduces.
# Usage: numeric_options_fuzz.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
model=$src/models/lenet5.onnx
in=$src/models/lenet5.ref/input.npy
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

values=(0 -1 1 3 2147483647 2147483648 -2147483649 9223372036854775807 9223372036854775808 100000000 1e308 1e-320
        nan inf -inf "" abc 0x10 "1,2" " 7")

try() {  # try VALUE ARGS... : one run, judged
  local v=$1
  shift
  local args=()
  for a in "$@"; do args+=("${a//@V@/$v}"); done
  (ulimit -v 8000000; timeout 60 "$bin" "${args[@]}") > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$? lines
  lines=$(wc -l < "$tmp/err")
  if [ "$rc" -eq 124 ]; then
    ko "effectual ${args[*]}: did not finish in 60 s"
  elif [ "$rc" -ge 128 ] || { [ "$rc" -ne 0 ] && { [ "$rc" -lt 2 ] || [ "$rc" -gt 9 ]; }; }; then
    ko "effectual ${args[*]}: exit $rc: $(head -c 300 "$tmp/err")"
  elif [ "$rc" -ne 0 ] && [ "$lines" -ne 1 ] && ! grep -q -i "run with --help" "$tmp/err"; then
    ko "effectual ${args[*]}: exit $rc with $lines stderr lines: $(head -c 300 "$tmp/err")"
  else
    ok
  fi
}

cases=(
  "run $model $in --threads @V@"
  "run $model $in --top @V@"
  "run $model --input $in --limit @V@"
  "run $model --input $in --first @V@"
  "bench $model --repeat @V@ --warmup 0 --max-seconds 3"
  "bench $model --repeat 2 --warmup @V@ --max-seconds 3"
  "bench $model --repeat 2 --batch @V@"
  "eval $model --input $in --labels $src/models/lenet5.ref/labels.npy --batch @V@"
  "eval $model --input $in --labels $src/models/lenet5.ref/labels.npy --limit @V@"
  "trace $model --input $in --images @V@ --out $tmp/trace"
  "trace $model --input $in --batch @V@ --out $tmp/trace"
  "profile $model --input $in --images @V@"
  "profile $model --input $in --batch @V@ --images 2"
  "profile $model --input $in --images 2 --relative-near-zero @V@"
  "profile $model --input $in --images 2 --near-zero @V@"
  "profile $model --input $in --images 2 --psum-samples @V@"
  "profile $model --input $in --images 2 --bits @V@"
  "simulate $model --input $in --images @V@ --designs stripes"
  "simulate $model --input $in --first @V@ --designs stripes"
  "simulate --synthetic --network vgg16-conv --images 1 --zero-fraction @V@ --designs cnvlutin"
  "simulate --synthetic --network vgg16-conv --images 1 --act-bits @V@ --designs stripes"
  "simulate --synthetic --network vgg16-conv --images 1 --seed @V@ --designs stripes"
  "simulate --synthetic --network vgg16-conv --images @V@ --designs stripes"
  "info $model --input-shape 1,1,@V@,28"
  "sweep $tmp/one_point.yaml --out $tmp/sweep --threads @V@"
  "sweep $tmp/one_point.yaml --out $tmp/sweep --jobs @V@"
  "sweep $tmp/one_point.yaml --out $tmp/sweep --shard @V@/2"
)
printf 'axes: {model: [%s], data: [fashion-mnist:test], design: [stripes]}\n' "$model" > "$tmp/one_point.yaml"
for c in "${cases[@]}"; do
  for v in "${values[@]}"; do
    # shellcheck disable=SC2086
    try "$v" $c
  done
done
finish "numeric options fuzz"
