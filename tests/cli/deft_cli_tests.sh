#!/usr/bin/env bash
# --deft (docs/deft.md): the shipped vgg on packed-weight kernels keeps its accuracy, synapse vector
# elimination runs on calibration data from another split, bad choices are one line and exit 2.
set -u
bin=$1
root=$2
. "$(dirname "$0")/lib.sh"
cd "$root"
model=models/vgg.onnx

top1_at_least() {  # MIN: the last eval's --json top1
  if awk -v min="$1" 'match($0, /"top1":[0-9.e-]+/) { v = substr($0, RSTART + 7, RLENGTH - 7); exit !(v + 0 >= min) } END { }' "$tmp/out"; then
    ok
  else
    ko "top1 below $1: $(head -c 300 "$tmp/out")"
  fi
}

for f in fp32 deft16 deft16q fp8 bf16dot; do
  expect_ok eval $model --data fashion-mnist:test --limit 200 --threads 1 --json --deft $f
  top1_at_least 0.9
done
expect_ok eval $model --data fashion-mnist:test --limit 200 --threads 1 --json \
  --deft deft16,alpha=0.95,compensation=fold --deft-calibration fashion-mnist:train --deft-images 32
top1_at_least 0.9
expect_ok run $model --data fashion-mnist:test --limit 1 -v --deft fp8
grep -q 'DeftLayer *deft:fp8' "$tmp/err" && ok || ko "run -v does not show DeftLayer nodes: $(head -c 300 "$tmp/err")"

expect_error 2 "unknown format 'fp16'" -- eval $model --data fashion-mnist:test --deft fp16
expect_error 2 "needs --deft-calibration" -- eval $model --data fashion-mnist:test --deft fp8,alpha=0.9
expect_error 2 "alpha must be a number" -- eval $model --data fashion-mnist:test --deft fp8,alpha=abc
expect_error 2 "unknown key 'beta'" -- eval $model --data fashion-mnist:test --deft fp8,beta=1
expect_error 2 "profile observes" -- profile $model --data fashion-mnist:test --images 1 --deft fp8
expect_error 2 "trace records" -- trace $model --data fashion-mnist:test --images 1 --out "$tmp/t" --deft fp8

finish deft_cli
