#!/usr/bin/env bash
# effectual gate and --gates (docs/gating.md): a small search on lenet5 writes the gates file, the
# results and the report; eval/run take the gates file; a resumed search replays its checkpoint;
# bad flags and bad gates files are one line and a non-zero exit.
set -u
bin=$1
root=$2
. "$(dirname "$0")/lib.sh"
cd "$root"
model=models/lenet5.onnx
small=(--data fashion-mnist:test --search-images 100 --report-images 100 --levels 4 --threads 1)

expect_ok gate $model "${small[@]}" --base 1/2 --out "$tmp/gates.json" --save "$tmp/s" --html "$tmp/g.html"
grep -q '"format": "effectual-gates"' "$tmp/gates.json" && ok || ko "no gates file: $(head -c 300 "$tmp/gates.json")"
grep -q '"layer": "/conv2/Conv"' "$tmp/gates.json" && ok || ko "conv2 not gated: $(head -c 300 "$tmp/gates.json")"
grep -q '"base_channels": 3' "$tmp/gates.json" && ok || ko "conv2 base path is not 3 of 6 channels"
for f in gate.json gate_layers.csv gate_classes.csv checkpoint.b2.json; do
  [ -s "$tmp/s/$f" ] && ok || ko "--save wrote no $f"
done
grep -q 'Dynamic gating' "$tmp/g.html" && ok || ko "the HTML report has no gating section"
grep -q 'network FLOP reduction' "$tmp/out" && ok || ko "no summary: $(head -c 300 "$tmp/out")"
searched=$(grep -E 'network FLOP reduction|^report ' "$tmp/out")

# --evaluate measures a given gates file on the same subsets: the searched file gives the search's
# own final numbers; every gate open (-inf) saves nothing.
expect_ok gate $model "${small[@]}" --evaluate "$tmp/gates.json"
[ "$(grep -E 'network FLOP reduction|^report ' "$tmp/out")" = "$searched" ] && ok ||
  ko "--evaluate of the searched file differs: $(grep -E 'network FLOP|^report ' "$tmp/out") vs $searched"
printf '{"format":"effectual-gates","version":1,"kind":"channel","layers":[{"layer":"/conv2/Conv","base_channels":3,"thresholds":["-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf","-inf"]}]}' > "$tmp/open.json"
expect_ok gate $model "${small[@]}" --evaluate "$tmp/open.json"
grep -q 'network FLOP reduction: 1.00x on the search subset, 1.00x' "$tmp/out" && grep -q 'per-channel' "$tmp/out" && ok ||
  ko "open gates saved FLOPs: $(grep 'network FLOP' "$tmp/out")"
expect_error 2 "--evaluate takes the kind" -- gate $model "${small[@]}" --evaluate "$tmp/gates.json" --precision 8/4

# The same search resumed answers every evaluation from the checkpoint.
expect_ok gate $model "${small[@]}" --base 1/2 --save "$tmp/s" --resume --json
grep -q '"from_checkpoint": 0,' "$tmp/out" && ko "the resumed search replayed nothing" || ok

expect_ok eval $model --data fashion-mnist:test --limit 100 --threads 1 --gates "$tmp/gates.json"
expect_ok run $model --data fashion-mnist:test --limit 1 -v --gates "$tmp/gates.json"
grep -q 'GatedConv *gated:channel' "$tmp/err" && ok || ko "run -v does not show GatedConv: $(head -c 300 "$tmp/err")"

expect_ok gate $model "${small[@]}" --precision 8/4 --out "$tmp/pg.json"
grep -q '"kind": "precision"' "$tmp/pg.json" && grep -q '"high_bits": 4' "$tmp/pg.json" && ok ||
  ko "no precision gates: $(head -c 300 "$tmp/pg.json")"
expect_ok eval $model --data fashion-mnist:test --limit 50 --threads 1 --gates "$tmp/pg.json"

# Grouped base paths: conv2 (6 -> 16 channels) in 2 shuffled groups of 3; the file records it, eval
# and --evaluate run it (the search's own numbers again).
expect_ok gate $model "${small[@]}" --base 1/2 --grouping shuffle --out "$tmp/sg.json"
grep -q '"grouping": "shuffle"' "$tmp/sg.json" && grep -q '"groups": 2' "$tmp/sg.json" && ok ||
  ko "no grouped gates: $(head -c 400 "$tmp/sg.json")"
grep -q 'base 1/2, shuffle groups' "$tmp/out" && ok || ko "the summary does not name the grouping: $(head -c 300 "$tmp/out")"
grouped=$(grep -E 'network FLOP reduction|^report ' "$tmp/out")
expect_ok gate $model "${small[@]}" --evaluate "$tmp/sg.json"
[ "$(grep -E 'network FLOP reduction|^report ' "$tmp/out")" = "$grouped" ] && ok ||
  ko "--evaluate of the grouped file differs: $(grep -E 'network FLOP|^report ' "$tmp/out") vs $grouped"
expect_ok eval $model --data fashion-mnist:test --limit 50 --threads 1 --gates "$tmp/sg.json"
expect_error 2 "needs base fractions 1/G" -- gate $model "${small[@]}" --base 0.3 --grouping contiguous
expect_error 2 "--grouping: 'diagonal'" -- gate $model "${small[@]}" --grouping diagonal
expect_error 2 "--grouping applies" -- gate $model "${small[@]}" --grouping shuffle --precision 8/4
printf '{"format":"effectual-gates","version":1,"kind":"channel","grouping":"shuffle","layers":[{"layer":"/conv2/Conv","base_channels":1,"groups":4,"threshold":0}]}' > "$tmp/bad.json"
expect_error 7 "groups 4 must divide the 6 input" -- eval $model --data fashion-mnist:test --gates "$tmp/bad.json"

expect_error 2 "--base: '3' is not a fraction" -- gate $model "${small[@]}" --base 3
expect_error 2 "--precision: '8-4'" -- gate $model "${small[@]}" --precision 8-4
expect_error 2 "--resume needs --save" -- gate $model "${small[@]}" --resume
printf '{"format":"effectual-gates","version":1,"kind":"channel","layers":[{"layer":"/conv2/Conv","base_channels":3,"threshold":0,"colour":1}]}' > "$tmp/bad.json"
expect_error 7 'layers\[0\]\.colour: unknown key' -- eval $model --data fashion-mnist:test --gates "$tmp/bad.json"
printf '{"format":"effectual-gates","version":1,"kind":"channel","layers":[{"layer":"nope","base_channels":3,"threshold":0}]}' > "$tmp/bad.json"
expect_error 7 "layer 'nope'" -- eval $model --data fashion-mnist:test --gates "$tmp/bad.json"
expect_error 7 "layer 'nope'" -- gate $model "${small[@]}" --evaluate "$tmp/bad.json"
expect_error 2 "profile observes" -- profile $model --data fashion-mnist:test --images 1 --gates "$tmp/gates.json"

finish gate_cli
