#!/usr/bin/env bash
# `effectual sweep` as users meet it (docs/sweep.md): a small LeNet-5 sweep, its points checked
# against `effectual simulate` and `effectual eval` run on their own; stable ids and --resume;
# shards and MPI ranks merging to byte-identical tables; locks; the Slurm scripts' command lines;
# bad sweep files answered by one line naming the field.
# Usage: sweep_cli_tests.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
cd "$src" || exit 1
spec=tests/fixtures/sweep/lenet_small.yaml
bad() {  # bad CODE PATTERN YAML: the sweep file YAML is refused with exit CODE, one line matching PATTERN
  printf '%s\n' "$3" > "$tmp/bad.yaml"
  expect_error "$1" "$2" -- sweep "$tmp/bad.yaml" --out "$tmp/bad"
}

# ---- one process -----------------------------------------------------------------------------
expect_ok sweep "$spec" --out "$tmp/one" --threads 1
if grep -q "sweep: 6 point(s): 6 computed, 0 finished earlier, 0 failed" "$tmp/out"; then ok; else ko "one: $(cat "$tmp/out")"; fi
for f in spec.yaml results.json results.csv report.html timings.json; do
  if [ -s "$tmp/one/$f" ]; then ok; else ko "sweep did not write $f"; fi
done
# Capture once, simulate many: six points of one model and image range share one capture.
n=$(find "$tmp/one/cache/captures" -mindepth 1 -maxdepth 1 -type d | wc -l)
if [ "$n" -eq 1 ]; then ok; else ko "expected 1 capture for 6 points, found $n"; fi
built=$(grep -l '"capture_built": true' "$tmp"/one/points/*/point.json | wc -l)
if [ "$built" -eq 1 ]; then ok; else ko "expected 1 point to build the capture, $built did"; fi

# Each point against the commands run on their own: stripes' totals equal `simulate`'s live run,
# DaDianNao over itself is exactly 1, top-1 equals `eval` on the same 2 images.
expect_ok simulate models/lenet5.onnx --data fashion-mnist:test --images 2 --designs stripes --out "$tmp/sim" --threads 1
expect_ok eval models/lenet5.onnx --data fashion-mnist:test --limit 2 --json
eval_top1=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["top1"])' "$tmp/out")
if $py - "$tmp/one" "$tmp/sim/totals.csv" "$eval_top1" <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1] + "/results.json"))
pts = d["points"]
assert len(pts) == 6 and all(p["status"] == "ok" for p in pts), [p["status"] for p in pts]
row = [r for r in csv.DictReader(open(sys.argv[2])) if r["design"] == "stripes" and r["layers"] == "all"][0]
st = [p for p in pts if p["values"]["design"] == "stripes" and p["values"]["config"] == {}][0]["results"]["simulate"]
assert st["cycles"] == int(row["cycles"]), (st["cycles"], row["cycles"])
assert st["baseline_cycles"] == int(row["baseline_cycles"]), (st["baseline_cycles"], row["baseline_cycles"])
for p in pts:
    if p["values"]["design"] == "dadiannao":
        assert p["results"]["simulate"]["speedup"] == 1.0, p
    assert abs(p["results"]["eval"]["top1"] - float(sys.argv[3])) < 1e-12, (p["results"]["eval"], sys.argv[3])
# Ids are 16 hex digits and distinct; rows follow the sweep file (last axis fastest).
assert len({p["id"] for p in pts}) == 6
assert [p["values"]["design"] for p in pts] == ["dadiannao"] * 2 + ["stripes"] * 2 + ["cnvlutin"] * 2
PY
then ok; else ko "sweep results disagree with simulate/eval"; fi
if grep -q "<table" "$tmp/one/report.html" && grep -q "Speedup per point" "$tmp/one/report.html" &&
   grep -q "Accuracy per point" "$tmp/one/report.html"; then ok; else ko "report.html lacks the table or charts"; fi

# ---- stable ids, --resume --------------------------------------------------------------------
sed 's/design: \[dadiannao, stripes, cnvlutin\]/design: [dadiannao, loom, stripes, cnvlutin]/' "$spec" > "$tmp/more.yaml"
cp -r "$tmp/one" "$tmp/more"
expect_ok sweep "$tmp/more.yaml" --out "$tmp/more" --resume --threads 1
if grep -q "sweep: 8 point(s): 2 computed, 6 finished earlier, 0 failed" "$tmp/out"; then ok; else ko "resume: $(cat "$tmp/out")"; fi
if $py - "$tmp/one/results.json" "$tmp/more/results.json" <<'PY'
import json, sys
a = {p["id"]: p for p in json.load(open(sys.argv[1]))["points"]}
b = {p["id"]: p for p in json.load(open(sys.argv[2]))["points"]}
assert set(a) <= set(b) and len(b) == 8, (len(a), len(b))
for i in a:
    assert a[i]["results"] == b[i]["results"] and a[i]["values"] == b[i]["values"], i
PY
then ok; else ko "adding a design changed the other points' ids or results"; fi
# A temporary folder left by a killed process is removed; a finished point is not recomputed.
mkdir -p "$tmp/more/points/.tmp-0123456789abcdef-$(hostname)-999999999"
expect_ok sweep "$tmp/more.yaml" --out "$tmp/more" --resume
if [ ! -e "$tmp/more/points/.tmp-0123456789abcdef-$(hostname)-999999999" ]; then ok; else ko "stale temporary point folder kept"; fi
if grep -q "0 computed, 8 finished earlier" "$tmp/out"; then ok; else ko "second resume: $(cat "$tmp/out")"; fi

# ---- shards: byte-identical merge ------------------------------------------------------------
expect_ok sweep "$spec" --out "$tmp/shards" --shard 0/2 --threads 1
if grep -q "sweep: 3 point(s) of shard 0/2: 3 computed" "$tmp/out"; then ok; else ko "shard 0/2: $(cat "$tmp/out")"; fi
expect_ok sweep "$spec" --out "$tmp/shards" --shard 1/2 --threads 2
expect_ok sweep merge "$tmp/shards"
for f in results.json results.csv report.html; do
  if cmp -s "$tmp/one/$f" "$tmp/shards/$f"; then ok; else ko "shards' $f differs from the single process's"; fi
done
# Merging a partial sweep says which points are missing.
expect_ok sweep "$spec" --out "$tmp/half" --shard 1/3 --threads 1
expect_ok sweep merge "$tmp/half"
if grep -q "merged 6 point(s) (2 ok, 0 failed, 4 missing)" "$tmp/out"; then ok; else ko "partial merge: $(cat "$tmp/out")"; fi

# Two shards at once on one folder: they share the capture (built once under its lock) and merge
# to the same bytes.
"$bin" sweep "$spec" --out "$tmp/together" --shard 0/2 --threads 1 > /dev/null 2> "$tmp/err0" &
p0=$!
"$bin" sweep "$spec" --out "$tmp/together" --shard 1/2 --threads 1 > /dev/null 2> "$tmp/err1" &
p1=$!
if wait "$p0" && wait "$p1"; then ok; else ko "concurrent shards failed: $(cat "$tmp/err0" "$tmp/err1" | head -c 300)"; fi
expect_ok sweep merge "$tmp/together"
if cmp -s "$tmp/one/results.json" "$tmp/together/results.json"; then ok; else ko "concurrent shards' results.json differs"; fi
n=$(find "$tmp/together/cache/captures" -mindepth 1 -maxdepth 1 -type d | wc -l)
if [ "$n" -eq 1 ]; then ok; else ko "concurrent shards built $n captures"; fi

# A sweep killed mid-way (SIGKILL) keeps every point it finished, leaves no point half-written
# under its final name, and --resume computes only the rest.
"$bin" sweep "$tmp/more.yaml" --out "$tmp/killed" --threads 1 > /dev/null 2>&1 &
victim=$!
for _ in $(seq 1 300); do
  [ "$(find "$tmp/killed/points" -name point.json 2> /dev/null | wc -l)" -ge 2 ] && break
  sleep 0.05
done
kill -9 "$victim" 2> /dev/null
wait "$victim" 2> /dev/null
kept=$(find "$tmp/killed/points" -mindepth 2 -name point.json | grep -v '/\.tmp-' | wc -l)
complete=1
for d in "$tmp"/killed/points/[0-9a-f]*; do [ -s "$d/point.json" ] && [ -s "$d/totals.csv" ] || complete=0; done
if [ "$complete" -eq 1 ]; then ok; else ko "a killed sweep left an incomplete point folder"; fi
expect_ok sweep "$tmp/more.yaml" --out "$tmp/killed" --resume --threads 1
if grep -q "sweep: 8 point(s): $((8 - kept)) computed, $kept finished earlier, 0 failed" "$tmp/out"; then ok; else ko "resume after kill ($kept kept): $(cat "$tmp/out")"; fi
if cmp -s "$tmp/more/results.csv" "$tmp/killed/results.csv"; then ok; else ko "killed + resumed sweep differs from an uninterrupted one"; fi

# ---- value hooks, profile, technology axes ---------------------------------------------------
mkdir -p "$tmp/prof"
# 8-bit activations everywhere: Stripes then takes about half DaDianNao's cycles on conv layers.
echo '{"format": "effectual-precision-profile", "version": 1, "default": {"activations": {"int_bits": 4, "frac_bits": 4}}}' > "$tmp/prof/precision_profile.json"
cat > "$tmp/hooks.yaml" << YAML
compute: [simulate, eval, profile]
axes:
  model: [models/lenet5.onnx]
  data: [{set: "fashion-mnist:test", images: 2}]
  design: [stripes]
  precision: [none, $tmp/prof/precision_profile.json]
  technology: [65nm, configs/technology/28nm.yaml]
YAML
expect_ok sweep "$tmp/hooks.yaml" --out "$tmp/hooks" --threads 1
expect_ok simulate models/lenet5.onnx --data fashion-mnist:test --images 2 --designs stripes --threads 1 \
  --precision-profile "$tmp/prof/precision_profile.json" --technology configs/technology/28nm.yaml --out "$tmp/sim28"
if $py - "$tmp/hooks/results.json" "$tmp/sim28/totals.csv" "$tmp/one/results.json" <<'PY'
import csv, json, sys
pts = json.load(open(sys.argv[1]))["points"]
assert len(pts) == 4 and all(p["status"] == "ok" for p in pts)
by = {(p["values"]["precision"] != "none", p["values"]["technology"] != "65nm"): p["results"] for p in pts}
# Technology prices energy, never cycles; the profile changes Stripes' cycles.
assert by[(False, False)]["simulate"]["cycles"] == by[(False, True)]["simulate"]["cycles"]
assert by[(False, False)]["simulate"]["energy_pj"] != by[(False, True)]["simulate"]["energy_pj"]
assert by[(True, True)]["simulate"]["cycles"] < by[(False, True)]["simulate"]["cycles"]
row = [r for r in csv.DictReader(open(sys.argv[2])) if r["design"] == "stripes" and r["layers"] == "all"][0]
assert by[(True, True)]["simulate"]["cycles"] == int(row["cycles"]), (by[(True, True)]["simulate"]["cycles"], row["cycles"])
for r in by.values():
    assert 0 < r["profile"]["act_zero_fraction"] < 1 and 0 < r["profile"]["act_essential_bits"] <= 16, r["profile"]
# New axes at their defaults leave ids alone: the (none, 65nm) point is the first sweep's
# stripes/preset point.
ids = {(p["values"]["precision"] != "none", p["values"]["technology"] != "65nm"): p["id"] for p in pts}
first = [p for p in json.load(open(sys.argv[3]))["points"] if p["values"]["design"] == "stripes" and p["values"]["config"] == {}][0]
assert ids[(False, False)] == first["id"], (ids, first["id"])
PY
then ok; else ko "precision/technology/profile points disagree with simulate"; fi
n=$(find "$tmp/hooks/cache/captures" -mindepth 1 -maxdepth 1 -type d | wc -l)
if [ "$n" -eq 2 ]; then ok; else ko "expected 2 captures (with and without the profile), found $n"; fi

# A `search` step: the precision found once per model and set, the same file `search precision`
# writes, and the points simulated with it.
cat > "$tmp/search.yaml" << YAML
axes:
  model: [models/lenet5.onnx]
  data: [{set: "fashion-mnist:test", images: 2}]
  design: [stripes, dadiannao]
  precision: [{search: {keep: 99%, search_images: 40, report_images: 20, seed: 3}}]
YAML
expect_ok sweep "$tmp/search.yaml" --out "$tmp/searched"
expect_ok search precision models/lenet5.onnx --data fashion-mnist:test --search-images 40 --report-images 20 \
  --seed 3 --keep 99% --sim-images 0 --out "$tmp/cli_search"
found=$(find "$tmp/searched/cache/searches" -name precision_profile.json)
if [ "$(echo "$found" | wc -l)" -eq 1 ] && cmp -s "$found" "$tmp/cli_search/precision_profile.json"; then ok; else ko "the search step's profile differs from search precision's"; fi
expect_ok simulate models/lenet5.onnx --data fashion-mnist:test --images 2 --designs stripes --threads 1 \
  --precision-profile "$tmp/cli_search/precision_profile.json" --out "$tmp/sim_searched"
if $py - "$tmp/searched/results.json" "$tmp/sim_searched/totals.csv" <<'PY'
import csv, json, sys
pts = json.load(open(sys.argv[1]))["points"]
st = [p for p in pts if p["values"]["design"] == "stripes"][0]["results"]["simulate"]
row = [r for r in csv.DictReader(open(sys.argv[2])) if r["design"] == "stripes" and r["layers"] == "all"][0]
assert st["cycles"] == int(row["cycles"]), (st["cycles"], row["cycles"])
PY
then ok; else ko "the search step's points disagree with simulate on the searched profile"; fi
bad 7 "bad.yaml: axes.precision\[0\].search.target: unknown key" 'axes: {model: [models/lenet5.onnx], data: [fashion-mnist:test], design: [stripes], precision: [{search: {target: 1}}]}'

# ---- locks -----------------------------------------------------------------------------------
sleep 30 &
holder=$!
mkdir -p "$tmp/locked/locks"
echo "{\"process\": \"$(hostname)-$holder\", \"shard\": 0, \"shards\": 1}" > "$tmp/locked/locks/shard-0-of-1.lock"
expect_error 2 "another sweep \(process .*-$holder, shard 0/1\) is writing this folder" -- sweep "$spec" --out "$tmp/locked"
# A different split of the same folder would overlap it: refused too.
expect_error 2 "another sweep" -- sweep "$spec" --out "$tmp/locked" --shard 1/2
kill "$holder" 2> /dev/null
wait "$holder" 2> /dev/null
# The holder is gone: its lock is stale and the sweep goes ahead.
expect_ok sweep "$spec" --out "$tmp/locked" --shard 1/2 --threads 1
if [ ! -e "$tmp/locked/locks/shard-0-of-1.lock" ] && [ -z "$(ls "$tmp/locked/locks")" ]; then ok; else ko "locks left: $(ls "$tmp/locked/locks")"; fi

# ---- Slurm job array, run locally ------------------------------------------------------------
for i in 0 1; do
  if SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 EFFECTUAL="$bin" bash tools/slurm/sweep.sbatch "$spec" "$tmp/slurm" > /dev/null 2> "$tmp/err"; then
    ok
  else
    ko "sweep.sbatch task $i: $(head -c 300 "$tmp/err")"
  fi
done
if EFFECTUAL="$bin" bash tools/slurm/merge.sbatch "$tmp/slurm" > /dev/null 2> "$tmp/err"; then ok; else ko "merge.sbatch: $(head -c 300 "$tmp/err")"; fi
if cmp -s "$tmp/one/results.csv" "$tmp/slurm/results.csv"; then ok; else ko "Slurm results.csv differs from the single process's"; fi

# ---- MPI (when built with it) ----------------------------------------------------------------
if [ -e "$(dirname "$bin")/libeffectual_mpi.so" ] && command -v mpirun > /dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_plm_rsh_agent=false
  if mpirun -np 2 --oversubscribe "$bin" sweep "$spec" --out "$tmp/mpi" > "$tmp/out" 2> "$tmp/err"; then
    ok
  else
    ko "mpirun -np 2 sweep failed: $(head -c 400 "$tmp/err")"
  fi
  if grep -q "sweep: 6 point(s) on 2 MPI ranks" "$tmp/out"; then ok; else ko "mpi: $(cat "$tmp/out")"; fi
  for f in results.json results.csv report.html; do
    if cmp -s "$tmp/one/$f" "$tmp/mpi/$f"; then ok; else ko "MPI's $f differs from the single process's"; fi
  done
  # Both ranks computed points (rank 0 computes while it hands them out).
  procs=$($py -c 'import json,sys,glob; print(len({json.load(open(f))["timing"]["process"] for f in glob.glob(sys.argv[1] + "/points/*/point.json")}))' "$tmp/mpi")
  if [ "$procs" -eq 2 ]; then ok; else ko "expected points from 2 ranks, got $procs"; fi
else
  echo "note: MPI plugin or mpirun absent; MPI cases skipped"
fi

# ---- bad sweep files: one line naming the field ----------------------------------------------
base='axes: {model: [models/lenet5.onnx], data: [fashion-mnist:test], design: [stripes]}'
bad 7 "bad.yaml: colour: unknown key" "$base
colour: blue"
bad 7 "bad.yaml: axes.layout: unknown axis" 'axes: {model: [models/lenet5.onnx], layout: [a]}'
bad 7 "bad.yaml: axes.design\[1\]: 'stripez' is not a design" 'axes: {model: [models/lenet5.onnx], data: [fashion-mnist:test], design: [stripes, stripez]}'
bad 7 "bad.yaml: axes.model\[0\]: 'nope.onnx' is not a readable file" 'axes: {model: [nope.onnx], data: [fashion-mnist:test], design: [stripes]}'
bad 7 "bad.yaml: axes.data\[0\].images: '-3' is not a positive integer" 'axes: {model: [models/lenet5.onnx], data: [{set: fashion-mnist:test, images: -3}], design: [stripes]}'
bad 7 "bad.yaml: axes.data\[0\].size: unknown key" 'axes: {model: [models/lenet5.onnx], data: [{set: fashion-mnist:test, size: 3}], design: [stripes]}'
bad 7 "bad.yaml: axes.design: missing" 'axes: {model: [models/lenet5.onnx], data: [fashion-mnist:test]}'
bad 7 "bad.yaml: config 'tilez=8' of stripes.*tilez" 'axes: {model: [models/lenet5.onnx], data: [fashion-mnist:test], design: [stripes], config: [{tilez: 8}]}'
bad 7 "bad.yaml: compute\[0\]: 'simulat' is not simulate, eval or profile" "$base
compute: [simulat]"
bad 7 "bad.yaml: axes.design\[1\]: repeats an earlier value" 'axes: {model: [models/lenet5.onnx], data: [fashion-mnist:test], design: [stripes, stripes]}'
bad 7 "bad.yaml: line [0-9]+: " 'axes: [model'
expect_error 2 "--shard '2/2': must be I/N" -- sweep "$spec" --out "$tmp/bad" --shard 2/2
expect_error 2 "nope.yaml" -- sweep nope.yaml --out "$tmp/bad"
expect_error 2 "not a sweep folder" -- sweep merge "$tmp/nowhere"
# A point whose data range the set cannot give fails alone, named, and the sweep says so.
printf '%s\n' 'axes: {model: [models/lenet5.onnx], data: [{set: fashion-mnist:test, first: 9999, images: 5}], design: [stripes]}' > "$tmp/late.yaml"
expect_error 1 "1 point\(s\) failed; first: [0-9a-f]{16} \(stripes\): data set fashion-mnist:test: images \[9999, 10004\)" -- sweep "$tmp/late.yaml" --out "$tmp/late"

finish sweep_cli
