#!/usr/bin/env bash
# `effectual search precision` as users meet it: a search on lenet5 with small subsets, its files
# (accepted by --precision-profile), bad targets and subsets answered by one line, and --resume.
# Usage: search_cli_tests.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
model=$src/models/lenet5.onnx
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
small=(--data fashion-mnist:test --search-images 40 --report-images 20 --seed 3 --sim-images 1)

expect_ok search precision "$model" "${small[@]}" --keep 100% --out "$tmp/s1"
for f in precision_profile.json search.json speedups.txt checkpoint.json; do
  if [ -s "$tmp/s1/$f" ]; then ok; else ko "search --out did not write $f"; fi
done
# Both subsets' accuracies, fp32 beside them, the seed's notation, every design in the table.
if $py - "$tmp/s1/search.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for s in ("search", "report"):
    a = d["accuracy"][s]
    assert "top1" in a and "fp32_top1" in a, s
assert d["accuracy"]["search"]["top1"] >= d["accuracy"]["search"]["fp32_top1"] - 1e-9  # keep 100%
assert d["subsets"]["search"]["images"] == 40 and d["subsets"]["report"]["images"] == 20
assert len(d["activation_precisions"].split("-")) == len(d["layers"])
assert {x["design"] for x in d["simulation"]["designs"]} >= {"dadiannao", "stripes", "loom", "tartan"}
for l in d["layers"]:
    for op in ("activations", "weights"):
        f = l[op]
        assert f["bits"] == f["int_bits"] + f["frac_bits"]
        assert isinstance(f["signed"], bool)
PY
then ok; else ko "search.json lacks accuracies, notation or designs"; fi
if grep -q "^stripes" "$tmp/out" && grep -q "report" "$tmp/out"; then ok; else ko "summary lacks the report line or the speedup table"; fi

# The profile is accepted by eval and simulate.
expect_ok eval "$model" --data fashion-mnist:test --limit 20 --precision-profile "$tmp/s1/precision_profile.json"
expect_ok simulate "$model" --data fashion-mnist:test --images 1 --designs stripes --precision-profile "$tmp/s1/precision_profile.json"

# Resume: the same search answered from the checkpoint, same result, no evaluation run again.
expect_ok search precision "$model" "${small[@]}" --keep 100% --out "$tmp/s1" --resume --json
if $py - "$tmp/out" "$tmp/s1/precision_profile.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
e = d["evaluations"]
assert e["from_checkpoint"] > 0, e
assert e["total"] == 1, e   # only the report set is evaluated again
PY
then ok; else ko "--resume re-ran evaluations: $(head -c 300 "$tmp/out")"; fi
# A checkpoint of another search is refused.
expect_error 2 "checkpoint belongs to a different search" -- search precision "$model" "${small[@]}" --keep 99% --out "$tmp/s1" --resume

# Other targets run (labels not needed for SNR).
expect_ok search precision "$model" "${small[@]}" --max-loss 0.5 --json
if $py -c 'import json,sys; d=json.load(open(sys.argv[1])); a=d["accuracy"]["search"]; assert a["top1"] >= a["fp32_top1"] - 0.5 - 1e-9' "$tmp/out"; then ok; else ko "--max-loss 0.5 not met on the search subset"; fi
expect_ok search precision "$model" "${small[@]}" --metric output-snr --min-snr-db 20 --objective products --json
if $py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["accuracy"]["search"]["output_snr_db"] >= 20' "$tmp/out"; then ok; else ko "output-snr target not met"; fi

# Bad targets and subsets: one line, exit 2.
expect_error 2 "--keep '0%'" -- search precision "$model" "${small[@]}" --keep 0%
expect_error 2 "--keep '101%'" -- search precision "$model" "${small[@]}" --keep 101%
expect_error 2 "--keep or --max-loss" -- search precision "$model" "${small[@]}" --keep 99% --max-loss 1
expect_error 2 "--max-loss -2: give a number of points" -- search precision "$model" "${small[@]}" --max-loss -2
expect_error 2 "--metric 'accuracy'" -- search precision "$model" "${small[@]}" --metric accuracy
expect_error 2 "--search-images must be at least 1" -- search precision "$model" --data fashion-mnist:test --search-images 0
expect_error 2 "the data set has 10000" -- search precision "$model" --data fashion-mnist:test --search-images 9000 --report-images 2000
expect_error 2 "--objective 'speed'" -- search precision "$model" "${small[@]}" --objective speed
# Labels out of range: one line naming the item, exit 6.
$py - "$tmp" <<'PY'
import numpy as np, sys
x = np.zeros((4, 1, 28, 28), dtype=np.float32)
np.save(sys.argv[1] + "/x.npy", x)
np.save(sys.argv[1] + "/y.npy", np.array([0, 1, 12, 3], dtype=np.int64))
PY
expect_error 6 "label 12, outside" -- search precision "$model" --input "$tmp/x.npy" --labels "$tmp/y.npy" --search-images 2 --report-images 2 --seed 1

# Thresholds: thresholds.json is accepted by --thresholds; the summary gives Cnvlutin with and without.
expect_ok search thresholds "$model" "${small[@]}" --keep 100% --out "$tmp/t1"
if [ -s "$tmp/t1/thresholds.json" ] && [ -s "$tmp/t1/threshold_search.json" ]; then ok; else ko "search thresholds did not write its files"; fi
if grep -q "Cnvlutin over DaDianNao" "$tmp/out"; then ok; else ko "thresholds summary lacks Cnvlutin's speedups"; fi
expect_ok eval "$model" --data fashion-mnist:test --limit 20 --thresholds "$tmp/t1/thresholds.json"
expect_error 2 "--keep '0%'" -- search thresholds "$model" "${small[@]}" --keep 0%

# search all: the thresholds run on the profile, so the profile's accuracy after the precision
# stage and the accuracy after both stages are each measured; both files are accepted together.
expect_ok search all "$model" "${small[@]}" --keep 100% --out "$tmp/a1"
for f in precision_profile.json thresholds.json search.json speedups.txt; do
  if [ -s "$tmp/a1/$f" ]; then ok; else ko "search all --out did not write $f"; fi
done
if $py - "$tmp/a1/search.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "effectual-search-all"
for stage in ("after_precision", "after_thresholds"):
    for s in ("search", "report"):
        assert "top1" in d["accuracy"][stage][s], (stage, s)
    # keep 100% holds on the search subset after each stage
    a = d["accuracy"][stage]["search"]
    assert a["top1"] >= a["fp32_top1"] - 1e-9 and a["target_met"], (stage, a)
assert set(d["stages"]) == {"precision", "thresholds"}
e = d["evaluations"]
assert e["total"] == e["precision"] + e["thresholds"] and e["thresholds"] > 0, e
assert {x["design"] for x in d["simulation"]["designs"]} >= {"dadiannao", "stripes", "cnvlutin", "tartan"}
PY
then ok; else ko "search all's search.json lacks both stages, accuracies or designs"; fi
if grep -q "on the precision profile" "$tmp/out" && grep -q "^stripes" "$tmp/out"; then ok; else ko "search all summary lacks a stage or the table"; fi
expect_ok eval "$model" --data fashion-mnist:test --limit 20 --precision-profile "$tmp/a1/precision_profile.json" --thresholds "$tmp/a1/thresholds.json"
expect_error 2 "--keep '0%'" -- search all "$model" "${small[@]}" --keep 0%

# Interrupted in its thresholds stage (killed once that stage's checkpoint exists), `search all
# --resume` ends with the files of an uninterrupted run, answering the done evaluations of both
# stages from their checkpoints.
mid=(--data fashion-mnist:test --search-images 400 --report-images 20 --seed 3 --sim-images 0 --keep 99%)
expect_ok search all "$model" "${mid[@]}" --out "$tmp/whole"
"$bin" search all "$model" "${mid[@]}" --out "$tmp/cut" > /dev/null 2>&1 < /dev/null &
pid=$!
for _ in $(seq 600); do
  [ -s "$tmp/cut/threshold_checkpoint.json" ] && break
  sleep 0.02
done
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
if [ -s "$tmp/cut/threshold_checkpoint.json" ] && [ ! -e "$tmp/cut/search.json" ]; then ok
else ko "search all was not interrupted in its thresholds stage (finished before the kill?)"; fi
expect_ok search all "$model" "${mid[@]}" --out "$tmp/cut" --resume --json
if cmp -s "$tmp/whole/precision_profile.json" "$tmp/cut/precision_profile.json" \
  && cmp -s "$tmp/whole/thresholds.json" "$tmp/cut/thresholds.json" && $py - "$tmp/whole/search.json" "$tmp/out" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["accuracy"] == b["accuracy"], (a["accuracy"], b["accuracy"])
p, t = b["stages"]["precision"]["evaluations"], b["stages"]["thresholds"]["evaluations"]
assert p["from_checkpoint"] > 0 and p["total"] == 1, p  # only the report check runs again
assert t["from_checkpoint"] > 0, t
PY
then ok; else ko "search all --resume after a kill differs from the uninterrupted run"; fi
# search thresholds resumes too; a precision checkpoint is not a thresholds one.
expect_ok search thresholds "$model" "${small[@]}" --out "$tmp/t2"
expect_ok search thresholds "$model" "${small[@]}" --out "$tmp/t2" --resume --json
if $py -c 'import json,sys; e=json.load(open(sys.argv[1]))["evaluations"]; assert e["from_checkpoint"] > 0 and e["total"] == 1, e' "$tmp/out"; then ok
else ko "search thresholds --resume re-ran evaluations: $(head -c 300 "$tmp/out")"; fi
expect_error 2 "checkpoint belongs to a different search" -- search thresholds "$model" "${small[@]}" --levels 8 --out "$tmp/t2" --resume

# --sweep: one row per target in frontier.json and frontier.csv; each row meets its target on the
# search subset; later targets reuse earlier evaluations.
expect_ok search precision "$model" "${small[@]}" --sweep --out "$tmp/f1"
if $py - "$tmp/f1/frontier.json" "$tmp/f1/frontier.csv" <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
p = d["points"]
assert [x["target"] for x in p] == [100, 99.5, 99, 98, 97, 95, 90], [x["target"] for x in p]
assert len(rows) == len(p)
for x, r in zip(p, rows):
    assert x["search"]["target_met"], x
    n = len(x["activation_precisions"].split("-"))
    assert n == 5 and r["activation_precisions"] == x["activation_precisions"]
    assert x["stripes_ideal_speedup"] >= 1 and float(r["stripes_ideal_speedup"]) >= 1
    assert "report_top1" in r and "search_top1" in r
assert sum(x["from_memory"] for x in p[1:]) > 0
PY
then ok; else ko "search precision --sweep: bad frontier files"; fi
expect_ok search thresholds "$model" "${small[@]}" --sweep --sweep-targets 100,95 --out "$tmp/f2"
if $py - "$tmp/f2/frontier.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["x"] == "skipped_fraction_mac_weighted"
assert [x["target"] for x in d["points"]] == [100, 95]
for x in d["points"]:
    assert 0 <= x["skipped_fraction_mac_weighted"] <= 1 and x["search"]["target_met"]
PY
then ok; else ko "search thresholds --sweep: bad frontier.json"; fi
expect_error 2 "--sweep-targets goes with --sweep" -- search precision "$model" "${small[@]}" --sweep-targets 99
expect_error 2 "drop --max-loss" -- search precision "$model" "${small[@]}" --sweep --max-loss 1

# The HTML report: Table 2 row (the notation of search.json), Table 1 column, the frontier chart.
expect_ok report --search "$tmp/a1/search.json" --frontier "$tmp/f1/frontier.json" --out "$tmp/search.html"
notation=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["activation_precisions"])' "$tmp/a1/search.json")
if grep -q "seed 001 Table 2" "$tmp/search.html" && grep -q ">$notation<" "$tmp/search.html" \
  && grep -q "Table 1 column" "$tmp/search.html" && grep -q "Accuracy vs Stripes ideal speedup" "$tmp/search.html"; then ok
else ko "report --search/--frontier lacks Table 2 ($notation), Table 1 or the frontier"; fi
expect_error 6 "not a search.json" -- report --search "$tmp/f1/frontier.json" --out "$tmp/bad.html"

# --html on the search itself: the same sections without a second command.
expect_ok search precision "$model" "${small[@]}" --sweep --sweep-targets 100,95 --html "$tmp/sweep.html"
if grep -q "Accuracy vs Stripes ideal speedup" "$tmp/sweep.html"; then ok; else ko "--sweep --html lacks the frontier chart"; fi
expect_error 2 "goes with --sweep" -- search thresholds "$model" "${small[@]}" --html "$tmp/t.html"

# Models that do not take images, and several inputs (NAME=FILE.npy each): output-snr, no labels.
$py - "$tmp" << 'PY'
import numpy as np, sys
r = np.random.RandomState(3)
np.save(sys.argv[1] + "/tokens8.npy", r.randn(8, 12, 32).astype(np.float32))
np.save(sys.argv[1] + "/a8.npy", r.randn(8, 4).astype(np.float32))
np.save(sys.argv[1] + "/b8.npy", r.randn(8, 4).astype(np.float32))
PY
tb=$src/tests/fixtures/real/transformer_block.onnx
snr=(--metric output-snr --min-snr-db 30 --search-images 4 --report-images 4 --sim-images 1 --threads 1)
expect_ok search precision "$tb" --input "$tmp/tokens8.npy" "${snr[@]}" --json
if $py -c 'import json,sys; d=json.load(sys.stdin); assert len(d["layers"]) == 8 and d["accuracy"]["search"]["target_met"], d["accuracy"]' < "$tmp/out"; then
  ok
else ko "search precision transformer_block: $(head -c 300 "$tmp/out")"; fi
expect_ok search thresholds "$tb" --input "$tmp/tokens8.npy" "${snr[@]}"
two=$src/tests/fixtures/shapes/two_inputs.onnx
expect_ok search precision "$two" --input "a=$tmp/a8.npy" --input "b=$tmp/b8.npy" "${snr[@]}"
if grep -q "^0 *matmul" "$tmp/out"; then ok; else ko "search precision two_inputs: $(head -c 300 "$tmp/out")"; fi
expect_ok search thresholds "$two" --input "b=$tmp/b8.npy" --input "a=$tmp/a8.npy" "${snr[@]}"
$py -c "import numpy as np; np.savez('$tmp/ab8.npz', a=np.load('$tmp/a8.npy'), b=np.load('$tmp/b8.npy'))"
expect_ok search precision "$two" --data "$tmp/ab8.npz" "${snr[@]}"
if grep -q "^0 *matmul" "$tmp/out"; then ok; else ko "search precision two_inputs --data .npz: $(head -c 300 "$tmp/out")"; fi
# Explicit search and report sets for a multi-input model: one .npz each, read like --data FILE.npz.
$py -c "import numpy as np; a, b = np.load('$tmp/a8.npy'), np.load('$tmp/b8.npy'); np.savez('$tmp/ab_s.npz', a=a[:4], b=b[:4]); np.savez('$tmp/ab_r.npz', a=a[4:], b=b[4:])"
sets=(--search-data "$tmp/ab_s.npz" --report-data "$tmp/ab_r.npz" --metric output-snr --min-snr-db 30 --sim-images 1 --threads 1)
expect_ok search precision "$two" "${sets[@]}" --json
if $py -c 'import json,sys; d=json.load(sys.stdin); s=json.dumps(d); assert "ab_s.npz" in s and "ab_r.npz" in s and d["accuracy"]["search"]["target_met"], s[:300]' < "$tmp/out"; then
  ok
else ko "search precision two_inputs --search-data/--report-data .npz: $(head -c 300 "$tmp/out")"; fi
expect_ok search thresholds "$two" "${sets[@]}"
expect_error 2 "the model has 2 inputs \(a, b\); --search-data feeds one; give all in --search-data FILE.npz" -- search precision "$two" --search-data fashion-mnist:test --report-data "$tmp/ab_r.npz" --metric output-snr
expect_error 2 "the top-1 target needs labels: use --metric output-snr" -- search precision "$two" --input "a=$tmp/a8.npy" --input "b=$tmp/b8.npy" --search-images 4 --report-images 4

finish search_cli
