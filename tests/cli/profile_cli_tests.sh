#!/usr/bin/env bash
# `effectual profile` as users meet it: --out writes every file (JSON that parses, CSVs, the HTML
# report, a lossless precision profile that eval accepts), --json prints one parsable document,
# and bad flags or files answer with one stderr line and the documented exit code.
# Usage: profile_cli_tests.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
model=$src/models/lenet5.onnx
py=/usr/bin/python3
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

have_data=1
if [ ! -e /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] && [ -z "${EFFECTUAL_FASHION_MNIST_DIR:-}" ]; then
  have_data=0
  echo "note: dataset-fashion-mnist is not installed; --data cases skipped"
fi

# --input with the model's stored reference inputs works without the data set.
input=$src/models/lenet5.ref/input.npy
if "$bin" profile "$model" --input "$input" --images 4 --out "$tmp/o1" > "$tmp/out" 2> "$tmp/err"; then ok; else ko "profile --input --out failed: $(head -c 300 "$tmp/err")"; fi
for f in profile.json values.csv precision.csv dynamic_precision.csv effectual_bits.csv compute.csv correlations.csv \
         precision_profile.json report.html; do
  if [ -s "$tmp/o1/$f" ]; then ok; else ko "--out did not write $f"; fi
done
if "$py" -c 'import json,sys; d=json.load(sys.stdin); assert d["format"]=="effectual-profile" and d["version"]==1' \
     < "$tmp/o1/profile.json"; then ok; else ko "profile.json does not parse or lacks format/version"; fi
if grep -q "<svg" "$tmp/o1/report.html" && ! grep -q -E "(src|href)=\"https?:" "$tmp/o1/report.html"; then
  ok
else
  ko "report.html has no SVG chart or references the network"
fi
if ls "$tmp/o1" | grep -q "\.tmp"; then ko "--out left temporary files: $(ls "$tmp/o1")"; else ok; fi
# The summary names the network totals.
if grep -q "^network (4 images, 5 layers" "$tmp/out"; then ok; else ko "summary lacks the network line: $(head -c 400 "$tmp/out")"; fi

# A quantized model (QDQ and QLinear layers): operands profiled as integer codes in their own
# integer formats (docs/quantization.md).
for q in qdq_cnn qlinear_ops; do
  qm=$src/tests/fixtures/models/quant/$q
  if "$bin" profile "$qm.onnx" --input "$qm.input.npy" --images 1 --json 2> "$tmp/err" |
       "$py" -c 'import json,sys; d=json.load(sys.stdin); a=[l["activations"]["fixed16"] for l in d["layers"]]; w=[l["weights"]["fixed16"] for l in d["layers"]]; assert len(a) == 3 and all(f["source"] == "quantized-model" and f["frac_bits"] == 0 and f["int_bits"] in (8, 9) for f in a + w), a + w'; then
    ok
  else
    ko "profile of $q does not report integer codes: $(head -c 300 "$tmp/err")"
  fi
done

# --json: one document on stdout with the top-level totals.
if "$bin" profile "$model" --input "$input" --images 2 --json --skip correlations 2> "$tmp/err" |
     "$py" -c 'import json,sys; d=json.load(sys.stdin); assert 0 <= d["activation_zero_fraction_per_mac"] <= 1; assert d["layers"][0]["partial_sums"] is None'; then
  ok
else
  ko "profile --json does not parse: $(head -c 300 "$tmp/err")"
fi

# The lossless precision profile is accepted by eval's --precision-profile and re-profiling with
# it reports the formats as coming from the profile.
if "$bin" profile "$model" --input "$input" --images 2 --json --precision-profile "$tmp/o1/precision_profile.json" \
     --relative-near-zero none 2> "$tmp/err" |
     "$py" -c 'import json,sys; d=json.load(sys.stdin); assert all(l["activations"]["fixed16"]["source"]=="precision-profile" for l in d["layers"])'; then
  ok
else
  ko "re-profiling with the lossless precision profile failed: $(head -c 300 "$tmp/err")"
fi

if [ "$have_data" = 1 ]; then
  if "$bin" profile "$model" --data fashion-mnist:test --images 8 --first 100 --group 8x4 --group 16x1 \
       --machine npu=1e12,1e10 --near-zero 0.01,0.1 --html "$tmp/r.html" --json > "$tmp/j" 2> "$tmp/err" &&
     "$py" -c 'import json,sys; d=json.load(sys.stdin); assert d["images"]==8; assert [g["channels"] for g in d["options"]["groups"]]==[8,16]; assert [m["name"] for m in d["options"]["machines"]]==["cpu","dadiannao","npu"]' < "$tmp/j" &&
     [ -s "$tmp/r.html" ]; then
    ok
  else
    ko "profile --data with options failed: $(head -c 300 "$tmp/err")"
  fi
fi

# Bad input: one line, typed exit code.
expect_error 2 "--group" -- profile "$model" --input "$input" --group 16by1
expect_error 2 "--group 0x1" -- profile "$model" --input "$input" --group 0x1
expect_error 2 "--machine" -- profile "$model" --input "$input" --machine npu=fast,1
expect_error 2 "--near-zero" -- profile "$model" --input "$input" --near-zero 0.1,x
expect_error 2 "--relative-near-zero" -- profile "$model" --input "$input" --relative-near-zero 2
expect_error 2 "--skip" -- profile "$model" --input "$input" --skip everything
expect_error 2 "--first" -- profile "$model" --input "$input" --first 1000
expect_error 6 "nope.npy" -- profile "$model" --input "$tmp/nope.npy"
expect_error 2 "" -- profile "$model"

# A dynamically quantized model (run-time zero points, docs/quantization.md) is profiled on integer
# codes, one image per inference: the profile does not depend on --batch.
dynq=$src/tests/fixtures/real/mobilenetv2_dynq_small
expect_ok profile "$dynq.onnx" --input "$dynq.ref/inputs/input.npy" --images 2 --batch 2 --threads 1 --json
cp "$tmp/out" "$tmp/dynq_b2"
expect_ok profile "$dynq.onnx" --input "$dynq.ref/inputs/input.npy" --images 2 --batch 1 --threads 1 --json
if $py - "$tmp/dynq_b2" "$tmp/out" << 'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for j in (a, b):
    j.pop("run", None)
    j.pop("options", None)
q = [l for l in a["layers"] if l["activations"]["fixed16"]["source"] == "quantized-model"]
sys.exit(0 if a == b and len(q) == 28 else 1)
PY
then ok; else ko "dynamically quantized profile depends on --batch or lacks its 28 quantized layers"; fi

finish "profile CLI tests"
