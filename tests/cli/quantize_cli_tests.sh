#!/usr/bin/env bash
# effectual quantize (docs/quantize.md): the exported models are the ones ONNX Runtime ran
# (tests/fixtures/quant_export, tools/make_quant_refs.sh) and effectual runs them to ORT's outputs
# (top-1 identical, within one quantization step of the last layer's input); profile sees their
# integer codes; the table runs; bad input is one line and a non-zero exit.
bin=$1
root=$2
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
refs="$root/tests/fixtures/quant_export"
calib=(--calib-data fashion-mnist:train --calib-images 64 --threads 1)

while read -r name model flags; do
  case "$name" in '' | '#'*) continue ;; esac
  case "$model" in */*) base="$root/$model" ;; *) base="$root/models/$model" ;; esac
  # shellcheck disable=SC2086
  expect_ok quantize "$base.onnx" $flags "${calib[@]}" --out "$tmp/$name.onnx" --json
  cp "$tmp/out" "$tmp/$name.report.json"
  got=$(sha256sum < "$tmp/$name.onnx" | cut -d' ' -f1)
  if [ "$got" = "$(cat "$refs/$name/model.sha256")" ]; then ok; else
    ko "$name: the exported model differs from the one ONNX Runtime ran (sha256 $got); re-run tools/make_quant_refs.sh"
  fi
  expect_ok run "$tmp/$name.onnx" --input "$base.ref/input.npy" --out "$tmp/$name.eff"
  if "$py" - "$tmp/$name.report.json" "$refs/$name/logits.npy" "$tmp/$name.eff/logits.npy" << 'PY'; then ok; else ko "$name: effectual's outputs are not ONNX Runtime's"; fi
import json, sys
import numpy as np
report = json.load(open(sys.argv[1]))
ort, eff = np.load(sys.argv[2]), np.load(sys.argv[3])
assert ort.shape == eff.shape, (ort.shape, eff.shape)
assert (ort.argmax(1) == eff.argmax(1)).all(), "top-1 differs"
# One quantization step of the last layer's input: a code that rounds the other way in ORT's
# integer kernels moves an output by at most the input scale times the largest sum of |W| over an
# output (quantize reports it as output_step; 0 for weights-only models), plus float rounding.
bound = report["layers"][-1]["output_step"] + 1e-4 * max(1.0, np.abs(ort).max())
diff = np.abs(ort - eff).max()
assert diff <= bound, (diff, bound)
print(f"{sys.argv[1]}: max |ORT - effectual| {diff:.3g} <= {bound:.3g}, top-1 identical")
PY
done < "$refs/cases.txt"

# Deterministic on any thread count: two threads export the bytes one thread did.
expect_ok quantize "$root/models/resnet.onnx" --bits 4 --act-bits 6 --per-channel --asymmetric --clip aciq --ocs-ratio 0.01 \
  --calib-data fashion-mnist:train --calib-images 64 --threads 2 --out "$tmp/t2.onnx"
if [ "$(sha256sum < "$tmp/t2.onnx" | cut -d' ' -f1)" = "$(cat "$refs/resnet_w4a6_asym_aciq/model.sha256")" ]; then ok; else
  ko "quantize with 2 threads wrote other bytes than with 1"
fi

# The sidecar goes along (preprocessing), without the float model's accuracy: eval of a W8A8 export
# preprocesses as the float model does and stays within 2 points of it.
if [ -f "$tmp/lenet5_w8a8_pc_mse.json" ] && ! grep -q test_accuracy "$tmp/lenet5_w8a8_pc_mse.json" &&
  grep -q '"preprocessing"' "$tmp/lenet5_w8a8_pc_mse.json"; then ok; else ko "quantize did not write the sidecar"; fi
expect_ok eval "$root/models/lenet5.onnx" --data fashion-mnist:test --limit 500 --json
cp "$tmp/out" "$tmp/float_eval.json"
expect_ok eval "$tmp/lenet5_w8a8_pc_mse.onnx" --data fashion-mnist:test --limit 500 --json
if "$py" -c '
import json, sys
f, q = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert q["top1"] >= f["top1"] - 0.02, (f["top1"], q["top1"])
' "$tmp/float_eval.json" "$tmp/out"; then ok; else ko "W8A8 lenet5 export loses more than 2 points"; fi

# profile sees integer codes: every layer of a W4A6 model is a quantized layer needing <= 4 bits of
# weights (4-bit symmetric codes), and reports the widths the export used (weights: the stored
# codes' range, 4 bits; activations: the Clip in front of QuantizeLinear, 6-bit codes: 6 bits
# signed, 7 as two's complement when unsigned), not the 8/9 bits of the int8/uint8 storage.
expect_ok quantize "$root/models/lenet5.onnx" --bits 4 --act-bits 6 --clip mse --ocs-ratio 0.02 "${calib[@]}" --out "$tmp/l4.onnx"
expect_ok profile "$tmp/l4.onnx" --data fashion-mnist:test --images 2 --json
if "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for l in d["layers"]:
    w, a = l["weights"]["fixed16"], l["activations"]["fixed16"]
    assert w["source"] == "quantized-model" and a["source"] == "quantized-model", l["name"]
    assert w["bits_needed"] <= 4, (l["name"], w["bits_needed"])
    assert a["bits_needed"] <= 7, (l["name"], a["bits_needed"])
    assert w["int_bits"] + w["frac_bits"] == 4, (l["name"], w)
    assert a["int_bits"] + a["frac_bits"] == (6 if a["signed"] else 7), (l["name"], a)
' "$tmp/out"; then ok; else ko "profile of a quantized export does not see 4-bit weight codes / report the export's widths"; fi

# The table on a small grid: JSON, CSV and HTML.
expect_ok quantize "$root/models/lenet5.onnx" --table --data fashion-mnist:test --calib-images 32 --report-images 64 \
  --table-bits 8 --csv "$tmp/t.csv" --html "$tmp/t.html" --json
if "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["cells"]) == 2 * 4 * 3, len(d["cells"])
assert d["report"]["images"] == 64 and d["calibration"]["images"] == 32
assert all(0 <= c["top1"] <= 1 for c in d["cells"])
# 8-bit weights lose little against the float model on this subset.
assert min(c["top1"] for c in d["cells"] if not c["activations"]) >= d["float_top1"] - 0.05
assert [o["ocs_ratio"] for o in d["size_overhead"]] == [0, 0.01, 0.02] and d["size_overhead"][0]["weights_only"] == 0
' "$tmp/out"; then ok; else ko "quantize --table JSON"; fi
if [ "$(wc -l < "$tmp/t.csv")" -eq 25 ] && grep -q "Data-free quantization" "$tmp/t.html"; then ok; else ko "quantize --table CSV/HTML"; fi

# search precision --clip: integer bits from the clipping threshold, never more than from the maximum.
sp=(search precision "$root/models/lenet5.onnx" --data fashion-mnist:test --search-images 100 --report-images 100 --keep 99% --sim-images 0 --json)
expect_ok "${sp[@]}"
cp "$tmp/out" "$tmp/none.json"
expect_ok "${sp[@]}" --clip kl
if "$py" -c '
import json, sys
a, b = json.load(open(sys.argv[1]))["layers"], json.load(open(sys.argv[2]))["layers"]
for x, y in zip(a, b):
    for op in ("activations", "weights"):
        assert y[op]["int_bits"] <= x[op]["int_bits"] and y[op]["max_abs"] <= x[op]["max_abs"], (x["name"], op)
assert any(y[op]["max_abs"] < x[op]["max_abs"] for x, y in zip(a, b) for op in ("activations", "weights"))
' "$tmp/none.json" "$tmp/out"; then ok; else ko "search precision --clip kl ranges"; fi
expect_error 2 "--clip 'max': give none, mse, aciq or kl" -- "${sp[@]}" --clip max

# search precision --ocs-ratio: the search runs on the split model, written beside the profile;
# search.json names the split layers (channels before and after), the profile applies to the
# split model, which computes the float model's outputs.
expect_ok "${sp[@]}" --ocs-ratio 0.02 --clip kl --out "$tmp/so"
if "$py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
o = d["ocs"]
assert o["ratio"] == 0.02 and o["split_model"].endswith("split_model.onnx") and o["added_parameters"] > 0, o
names = [l["name"] for l in d["layers"]]
assert [l["name"] for l in o["layers"]] == names, (names, o["layers"])
# lenet5 by hand: 416520 MACs per image; conv1 (1 input channel) splits it twice: 3 x 117600.
assert o["unsplit_macs"] == 416520 and o["split_macs"] == sum(l["macs"] for l in d["layers"]) > 416520, o
assert d["layers"][0]["macs"] == 3 * 117600, d["layers"][0]
for l in o["layers"]:
    assert l["expanded_channels"] == l["channels"] + l["weight_splits"] + l["activation_splits"], l
    assert l["weight_splits"] >= 1 and l["weight_max_split"] <= l["weight_max"], l
p = json.load(open(sys.argv[2]))
assert "split_model.onnx" in p["description"] and sorted(p["layers"]) == sorted(names)
' "$tmp/out" "$tmp/so/precision_profile.json"; then ok; else ko "search precision --ocs-ratio: ocs section or profile"; fi
expect_ok run "$tmp/so/split_model.onnx" --input "$root/models/lenet5.ref/input.npy" --out "$tmp/so_run"
if "$py" -c '
import numpy as np, sys
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(b).max()), np.abs(a - b).max()
' "$tmp/so_run/logits.npy" "$root/models/lenet5.ref/logits.npy"; then ok; else ko "the split model does not compute the float model's outputs"; fi
expect_ok eval "$tmp/so/split_model.onnx" --data fashion-mnist:test --limit 20 --precision-profile "$tmp/so/precision_profile.json"
expect_error 2 "--ocs-ratio 1.5: give a fraction in" -- "${sp[@]}" --ocs-ratio 1.5

# --calib-input as FILE.npy (one-input model) and NAME=FILE.npy give the same model.
expect_ok quantize "$root/models/lenet5.onnx" --act-bits 8 --calib-input "$root/models/lenet5.ref/input.npy" --out "$tmp/c1.onnx"
expect_ok quantize "$root/models/lenet5.onnx" --act-bits 8 --calib-input "input=$root/models/lenet5.ref/input.npy" --out "$tmp/c2.onnx"
cmp -s "$tmp/c1.onnx" "$tmp/c2.onnx" && ok || ko "--calib-input FILE.npy and NAME=FILE.npy differ"

# Bad input: one line, non-zero exit.
m="$root/models/lenet5.onnx"
expect_error 2 "--bits 16: give 2 to 8" -- quantize "$m" --bits 16 --out "$tmp/x.onnx"
expect_error 2 "--clip 'entropy': give none, mse, aciq or kl" -- quantize "$m" --clip entropy --out "$tmp/x.onnx"
expect_error 2 "--ocs-ratio 2: give a fraction" -- quantize "$m" --ocs-ratio 2 --out "$tmp/x.onnx"
expect_error 2 "give --out FILE.onnx" -- quantize "$m"
expect_error 2 "--out .*x.txt: the quantized model is written as .onnx" -- quantize "$m" --out "$tmp/x.txt"
expect_error 2 "activation quantization needs calibration inputs" -- quantize "$m" --act-bits 8 --out "$tmp/x.onnx"
expect_error 2 "give --calib-data or --calib-input, not both" -- quantize "$m" --act-bits 8 --calib-data fashion-mnist:train --calib-input "$root/models/lenet5.ref/input.npy" --out "$tmp/x.onnx"
expect_error 3 "already quantized" -- quantize "$tmp/l4.onnx" --out "$tmp/x.onnx"
expect_error 2 "--table needs --data" -- quantize "$m" --table
expect_error 2 "'nope=.*': give every input as NAME=FILE.npy" -- quantize "$m" --act-bits 8 --calib-input "nope=$root/models/lenet5.ref/input.npy" --out "$tmp/x.onnx"
[ ! -e "$tmp/x.onnx" ] && ok || ko "a failed quantize left an output file"

finish quantize_cli
