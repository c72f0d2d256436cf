#!/usr/bin/env bash
# A "report maker" for run_browser_test.sh: the combined report of a shipped model, built the way
# a user builds it (profile --out, simulate --out, report), with the charts the report design
# promises: profile = Figure-4 stacked zeros, 3 bars (precision, effectual bits, ...), 1 line,
# 1 roofline; simulation = network speedup, per-layer speedup, potential, utilisation.
#   make_model_report.sh BIN SOURCE_DIR OUT.html EXPECTED.txt
set -euo pipefail
bin=$1 src=$2 out=$3 expected=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/eff-model-report.XXXXXX")
trap 'rm -rf "$work"' EXIT
model=$src/models/lenet5.onnx
"$bin" profile "$model" --data fashion-mnist:test --images 8 --out "$work/profile" > /dev/null
"$bin" simulate "$model" --data fashion-mnist:test --images 2 --designs all --out "$work/sim" > /dev/null
# The search's sections: Table 2 and Table 1 of `search all`, and a --sweep frontier (1 line).
small=(--data fashion-mnist:test --search-images 40 --report-images 20 --seed 3)
"$bin" search all "$model" "${small[@]}" --sim-images 1 --out "$work/search" > /dev/null 2>&1
"$bin" search precision "$model" "${small[@]}" --sweep --sweep-targets 100,95,90 --out "$work/sweep" > /dev/null 2>&1
"$bin" report --profile "$work/profile/profile.json" --simulation "$work/sim/results.json" \
  --search "$work/search/search.json" --frontier "$work/sweep/frontier.json" --out "$out" > /dev/null
# The simulation's cost sections add 2 stacked bars (energy by component, area by kind) and 1
# grouped bar (compute vs memory cycles).
printf 'bar 9\nline 2\nroofline 1\nstacked-bar 3\n' > "$expected"
