#!/usr/bin/env bash
# `effectual simulate` as users meet it: the live, trace and synthetic forms, the output files,
# and bad configuration / traces answered by one line naming the file and field.
# Usage: simulate_cli_tests.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
model=$src/models/lenet5.onnx
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
json_ok() { /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$1" 2> /dev/null; }

# Registry and parameters.
expect_ok simulate --list-designs
for d in dadiannao cnvlutin stripes dstripes tartan loom pragmatic systolic cgnet; do
  if grep -q "^$d " "$tmp/out"; then ok; else ko "--list-designs lacks $d"; fi
done
expect_ok simulate --describe pragmatic
if grep -qi "first_stage" "$tmp/out"; then ok; else ko "--describe pragmatic lacks its two-stage shifting parameter"; fi

# Live capture: every design, JSON on stdout, files with --out.
expect_ok simulate "$model" --data fashion-mnist:test --images 2 --designs all --json
if json_ok "$tmp/out"; then ok; else ko "simulate --json is not JSON"; fi
expect_ok simulate "$model" --data fashion-mnist:test --images 2 --designs dadiannao,stripes --out "$tmp/sim"
for f in results.json layers.csv totals.csv report.html; do
  if [ -s "$tmp/sim/$f" ]; then ok; else ko "simulate --out did not write $f"; fi
done
# DaDianNao against itself is exactly 1x.
if grep -E -q '^dadiannao +16-16-16 +1\.00x +1\.00x +1\.00x' "$tmp/out"; then ok; else ko "dadiannao row is not 1.00x: $(grep dadiannao "$tmp/out")"; fi

# The same values through a trace directory give the same cycles as the live run.
expect_ok trace "$model" --data fashion-mnist:test --images 2 --out "$tmp/trace"
expect_ok simulate --traces "$tmp/trace" --designs dadiannao,stripes --out "$tmp/sim2"
if [ -s "$tmp/sim2/totals.csv" ] && cmp -s <(cut -d, -f1-8 "$tmp/sim/totals.csv") <(cut -d, -f1-8 "$tmp/sim2/totals.csv"); then
  ok
else
  ko "trace and live runs disagree: $(diff <(cat "$tmp/sim/totals.csv") <(cat "$tmp/sim2/totals.csv") | head -5)"
fi

# Shape-only mode is deterministic for a seed.
expect_ok simulate "$model" --synthetic --designs stripes --seed 7 --json
cp "$tmp/out" "$tmp/syn1"
expect_ok simulate --synthetic --network "$model" --designs stripes --seed 7 --json --threads 1
if [ -s "$tmp/syn1" ] && cmp -s "$tmp/syn1" "$tmp/out"; then ok; else ko "synthetic runs differ across thread counts"; fi

# Runs of several images quantize each layer's weights once and reuse them: image 1 simulated
# after image 0 (weights reused) gives the records of image 1 simulated alone (weights fresh).
same_image_records() {
  /usr/bin/python3 - "$1" "$2" << 'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
# The one load of resident weights is shared over the batch (docs/energy-area.md), so the
# memory and energy fields depend on how many images ran; everything else must match.
batch = ("energy", "memory", "offchip_wgt", "wgt_buffer_write", "power")
strip = lambda r: {k: (strip(v) if isinstance(v, dict) else v) for k, v in r.items() if not any(w in k for w in batch)}
pick = lambda j: [strip(r) for r in j["layers"] if r["image"] == 1]
ra, rb = pick(a), pick(b)
sys.exit(0 if ra and ra == rb else 1)
PY
}
expect_ok simulate "$model" --data fashion-mnist:test --first 0 --images 2 --designs all --json
cp "$tmp/out" "$tmp/two"
expect_ok simulate "$model" --data fashion-mnist:test --first 1 --images 1 --designs all --json
if same_image_records "$tmp/two" "$tmp/out"; then ok; else ko "reused weights change image 1's records"; fi

# --check-values recomputes outputs from the scheduled values: every design, every conv/FC layer.
expect_ok simulate "$model" --data fashion-mnist:test --images 1 --designs all --check-values
# lenet5 has 2 Conv and 3 Gemm nodes: 5 layers x 7 designs.
if grep -q "check-values: 35 (layer, design) pair(s) recomputed.*all match" "$tmp/out"; then ok; else
  ko "check-values did not cover 7 designs x 5 layers: $(tail -1 "$tmp/out")"
fi
# resnet's residual Adds are fused into their convs for speed; while the simulator watches they
# stay apart, so all 10 conv/FC layers (3 with a residual Add) are recomputed and compared too.
expect_ok simulate "$src/models/resnet.onnx" --data fashion-mnist:test --images 1 --designs all --check-values
if grep -q "check-values: 70 (layer, design) pair(s) recomputed.*all match" "$tmp/out"; then ok; else
  ko "resnet check-values did not cover 7 designs x 10 layers: $(tail -1 "$tmp/out")"
fi

# Bad input.
printf 'version: 1\ndesigns:\n  - design: stripes\n    lanez: 4\n' > "$tmp/bad.yaml"
expect_error 7 "bad.yaml.*lanez" -- simulate "$model" --data fashion-mnist:test --images 1 --config "$tmp/bad.yaml"
expect_error 2 "nosuchdesign" -- simulate "$model" --data fashion-mnist:test --images 1 --designs nosuchdesign
cp -r "$tmp/trace" "$tmp/broken"
first_input=$(ls "$tmp"/broken/layers/*/input.npy 2> /dev/null | head -1)
[ -n "$first_input" ] && head -c 100 "$first_input" > "$first_input.cut" && mv "$first_input.cut" "$first_input"
expect_error 8 "input.npy" -- simulate --traces "$tmp/broken" --designs stripes
rm "$tmp/broken/manifest.json"
expect_error 8 "manifest.json" -- simulate --traces "$tmp/broken" --designs stripes

# Without a precision profile the table says where formats come from and what to run instead.
expect_ok simulate "$model" --data fashion-mnist:test --images 1 --designs stripes
if grep -q "^precision: derived from each tensor's range.*effectual search precision MODEL" "$tmp/out"; then ok; else ko "simulate without a profile does not point to search precision"; fi
printf '{"format": "effectual-precision-profile", "version": 1, "default": {"activations": {"int_bits": 4, "frac_bits": 4}}}' > "$tmp/p.json"
expect_ok simulate "$model" --data fashion-mnist:test --images 1 --designs stripes --precision-profile "$tmp/p.json"
if grep -q "^precision:" "$tmp/out"; then ko "simulate with a profile still prints the no-profile note"; else ok; fi

# Quantized models (docs/quantization.md): a trace holds the integer codes (code - zero point) and
# the widths the live run uses, so simulating the trace gives the live run's cycles, layer by layer;
# --check-values compares every design's sums with the exact integer sums of the codes. The
# dynamically quantized MobileNetV2 (run-time zero points; two images: the trace must quantize
# each image on its own, as the live run does, not the two as one batch) and the integer-op fixture.
same_cycles() {
  /usr/bin/python3 - "$1" "$2" << 'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
pick = lambda j: [(r["design"], r["layer"], r["image"], r["cycles"]) for r in j["layers"]]
sys.exit(0 if pick(a) and pick(a) == pick(b) else 1)
PY
}
dynq=$src/tests/fixtures/real/mobilenetv2_dynq_small
intops=$src/tests/fixtures/models/quant/integer_ops
for m in "$dynq.onnx:$dynq.ref/inputs/input.npy:2" "$intops.onnx:$intops.input.npy:1"; do
  IFS=: read -r onnx input n <<< "$m"
  rm -rf "$tmp/qtrace"
  expect_ok trace "$onnx" --input "$input" --images "$n" --out "$tmp/qtrace"
  if grep -q '"format": "code-zero_point"' "$tmp/qtrace/manifest.json"; then ok; else ko "$onnx: trace manifest lacks the quantization"; fi
  expect_ok simulate "$onnx" --input "$input" --images "$n" --designs stripes,dstripes,pragmatic --json
  cp "$tmp/out" "$tmp/qlive"
  expect_ok simulate --traces "$tmp/qtrace" --designs stripes,dstripes,pragmatic --json
  if same_cycles "$tmp/qlive" "$tmp/out"; then ok; else ko "$onnx: simulate --traces differs from the live run"; fi
  expect_ok simulate "$onnx" --input "$input" --images 1 --designs all --check-values
  if grep -q "check-values: .* all match" "$tmp/out"; then ok; else ko "$onnx: check-values: $(tail -1 "$tmp/out")"; fi
done
# A code that does not fit the width the manifest states is refused naming the layer.
/usr/bin/python3 - "$tmp/qtrace/manifest.json" << 'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["layers"][0]["quantization"]["wgt_bits"] = 3
json.dump(m, open(sys.argv[1], "w"))
PY
# Value hooks on integer-op layers are refused in one line naming the layer (docs/quantization.md).
printf '{"format": "effectual-precision-profile", "version": 1, "default": {"activations": {"int_bits": 4, "frac_bits": 4}}}' > "$tmp/qp.json"
expect_error 4 "layer 'conv_int' \(ConvInteger\) computes on 8-bit integer codes" -- simulate "$intops.onnx" --input "$intops.input.npy" --designs stripes --precision-profile "$tmp/qp.json"
expect_error 8 "layers\[0\].quantization \(weights\).*not an integer code of 3 bits" -- simulate --traces "$tmp/qtrace" --designs stripes
# effectual area: no model needed; the seed's configurations against seed 001 Table 1.
expect_ok area
if grep -E -q '^dadiannao +16-16-16 +[0-9.]+ +[0-9.]+ +1\.00x +1\.00x' "$tmp/out"; then ok; else ko "area: dadiannao row: $(grep dadiannao "$tmp/out" | head -1)"; fi
if grep -E -q '^loom +1-8-16 ' "$tmp/out"; then ok; else ko "area: loom is not compared with DaDianNao 1-8-16"; fi
expect_ok area --json --designs stripes --technology "$src/configs/technology/28nm.yaml"
if json_ok "$tmp/out" && grep -q '"node": "28nm"' "$tmp/out"; then ok; else ko "area --json --technology 28nm"; fi
expect_ok area --config "$src/configs/designs.yaml"
if grep -q '^dstripes-g1-r1 ' "$tmp/out"; then ok; else ko "area --config lacks the configured instances"; fi
sed 's/adder_bit:/adder_bitz:/' "$src/configs/technology/65nm.yaml" > "$tmp/tech.yaml"
expect_error 7 "tech.yaml: area_um2.adder_bitz: unknown key" -- area --technology "$tmp/tech.yaml"
printf 'designs:\n  - {design: stripes, wm_kib_per_tile: lots}\n' > "$tmp/mem.yaml"
expect_error 7 "mem.yaml.*wm_kib_per_tile" -- area --config "$tmp/mem.yaml"
expect_error 7 "nofile.yaml" -- area --technology "$tmp/nofile.yaml"

# Energy, power and area columns of simulate (seed 001 Table 1's three columns).
expect_ok simulate --synthetic --network vgg16-conv --images 1 --designs dadiannao,stripes --technology "$src/configs/technology/28nm.yaml" --out "$tmp/simE"
if grep -E -q '^dadiannao +16-16-16 +1\.00x +- +1\.00x +1\.00x +- +1\.00x' "$tmp/out"; then ok; else ko "simulate: dadiannao energy/area not 1.00x: $(grep dadiannao "$tmp/out")"; fi
if /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
t = j["designs"][1]["totals"]["all"]
assert j["technology"].startswith("28nm"), j["technology"]
assert t["energy_pj"]["total"] > 0 and t["power_w"] > 0 and j["designs"][1]["relative_area"] > 1
assert "energy_efficiency" in j["layers"][0]
' "$tmp/simE/results.json"; then ok; else ko "simulate results.json lacks energy/area fields"; fi
if head -1 "$tmp/simE/totals.csv" | grep -q "energy_pj,baseline_energy_pj,energy_efficiency,memory_stall_cycles,footprint_16bit_bytes,footprint_packed_bytes,power_w,area_mm2,relative_area"; then ok; else ko "totals.csv lacks energy columns"; fi
for id in sim-energy sim-area sim-memory; do
  if grep -q "id=\"$id\"" "$tmp/simE/report.html"; then ok; else ko "report.html lacks section $id"; fi
done
expect_error 7 "tech.yaml: area_um2.adder_bitz" -- simulate --synthetic --network vgg16-conv --images 1 --designs stripes --technology "$tmp/tech.yaml"
# --dram: the DDR4 timing model drives the memory timeline (never faster than bandwidth only);
# a bad table is one line naming the file and the key.
expect_ok simulate --synthetic --network vgg16 --images 1 --designs dadiannao --dram "$src/configs/memory/ddr4-3200.yaml" --out "$tmp/simD"
expect_ok simulate --synthetic --network vgg16 --images 1 --designs dadiannao --out "$tmp/simB"
if /usr/bin/python3 -c '
import json, sys
d, b = (json.load(open(p)) for p in sys.argv[1:3])
assert d["memory_model"].startswith("DRAM timing"), d["memory_model"]
assert b["memory_model"].startswith("bandwidth only"), b["memory_model"]
sd, sb = (x["designs"][0]["totals"]["all"]["memory_stall_cycles"] for x in (d, b))
assert sd > sb > 0, (sd, sb)
' "$tmp/simD/results.json" "$tmp/simB/results.json"; then ok; else ko "simulate --dram: stalls not above bandwidth-only"; fi
sed 's/^tFAW:/tFAWW:/' "$src/configs/memory/ddr4-3200.yaml" > "$tmp/dram.yaml"
expect_error 7 "dram.yaml: tFAWW: unknown key" -- simulate --synthetic --network vgg16-conv --images 1 --designs stripes --dram "$tmp/dram.yaml"

# Dynamic gates (--gates, seed 003): a channel-gates file drives cgnet on the layers it lists
# (threshold "-inf": exactly the systolic array), a precision-gates file Stripes and Loom; bad
# files are one line naming the file and the field.
gates_for() { # KIND THRESHOLD -> $tmp/gates.json for lenet5's second conv layer
  if [ "$1" = channel ]; then
    printf '{"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,"layers":[{"layer":"/conv2/Conv","base_channels":3,"threshold":%s}]}\n' "$2"
  else
    printf '{"format":"effectual-gates","version":1,"kind":"precision","layers":[{"layer":"/conv2/Conv","bits":16,"high_bits":8,"threshold":%s}]}\n' "$2"
  fi > "$tmp/gates.json"
}
gated_totals() { # JSON FILE -> "design cycles ideal_speedup" per design
  /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
for d in j["designs"]:
    t = d["totals"]["all"]
    print(d["name"], t["cycles"], round(t["ideal_speedup"], 4))' "$1"
}
gates_for channel '"-inf"'
expect_ok simulate "$model" --data fashion-mnist:test --images 2 --designs systolic,cgnet --gates "$tmp/gates.json" --out "$tmp/simG"
gated_totals "$tmp/simG/results.json" > "$tmp/g1"
if [ "$(awk '{print $2}' "$tmp/g1" | uniq | wc -l)" -eq 1 ]; then ok; else ko "cgnet at threshold -inf differs from systolic: $(cat "$tmp/g1")"; fi
gates_for channel 0
expect_ok simulate "$model" --data fashion-mnist:test --images 2 --designs systolic,cgnet --gates "$tmp/gates.json" --out "$tmp/simG"
gated_totals "$tmp/simG/results.json" > "$tmp/g2"
if awk '$1 == "cgnet" && $3 > 1.0 { found = 1 } END { exit !found }' "$tmp/g2"; then ok; else ko "cgnet skipped no MACs at threshold 0: $(cat "$tmp/g2")"; fi
gates_for precision 0
expect_ok simulate "$model" --data fashion-mnist:test --images 2 --designs stripes,loom --out "$tmp/simP0"
expect_ok simulate "$model" --data fashion-mnist:test --images 2 --designs stripes,loom --gates "$tmp/gates.json" --out "$tmp/simP1"
if /usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(p))["designs"] for p in sys.argv[1:3])
for x, y in zip(a, b):
    assert y["totals"]["all"]["cycles"] <= x["totals"]["all"]["cycles"], (x["name"], x["totals"]["all"]["cycles"], y["totals"]["all"]["cycles"])
    assert y["totals"]["all"]["ideal_speedup"] >= x["totals"]["all"]["ideal_speedup"]
' "$tmp/simP0/results.json" "$tmp/simP1/results.json"; then ok; else ko "precision gating slowed Stripes or Loom down"; fi
printf '{"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,"layers":[{"layer":"/conv2/Conv","base_channels":3,"threshold":0,"bits":8}]}\n' > "$tmp/bad_gates.json"
expect_error 7 "bad_gates.json: layers\[0\]\.bits: unknown key" -- simulate "$model" --data fashion-mnist:test --images 1 --designs cgnet --gates "$tmp/bad_gates.json"
printf '{"format":"effectual-gates","version":1,"kind":"channel","base_fraction":0.5,"layers":[{"layer":"/conv2/Conv","base_channels":99,"threshold":0}]}\n' > "$tmp/bad_gates.json"
expect_error 7 "bad_gates.json: layer '/conv2/Conv': base_channels 99" -- simulate "$model" --data fashion-mnist:test --images 1 --designs cgnet --gates "$tmp/bad_gates.json"
expect_error 7 "nogates.json" -- simulate "$model" --data fashion-mnist:test --images 1 --designs cgnet --gates "$tmp/nogates.json"

finish "simulate CLI tests"
