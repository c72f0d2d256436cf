#!/usr/bin/env bash
# Regenerates the ONNX Runtime reference outputs of every shipped model:
#   models/<name>.ref/input.npy   test images 0..7, preprocessed as models/<name>.json says, float32 [8,1,28,28]
#   models/<name>.ref/labels.npy  their labels, int64 [8]
#   models/<name>.ref/logits.npy  ONNX Runtime's output (tools/ort/run_ort.js), float32 [8,10]
# Usage: tools/make_refs.sh [MODEL_NAME...]   (default: every models/*.onnx)
# Needs Debian's python3-numpy (/usr/bin/python3), dataset-fashion-mnist, node and npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ort_dir="$root/tools/ort"
py=/usr/bin/python3

if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  echo "make_refs: installing onnxruntime-node into tools/ort/node_modules"
  (cd "$ort_dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error)
fi

if [ "$#" -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in "$root"/models/*.onnx; do names+=("$(basename "$f" .onnx)"); done
fi

for name in "${names[@]}"; do
  model="$root/models/$name.onnx"
  meta="$root/models/$name.json"
  ref="$root/models/$name.ref"
  [ -f "$model" ] && [ -f "$meta" ] || { echo "make_refs: $model or $meta missing" >&2; exit 1; }
  rm -rf "$ref"
  mkdir -p "$ref"
  "$py" - "$meta" "$ref" <<'EOF'
import gzip, json, os, sys
import numpy as np
meta_path, ref = sys.argv[1], sys.argv[2]
meta = json.load(open(meta_path))
pre = meta["preprocessing"]
data = "/usr/share/datasets/fashion-mnist"
def idx(path):
    raw = gzip.open(path, "rb").read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)
images = idx(f"{data}/t10k-images-idx3-ubyte.gz")[:8]
labels = idx(f"{data}/t10k-labels-idx1-ubyte.gz")[:8].astype(np.int64)
if list(pre["resize"]) != [28, 28] or pre["channel_order"] != "gray":
    sys.exit("make_refs: only 28x28 grayscale preprocessing is supported")
x = images.astype(np.float32) * np.float32(pre["scale"])
x = (x - np.float32(pre["mean"][0])) / np.float32(pre["std"][0])
np.save(os.path.join(ref, "input.npy"), np.ascontiguousarray(x[:, None], dtype=np.float32))
np.save(os.path.join(ref, "labels.npy"), labels)
EOF
  node "$ort_dir/run_ort.js" "$model" "$ref/input.npy" "$ref" >/dev/null
  "$py" - "$ref" "$name" <<'EOF'
import os, sys
import numpy as np
ref, name = sys.argv[1], sys.argv[2]
logits = np.load(os.path.join(ref, "logits.npy"))
labels = np.load(os.path.join(ref, "labels.npy"))
pred = logits.argmax(1)
print(f"{name}: logits {list(logits.shape)} {logits.dtype}, predictions {pred.tolist()}, labels {labels.tolist()}, "
      f"{int((pred == labels).sum())}/8 correct")
EOF
done
