#!/usr/bin/env bash
# Models as they come (tests/fixtures/shapes): dynamic input dims taken from the tensors given,
# --input-shape per named input, NAME=FILE inputs, graphs in any node order, outputs that are not
# class scores, NaN/Inf reported, thread counts and requests beyond the data capped with a notice.
# Usage: shapes_cli_tests.sh BIN SOURCE_DIR
set -u
bin=$1
src=$2
fx=$src/tests/fixtures/shapes
bad=$src/tests/fixtures/bad
model=$src/models/lenet5.onnx
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

py_nan() {  # writes a .npy of the given shape filled with NaN, without Python: header + payload
  local file=$1 n=$2 shape=$3
  local header="{'descr': '<f4', 'fortran_order': False, 'shape': ($shape), }"
  local pad=$(( (64 - (10 + ${#header} + 1) % 64) % 64 ))
  {
    printf '\x93NUMPY\x01\x00'
    local len=$(( ${#header} + pad + 1 ))
    printf "\\x$(printf %02x $((len % 256)))\\x$(printf %02x $((len / 256)))"
    printf '%s%*s\n' "$header" "$pad" ""
    for ((i = 0; i < n; i++)); do printf '\x00\x00\xc0\x7f'; done
  } > "$file"
}

# Dynamic N, H, W: the tensor says its shape, every size runs.
expect_ok run "$fx/dynamic_hw.onnx" "$fx/dynamic_hw.0.x.npy" "$fx/dynamic_hw.1.x.npy" --json
if grep -q '"index": 1' "$tmp/out"; then ok; else ko "dynamic_hw: the second image of the batch of 2 is missing"; fi
# Class scores (no class list: indices) and, beside them, the probability map summarised, not dropped.
expect_ok run "$fx/dynamic_hw.onnx" "$fx/dynamic_hw.0.x.npy"
if grep -q "dynamic_hw.0.x.npy\[0\]:  class [0-4] 0\." "$tmp/out" && grep -q "output 'prob_map' float32 \[1, 1, 20, 24\]: min" "$tmp/out"; then
  ok
else
  ko "dynamic_hw: class scores and the prob_map summary: $(head -c 300 "$tmp/out")"
fi
# info without --input-shape on dynamic H/W: what the graph says, sizes and MACs as "?" (null in
# JSON), and a hint; it refused with "has dynamic dimension(s)" before.
expect_ok info "$fx/dynamic_hw.onnx"
if grep -q "input 'x' float32 \[N,3,H,W\]: sizes depend on the input" "$tmp/out" &&
  grep -Eq "^ +0 conv1 +conv +\? +\? +3 +3 +3 +8 +1x1 +1,1,1,1 +1 +1x1 +\? +224$" "$tmp/out" &&
  grep -q "hint: for sizes and MACs give the input's size, e.g. --input-shape x:1,3,H,W" "$tmp/out"; then
  ok
else
  ko "info on dynamic H/W without --input-shape: $(head -c 600 "$tmp/out")"
fi
expect_ok info "$fx/dynamic_hw.onnx" --json
if /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
conv1, fc = j["layers"][0], j["layers"][2]
assert (conv1["Nx"], conv1["Ny"], conv1["Ni"], conv1["Nf"], conv1["Kx"], conv1["macs"]) == (None, None, 3, 8, 3, None), conv1
assert conv1["stride"] == [1, 1] and conv1["pad"] == [1, 1, 1, 1] and conv1["groups"] == 1 and conv1["params"] == 224
assert (fc["kind"], fc["Ni"], fc["Nf"], fc["macs"]) == ("fc", 8, 5, 40), fc  # known without H/W
assert j["totals"]["macs"] is None and j["totals"]["params"] == 224 + 9 + 45 and "--input-shape" in j["sizes_unknown"]
assert j["inputs"][0]["dim_names"] == ["N", "", "H", "W"] and j["inputs"][0]["shape"] is None
' "$tmp/out"; then ok; else ko "info --json on dynamic H/W: $(head -c 600 "$tmp/out")"; fi
expect_ok info "$src/tests/fixtures/real/ppocr_det_small.onnx"
if grep -q "input 'x' float32 \[p2o.DynamicDimension.0,3,p2o.DynamicDimension.1,p2o.DynamicDimension.2\]" "$tmp/out" &&
  grep -q "hint: .*--input-shape x:1,3,H,W" "$tmp/out"; then
  ok
else
  ko "info on ppocr_det_small: $(head -c 600 "$tmp/out")"
fi
# A sequence model: a MatMul's rows follow the sequence length, so its MACs are unknown too; the
# hint names the symbolic dim.
expect_ok info "$src/tests/fixtures/real/transformer_block.onnx" --json
if /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
mm = [l for l in j["layers"] if l["op"] == "MatMul"]
assert mm and all(l["macs"] is None and l["Ni"] in (32, 128) for l in mm), mm
' "$tmp/out"; then ok; else ko "info --json transformer_block: $(head -c 400 "$tmp/out")"; fi
expect_ok info "$src/tests/fixtures/real/transformer_block.onnx"
if grep -q "hint: .*--input-shape tokens:1,seq,32" "$tmp/out"; then ok; else ko "info transformer_block hint: $(tail -3 "$tmp/out")"; fi
expect_ok info "$fx/dynamic_hw.onnx" --input-shape x:1,3,40,30 --json
if grep -q '"Nx": 30' "$tmp/out"; then ok; else ko "info --input-shape x:1,3,40,30 did not give conv1 Nx=30"; fi
expect_ok bench "$fx/dynamic_hw.onnx" --input-shape 1,3,32,32 --repeat 2 --per-layer
if grep -q "^conv1 .*Conv" "$tmp/out" && grep -q "^by op:" "$tmp/out"; then ok; else ko "bench --per-layer table"; fi
# Exported node names differ at their ends: the table keeps them (was cut to 31 characters + '~').
expect_ok bench "$src/tests/fixtures/real/mobilenetv2_small.onnx" --per-layer --repeat 1 --warmup 0
if grep -q "^/features/features.2/conv/conv.0/conv.0.0/Conv  *Conv " "$tmp/out"; then ok; else ko "bench --per-layer names: $(head -c 300 "$tmp/out")"; fi
expect_error 2 "has no input named 'nope'" -- info "$fx/dynamic_hw.onnx" --input-shape nope:1,3,8,8
expect_error 5 "input 'x' expects shape \[N, 3, H, W\], got \[1, 2, 8, 8\]" -- info "$fx/dynamic_hw.onnx" --input-shape x:1,2,8,8

# gate and optimize took the layers' geometry from the model's own (dynamic) shape and refused.
/usr/bin/python3 - "$tmp" << 'PY'
import numpy as np, sys
r = np.random.RandomState(0)
np.save(sys.argv[1] + "/dh6.npy", r.standard_normal((6, 3, 16, 16)).astype(np.float32))
np.save(sys.argv[1] + "/dh6_labels.npy", r.randint(0, 5, 6).astype(np.int64))
PY
expect_ok gate "$fx/dynamic_hw.onnx" --input "$tmp/dh6.npy" --labels "$tmp/dh6_labels.npy" --search-images 3 --report-images 3 --threads 1
expect_ok optimize "$fx/dynamic_hw.onnx" --input "$tmp/dh6.npy" --labels "$tmp/dh6_labels.npy" --search-images 3 --report-images 3 --threads 1 --out "$tmp/dh_opt"

# Several named inputs.
expect_ok run "$fx/two_inputs.onnx" "a=$fx/two_inputs.0.a.npy" "b=$fx/two_inputs.0.b.npy" --out "$tmp/two"
if [ -f "$tmp/two/y.npy" ]; then ok; else ko "two_inputs: y.npy not written"; fi
expect_error 2 "input 'b' is not given \(the model's inputs: a, b" -- run "$fx/two_inputs.onnx" "a=$fx/two_inputs.0.a.npy"
expect_error 2 "the model has 2 inputs \(a, b\); give each as NAME=FILE.npy" -- run "$fx/two_inputs.onnx" "$fx/two_inputs.0.a.npy"

# Inputs that are not images: --input takes a tensor of the model input's rank (items along the
# first dimension) in profile, simulate, trace, eval and bench; several inputs as NAME=FILE.npy.
tf=$src/tests/fixtures/real/transformer_dynq
tokens=$tf.ref/inputs/tokens.npy  # [2, 12, 32]
expect_ok profile "$tf.onnx" --input "$tokens" --threads 1 --json
if /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); q=[l for l in d["layers"] if l["activations"]["fixed16"]["source"] == "quantized-model"]; assert d["images"] == 2 and len(d["layers"]) == 8 and len(q) == 8, (d["images"], len(d["layers"]), len(q))' < "$tmp/out"; then
  ok
else
  ko "profile transformer_dynq --input tokens.npy: not 2 items with 8 quantized layers"
fi
expect_ok simulate "$tf.onnx" --input "$tokens" --images 2 --designs stripes --threads 1
if grep -q "^2 image(s), 16 layer record(s)" "$tmp/out" && grep -q "^precision: 8 quantized layer(s)" "$tmp/out"; then
  ok
else
  ko "simulate transformer_dynq --input tokens.npy: $(head -c 300 "$tmp/out")"
fi
expect_ok trace "$tf.onnx" --input "$tokens" --images 2 --out "$tmp/tftrace"
if grep -q "wrote a trace of 8 layer(s) for 2 image(s)" "$tmp/out"; then ok; else ko "trace transformer_dynq: $(cat "$tmp/out")"; fi
expect_ok bench "$tf.onnx" --input "$tokens" --batch 3 --repeat 2
if grep -q "batch 3," "$tmp/out"; then ok; else ko "bench transformer_dynq --batch 3: $(cat "$tmp/out")"; fi
# A MatMul over [batch, seq, C] is simulated over every row (a 1x1 convolution over the 12
# rows): live and from a trace alike, and --check-values recomputes every row's outputs.
tb=$src/tests/fixtures/real/transformer_block
expect_ok simulate "$tb.onnx" --input "$tb.ref/inputs/tokens.npy" --images 2 --designs dadiannao,stripes --json
cp "$tmp/out" "$tmp/tb_live.json"
expect_ok trace "$tb.onnx" --input "$tb.ref/inputs/tokens.npy" --images 2 --out "$tmp/tbtrace"
expect_ok simulate --traces "$tmp/tbtrace" --designs dadiannao,stripes --json
if /usr/bin/python3 - "$tmp/tb_live.json" "$tmp/out" << 'PY'
import json, sys
live, traced = (json.load(open(f))["layers"] for f in sys.argv[1:3])
key = lambda r: (r["image"], r["layer"], r["design"], r["kind"], r["macs"], r["cycles"])
assert len(live) == 32 and [key(r) for r in live] == [key(r) for r in traced], "live and traced records differ"
qkv = [r for r in live if r["name"] == "/qkv/MatMul" and r["design"] == "dadiannao"]
# 12 rows (windows) x 1 filter set (96 filters) x 2 steps (32 channels on 16 lanes)
assert qkv[0]["cycles"] == 24 and qkv[0]["kind"] == "fc", qkv[0]
PY
then ok; else ko "transformer_block: live and --traces records differ"; fi
expect_ok simulate "$tb.onnx" --input "$tb.ref/inputs/tokens.npy" --images 2 --designs all --check-values
if grep -q "^check-values: 112 (layer, design) pair(s) recomputed from the scheduled values, all match" "$tmp/out"; then ok; else ko "transformer_block --check-values: $(tail -c 300 "$tmp/out")"; fi
/usr/bin/python3 - "$tmp" << 'PY'
import numpy as np, sys
np.save(sys.argv[1] + "/tokens_33.npy", np.zeros((2, 12, 33), np.float32))
np.save(sys.argv[1] + "/tokens_rank4.npy", np.zeros((2, 12, 32, 1), np.float32))
np.save(sys.argv[1] + "/b_3.npy", np.zeros((3, 4), np.float32))
np.save(sys.argv[1] + "/labels_2.npy", np.array([2, 0], np.int64))
PY
expect_error 5 "tokens_33.npy: input 'tokens' expects shape \[batch, seq, 32\], got \[2, 12, 33\]$" -- profile "$tf.onnx" --input "$tmp/tokens_33.npy"
expect_error 5 "tokens_rank4.npy: input 'tokens' expects shape \[batch, seq, 32\], got \[2, 12, 32, 1\]$" -- simulate "$tf.onnx" --input "$tmp/tokens_rank4.npy"
# Two inputs, sharing the first dimension.
ta="a=$fx/two_inputs.0.a.npy"
tb="b=$fx/two_inputs.0.b.npy"
expect_ok profile "$fx/two_inputs.onnx" --input "$ta" --input "$tb" --json
if grep -q '"images": 2' "$tmp/out"; then ok; else ko "profile two_inputs: not 2 items"; fi
expect_ok eval "$fx/two_inputs.onnx" --input "$tb" --input "$ta" --labels "$tmp/labels_2.npy"
if grep -q ": 2 images, top-1" "$tmp/out"; then ok; else ko "eval two_inputs: $(cat "$tmp/out")"; fi
expect_ok trace "$fx/two_inputs.onnx" --input "$ta" --input "$tb" --images 2 --out "$tmp/two_trace"
expect_ok bench "$fx/two_inputs.onnx" --input "$ta" --input "$tb" --repeat 2
expect_error 6 "b=.*b_3.npy has 3 item\(s\) \(first dimension\) but a=.*has 2; the inputs share the first dimension" -- simulate "$fx/two_inputs.onnx" --input "$ta" --input "b=$tmp/b_3.npy"
expect_error 2 "input 'b' is not given \(the model's inputs: a, b" -- profile "$fx/two_inputs.onnx" --input "$ta"
expect_error 2 "the model has 2 inputs \(a, b\); give each as --input NAME=FILE.npy" -- trace "$fx/two_inputs.onnx" --input "$fx/two_inputs.0.a.npy" --out "$tmp/t2"
expect_error 2 "the model has 2 inputs \(a, b\); --data feeds one" -- profile "$fx/two_inputs.onnx" --data fashion-mnist:test
# bench took the first input from --data and generated the others: refused like everywhere else.
expect_error 2 "the model has 2 inputs \(a, b\); --data feeds one" -- bench "$fx/two_inputs.onnx" --data fashion-mnist:test --repeat 2
# --data FILE.npz: one numpy.savez array per input (named as the input), 'labels' optional.
/usr/bin/python3 - "$tmp" "$fx" << 'PY'
import numpy as np, sys
t, fx = sys.argv[1], sys.argv[2]
a, b = np.load(fx + "/two_inputs.0.a.npy"), np.load(fx + "/two_inputs.0.b.npy")
np.savez(t + "/two.npz", b=b, a=a, labels=np.array([2, 0], np.int64))
np.savez_compressed(t + "/two_z.npz", a=a, b=b)
np.savez(t + "/two_missing.npz", a=a)
np.savez(t + "/two_extra.npz", a=a, b=b, c=b)
np.savez(t + "/two_rows.npz", a=a, b=np.zeros((3, 4), np.float32))
np.savez(t + "/two_shape.npz", a=a, b=np.zeros((2, 5), np.float32))
raw = bytearray(open(t + "/two.npz", "rb").read())
raw[raw.index(b.tobytes()) + 1] ^= 0x40  # one flipped bit inside b's values
open(t + "/two_crc.npz", "wb").write(bytes(raw))
open(t + "/not_zip.npz", "wb").write(b"not a zip file at all, just text that is long enough")
PY
expect_ok run "$fx/two_inputs.onnx" --data "$tmp/two.npz" --out "$tmp/two_npz"
if cmp -s "$tmp/two_npz/y.npy" "$tmp/two/y.npy"; then ok; else ko "run --data two.npz differs from NAME=FILE.npy inputs"; fi
expect_ok profile "$fx/two_inputs.onnx" --data "$tmp/two.npz" --json
if grep -q '"images": 2' "$tmp/out"; then ok; else ko "profile --data two.npz: not 2 items"; fi
expect_ok eval "$fx/two_inputs.onnx" --data "$tmp/two.npz"
if grep -q ": 2 images, top-1" "$tmp/out"; then ok; else ko "eval --data two.npz: $(cat "$tmp/out")"; fi
expect_ok simulate "$fx/two_inputs.onnx" --data "$tmp/two.npz" --images 2 --designs stripes
expect_ok bench "$fx/two_inputs.onnx" --data "$tmp/two.npz" --repeat 2 --json
if grep -q '"batch": 1' "$tmp/out"; then ok; else ko "bench --data two.npz: $(cat "$tmp/out")"; fi
expect_error 6 "two_z.npz: array 'a' is compressed \(zip method 8\); save with numpy.savez" -- run "$fx/two_inputs.onnx" --data "$tmp/two_z.npz"
expect_error 6 "two_missing.npz: no array 'b' for the model's input of that name \(the archive holds: a\)" -- profile "$fx/two_inputs.onnx" --data "$tmp/two_missing.npz"
expect_error 6 "two_extra.npz: array 'c' is not a model input \(the model's inputs: a, b" -- eval "$fx/two_inputs.onnx" --data "$tmp/two_extra.npz"
expect_error 6 "two_rows.npz: array 'b' has 3 item\(s\) \(first dimension\) but .*two_rows.npz: array 'a' has 2" -- bench "$fx/two_inputs.onnx" --data "$tmp/two_rows.npz" --repeat 1
expect_error 5 "two_shape.npz: array 'b': input 'b' expects shape" -- simulate "$fx/two_inputs.onnx" --data "$tmp/two_shape.npz"
expect_error 6 "two_crc.npz: array 'b': CRC mismatch" -- run "$fx/two_inputs.onnx" --data "$tmp/two_crc.npz"
expect_error 6 "not_zip.npz: not a .npz file" -- run "$fx/two_inputs.onnx" --data "$tmp/not_zip.npz"

# Node order: sorted on load; a cycle is named.
expect_ok run "$fx/unsorted.onnx" "$fx/unsorted.0.x.npy"
expect_error 3 "cycle.onnx: the graph has a cycle: 'first' \(Add\) -> 'second' \(Relu\) -> 'third' \(Neg\)" -- info "$bad/cycle.onnx"

# No conv/FC layer: run works, profile and simulate say there is nothing to look at (they printed
# "0 images, 0 layers" tables).
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([[1, 2, 3], [4, 5, 49]], np.int64))' "$tmp/ids.npy"
expect_ok run "$bad/no_layers.onnx" "$tmp/ids.npy"
# Token ids from a float file: whole numbers convert, 3.5 was truncated to id 3 without a word.
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([[1, 2, 3]], np.float32)); np.save(sys.argv[2], np.array([[1, 2, 3.5]], np.float32))' "$tmp/ids_f.npy" "$tmp/ids_half.npy"
expect_ok run "$bad/no_layers.onnx" "$tmp/ids_f.npy"
expect_error 6 "ids_half.npy: input 'ids' takes int64 values; element 2 of the file \(float32\) is 3.5, which it cannot hold" -- run "$bad/no_layers.onnx" "$tmp/ids_half.npy"
# 2^63 is one past int64's range (as a double it equals the rounded INT64_MAX): refused, not wrapped.
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([[1, 2, 2.0**63]], np.float64))' "$tmp/ids_big.npy"
expect_error 6 "ids_big.npy: input 'ids' takes int64 values; element 2 of the file \(float64\) is 9.223372036854776e\+18, which it cannot hold" -- run "$bad/no_layers.onnx" "$tmp/ids_big.npy"
expect_error 2 "no_layers.onnx: the model has no conv/FC layer to profile" -- profile "$bad/no_layers.onnx" --input "$tmp/ids.npy"
expect_error 2 "no_layers.onnx: the model has no conv/FC layer to simulate" -- simulate "$bad/no_layers.onnx" --input "$tmp/ids.npy" --designs stripes

# An input without a shape field (no rank either): the shape comes from the tensor, as in ONNX
# Runtime; with no tensor (bench on zeros, info's sizes) the input is named and --input-shape asked for.
expect_ok run "$fx/no_shape.onnx" "$fx/no_shape.0.x.npy" --out "$tmp/no_shape"
if /usr/bin/python3 -c '
import numpy as np, sys
for name in ("scores", "prob_map"):
    got, want = np.load(f"{sys.argv[1]}/{name}.npy"), np.load(f"{sys.argv[2]}.0.{name}.npy")
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-5 * np.abs(want).max(), name
' "$tmp/no_shape" "$fx/no_shape"; then ok; else ko "no_shape: outputs differ from ONNX Runtime's"; fi
expect_error 2 "no_shape.onnx: input 'x' has no declared shape; give --input-shape x:<dims> or an input tensor" -- bench "$fx/no_shape.onnx" --repeat 1
expect_ok bench "$fx/no_shape.onnx" --input-shape x:1,3,16,16 --repeat 1
expect_ok info "$fx/no_shape.onnx"
if grep -q "input 'x' float32 \[no declared shape\]: sizes depend on the input" "$tmp/out"; then ok; else ko "info no_shape: $(head -c 300 "$tmp/out")"; fi

# Logits without a class list (a torchvision-style export: Gemm output, no sidecar) are not class
# scores: shape and statistics, and each row's arg-max labelled as an index (ONNX Runtime's argmax).
real=$src/tests/fixtures/real
expect_ok run "$real/mobilenetv2_small.onnx" "$real/mobilenetv2_small.ref/inputs/input.npy" --json
if /usr/bin/python3 -c '
import json, sys, numpy as np
j = json.load(open(sys.argv[1]))
want = np.load(sys.argv[2]).argmax(axis=1).tolist()
r = j["results"][0]
assert "top" not in r, r
assert r["outputs"][0]["argmax_index"] == want, (r, want)
' "$tmp/out" "$real/mobilenetv2_small.ref/outputs/output.npy"; then ok; else ko "logits without classes: $(head -c 400 "$tmp/out")"; fi
expect_ok run "$real/mobilenetv2_small.onnx" "$real/mobilenetv2_small.ref/inputs/input.npy"
if grep -q "output 'output' float32 \[2, 10\]: min .*; arg-max index per row [0-9], [0-9] (logits without a class list" "$tmp/out" && ! grep -q "class [0-9]" "$tmp/out"; then
  ok
else
  ko "logits without classes, text: $(head -c 400 "$tmp/out")"
fi

# Not a classifier: each output's shape and statistics, no class list.
expect_ok run "$fx/seg_map.onnx" "$fx/seg_map.0.x.npy"
if grep -q "output 'prob_map' float32 \[1, 1, 20, 24\]: min" "$tmp/out" && ! grep -q "(0)" "$tmp/out"; then
  ok
else
  ko "seg_map: expected a summary of prob_map, got: $(head -c 300 "$tmp/out")"
fi

# Sidecars: a wrong type names its key and file; a class list for another model is said, not used.
printf '{"classes": 5}' > "$tmp/meta_classes.json"
expect_error 7 "meta_classes.json: 'classes': .*type must be array" -- run "$model" "$src/models/images/0000_ankle_boot.png" --meta "$tmp/meta_classes.json"
printf '{"preprocessing": {"mean": [1, 2, 3, 4]}}' > "$tmp/meta_mean.json"
expect_error 7 "meta_mean.json: preprocessing: 'mean' has 4 values; channel_order gray needs 1$" -- run "$model" "$src/models/lenet5.ref/input.npy" --preprocess "$tmp/meta_mean.json"
printf '{"classes": ["a", "b"]}' > "$tmp/meta_two.json"
expect_ok run "$model" "$src/models/lenet5.ref/input.npy" --meta "$tmp/meta_two.json"
if grep -q "note: .*meta_two.json: 2 class name(s), but output 'logits' has 10 values per item" "$tmp/err" && grep -q "output 'logits' float32 \[8, 10\]" "$tmp/out"; then
  ok
else
  ko "class list of another model: $(head -c 300 "$tmp/err")"
fi

# NaN in, NaN out, and said so.
py_nan "$tmp/nan.npy" 784 "1, 1, 28, 28"
expect_ok run "$model" "$tmp/nan.npy"
if grep -q "input 'input' holds 784 NaN, 0 Inf" "$tmp/err" && grep -qi "nan" "$tmp/out"; then
  ok
else
  ko "all-NaN input: stdout '$(head -c 200 "$tmp/out")' stderr '$(head -c 300 "$tmp/err")'"
fi

# eval: an all-NaN row's classes ranked by index put class 0 first, and label 0 counted as right.
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([0], np.int64))' "$tmp/label0.npy"
expect_ok eval "$model" --input "$tmp/nan.npy" --labels "$tmp/label0.npy"
if grep -q "1 images, top-1 0.00%, top-5 0.00%" "$tmp/out" && grep -q "those images count as wrong" "$tmp/err"; then
  ok
else
  ko "eval all-NaN input labelled 0: $(cat "$tmp/out")"
fi

# eval on a probability map (it counted the pixels as classes) or with labels past the classes.
expect_error 5 "seg_map.onnx: output 'prob_map' has shape \[1, 1, 20, 24\]; eval needs class scores \[1, classes\]" -- eval "$fx/seg_map.onnx" --input "$fx/seg_map.0.x.npy" --labels "$tmp/label0.npy"
expect_error 5 "seg_map.onnx: output 'prob_map' has shape \[1, 1, 33, 17\] per item, not class scores \[1, classes\]; --metric top1-agreement needs them" -- search precision "$fx/seg_map.onnx" --input "$fx/dynamic_hw.1.x.npy" --search-images 1 --report-images 1 --metric top1-agreement --out "$tmp/seg_search"
/usr/bin/python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.array([10], np.int64))' "$tmp/label10.npy"
expect_error 6 "nan.npy: label 10 of item 0 is not one of the model's 10 classes \(0 to 9\)" -- eval "$model" --input "$tmp/nan.npy" --labels "$tmp/label10.npy"

expect_ok simulate "$model" --input "$tmp/nan.npy" --designs stripes
if grep -q "warning: the inputs hold 784 NaN, 0 Inf; the designs see NaN as 0" "$tmp/err"; then ok; else ko "simulate all-NaN input: $(head -c 300 "$tmp/err")"; fi

# Capped with a notice, not a hang or a crash.
expect_ok run "$model" "$src/models/lenet5.ref/input.npy" --threads 100000
if grep -q "note: --threads 100000: this process may run on" "$tmp/err"; then ok; else ko "--threads 100000: no notice"; fi
# search passed --threads to its evaluators and simulator uncapped: a segmentation fault.
expect_ok search precision "$model" --input "$src/models/lenet5.ref/input.npy" --labels "$src/models/lenet5.ref/labels.npy" --search-images 2 --report-images 2 --sim-images 1 --threads 100000
if [ "$(grep -c "note: --threads 100000: this process may run on" "$tmp/err")" = 1 ]; then ok; else ko "search --threads 100000: not one notice: $(head -c 300 "$tmp/err")"; fi
expect_ok trace "$model" --data fashion-mnist:test --images 100000000 --first 9998 --out "$tmp/trace"
if grep -q "note: --images 100000000: fashion-mnist:test has 2 item(s) from index 9998; using 2" "$tmp/err"; then
  ok
else
  ko "--images beyond the data: $(head -c 300 "$tmp/err")"
fi
# bench tiles the data to the batch (say so); a batch or shape past the tensor limit names its option/input.
expect_ok bench "$model" --data fashion-mnist:test --batch 10001 --repeat 1 --warmup 0
if grep -q "note: --batch 10001: fashion-mnist:test has 10000 item(s); they are repeated" "$tmp/err"; then ok; else ko "bench --batch 10001: $(cat "$tmp/err")"; fi
expect_error 2 "^effectual: --batch 100000000: input 'input' would exceed the [0-9]+ byte limit$" -- bench "$model" --batch 100000000
expect_error 5 "dynamic_hw.onnx: input 'x' of shape \[1, 3, 99999999, 99999999\] \(float32\) exceeds" -- info "$fx/dynamic_hw.onnx" --input-shape x:1,3,99999999,99999999
expect_error 5 "dynamic_hw.onnx: input 'x' of shape \[1, 3, 99999999, 99999999\] \(float32\) exceeds" -- bench "$fx/dynamic_hw.onnx" --input-shape x:1,3,99999999,99999999
expect_error 2 "--first 10000 is past the end of fashion-mnist:test \(10000 items\)" -- run "$model" --data fashion-mnist:test --first 10000
expect_error 2 "synthetic runs take at most" -- simulate --synthetic --network vgg16 --images 100000000

# A number too large for a double in a configuration file (found by tests/fuzz/fuzz_configs.cpp:
# the JSON library's out_of_range escaped as a crash): one line, config error.
printf '{"format": "effectual-thresholds", "version": 1, "default": 1e999999}' > "$tmp/overflow.json"
expect_error 7 "overflow.json: not valid JSON" -- eval "$model" --data fashion-mnist:test --limit 10 --thresholds "$tmp/overflow.json"

finish "shapes CLI tests"
