#!/usr/bin/python3
"""Fine-tunes a model written by `effectual optimize` (compensation (c) of issue 11, docs/deft.md).

Run with Debian's Python (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tools/finetune_deft.py OPT/vgg.onnx --out OPT_FT [--images 10000] [--epochs 1]
                                            [--lr 1e-4] [--eval-images 2000] [--seed 0]

The optimized model is the original ONNX plus the DeftNN plan in its sidecar and the planned layers'
weights in NAME.deft.bin (src/deft/deft_file.h). This script runs the whole network in torch (a small
interpreter for the ONNX ops of the shipped models), with each planned layer as the DeftLayer runs
it: its synapse vectors eliminated (the dropped inputs removed: their weight columns are zero and
stay zero), its weights already compensated (fold/scale) and, for a conv, batch normalization folded
in (the engine folds it at load, so the BatchNormalization node after a planned conv is skipped).
Only the planned layers' kept weights and biases train, on Fashion-MNIST training images
(cross-entropy, Adam); the rest of the network is frozen as in the ONNX. Weights of the 16-bit
formats (deft16, deft16q, bf16dot) see their bf16 rounding in the forward pass (straight-through);
fp8 layers train in fp32 and are rounded again when the engine packs them.

Writes OUT/NAME.onnx (unchanged), OUT/NAME.json (the sidecar with a "finetune" record) and
OUT/NAME.deft.bin (the new weights), and prints top-1 before and after on the first --eval-images
Fashion-MNIST test images (a set the optimizer's search and report subsets were drawn from: for an
unbiased figure run `effectual eval OUT/NAME.onnx --data fashion-mnist:test` and compare with
`optimize.json`'s report subset).
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_models import load_split, preprocess  # noqa: E402  (the shipped models' data and preprocessing)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class Net:
    """The ONNX graph run in torch; planned layers take their DeftNN weights (trainable)."""

    def __init__(self, model, plan, weights):
        self.graph = model.graph
        self.const = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
        for n in model.graph.node:
            if n.op_type == "Constant":
                self.const[n.output[0]] = torch.from_numpy(numpy_helper.to_array(n.attribute[0].t).copy())
        self.layers = {}
        for layer in plan["layers"]:
            rows, kept, depth = layer["rows"], layer["kept"], layer["depth"]
            off = layer["offset"] // 4
            w = torch.from_numpy(weights[off:off + rows * kept].reshape(rows, kept).copy())
            b = torch.from_numpy(weights[off + rows * kept:off + rows * kept + rows].copy())
            synapses = layer.get("synapses", list(range(depth)))
            full = torch.zeros(rows, depth)
            full[:, synapses] = w
            mask = torch.zeros(rows, depth)
            mask[:, synapses] = 1.0
            self.layers[layer["name"]] = {
                "weight": full.requires_grad_(True), "bias": b.requires_grad_(True), "mask": mask,
                "synapses": synapses, "format": layer["format"], "kind": layer["kind"]}
        self.skip_bn = set()
        for n in model.graph.node:
            if n.op_type == "Conv" and n.name in self.layers:
                self.skip_bn.add(n.output[0])

    def parameters(self):
        return [p for l in self.layers.values() for p in (l["weight"], l["bias"])]

    def layer_weight(self, l):
        w = l["weight"] * l["mask"]
        if l["format"] in ("deft16", "deft16q", "bf16dot"):
            w = w + (w.to(torch.bfloat16).to(torch.float32) - w).detach()
        return w

    def forward(self, x):
        v = dict(self.const)
        v[self.graph.input[0].name] = x
        for n in self.graph.node:
            a = attrs(n)
            ins = [v[i] if i else None for i in n.input]
            op = n.op_type
            if op == "Constant":
                continue
            if op == "Conv":
                w, b = ins[1], ins[2] if len(ins) > 2 else None
                if n.name in self.layers:
                    l = self.layers[n.name]
                    w = self.layer_weight(l).reshape(ins[1].shape)
                    b = l["bias"]
                pads = a.get("pads", [0, 0, 0, 0])
                xin = F.pad(ins[0], (pads[1], pads[3], pads[0], pads[2]))
                y = F.conv2d(xin, w, b, stride=a.get("strides", [1, 1]), dilation=a.get("dilations", [1, 1]),
                             groups=a.get("group", 1))
            elif op == "Gemm":
                xin = ins[0].t() if a.get("transA", 0) else ins[0]
                if n.name in self.layers:
                    l = self.layers[n.name]
                    y = xin @ self.layer_weight(l).t() + l["bias"]
                else:
                    w = ins[1].t() if a.get("transB", 0) else ins[1]
                    y = a.get("alpha", 1.0) * (xin @ w)
                    if len(ins) > 2 and ins[2] is not None:
                        y = y + a.get("beta", 1.0) * ins[2]
            elif op == "BatchNormalization":
                if n.input[0] in self.skip_bn:
                    y = ins[0]  # folded into the planned conv's weights
                else:
                    y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], False, 0.0, a.get("epsilon", 1e-5))
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "MaxPool":
                pads = a.get("pads", [0, 0, 0, 0])
                xin = F.pad(ins[0], (pads[1], pads[3], pads[0], pads[2]), value=float("-inf"))
                k = a["kernel_shape"]
                y = F.max_pool2d(xin, k, stride=a.get("strides", k))
            elif op == "GlobalAveragePool":
                y = ins[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                axis = a.get("axis", 1)
                y = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
            elif op == "Reshape":
                shape = [int(s) for s in ins[1].tolist()]
                shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
                y = ins[0].reshape(shape)
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Identity":
                y = ins[0]
            else:
                raise SystemExit(f"finetune_deft: {n.name}: op {op} is not supported by this script")
            v[n.output[0]] = y
        return v[self.graph.output[0].name]


def accuracy(net, x, y, batch=500):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (net.forward(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", help="NAME.onnx written by effectual optimize (its sidecar holds the plan)")
    p.add_argument("--out", required=True, help="directory for the fine-tuned model (three files)")
    p.add_argument("--images", type=int, default=10000, help="training images (Fashion-MNIST train)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--eval-images", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    stem = os.path.splitext(args.model)[0]
    try:
        with open(stem + ".json") as f:
            sidecar = json.load(f)
        plan = sidecar["deft"]
        if plan.get("format") != "effectual-deft-plan":
            raise KeyError("format")
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"finetune_deft: {stem}.json: not the sidecar of an optimized model ({e})")
    bin_path = os.path.join(os.path.dirname(args.model), plan["weights"])
    weights = np.fromfile(bin_path, dtype="<f4")
    if weights.nbytes != plan["weights_bytes"]:
        raise SystemExit(f"finetune_deft: {bin_path}: {weights.nbytes} bytes, the plan says {plan['weights_bytes']}")
    if not plan["layers"]:
        raise SystemExit(f"finetune_deft: {args.model}: the plan has no DeftNN layer to fine-tune")

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    net = Net(onnx.load(args.model), plan, weights)
    xt, yt = load_split("t10k")
    x_eval = torch.from_numpy(preprocess(xt[:args.eval_images]))
    y_eval = torch.from_numpy(yt[:args.eval_images])
    xs, ys = load_split("train")
    order = np.random.default_rng(args.seed).permutation(len(xs))[:args.images]
    x_train = torch.from_numpy(preprocess(xs[order]))
    y_train = torch.from_numpy(ys[order])

    before = accuracy(net, x_eval, y_eval)
    print(f"before: top-1 {before:.2f}% on the first {len(x_eval)} test images", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    start = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_train))
        total = 0.0
        for i in range(0, len(x_train), args.batch):
            idx = perm[i:i + args.batch]
            loss = F.cross_entropy(net.forward(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch + 1}: mean loss {total / len(x_train):.4f} ({time.time() - start:.0f} s)", flush=True)
    after = accuracy(net, x_eval, y_eval)
    print(f"after:  top-1 {after:.2f}% on the first {len(x_eval)} test images", flush=True)

    out = np.array(weights, copy=True)
    for layer in plan["layers"]:
        l = net.layers[layer["name"]]
        rows, kept = layer["rows"], layer["kept"]
        off = layer["offset"] // 4
        w = (l["weight"] * l["mask"]).detach()[:, l["synapses"]].numpy().astype("<f4")
        out[off:off + rows * kept] = w.reshape(-1)
        out[off + rows * kept:off + rows * kept + rows] = l["bias"].detach().numpy().astype("<f4")
    os.makedirs(args.out, exist_ok=True)
    name = os.path.basename(stem)
    sidecar["deft"]["finetune"] = {"images": len(x_train), "epochs": args.epochs, "lr": args.lr, "seed": args.seed,
                                   "eval_images": len(x_eval), "top1_before": before, "top1_after": after}
    for path, data in ((os.path.join(args.out, plan["weights"]), out.tobytes()),
                       (os.path.join(args.out, name + ".json"), (json.dumps(sidecar, indent=2) + "\n").encode())):
        tmp = f"{path}.tmp.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    if os.path.abspath(os.path.join(args.out, name + ".onnx")) != os.path.abspath(args.model):
        shutil.copyfile(args.model, os.path.join(args.out, name + ".onnx"))
    print(f"wrote {os.path.join(args.out, name + '.onnx')} (+ .json, {plan['weights']})")


if __name__ == "__main__":
    main()
