"""Fine-tunes the shipped vgg as a channel-gated network (seed 003's single-pass method) and exports
it to ONNX with its gates file (docs/gating.md).

Run with Debian's Python (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tools/train_gated.py [--base 0.25] [--images 10000] [--epochs 1] \
        [--sparsity 1.0] [--out DIR]

Starts from models/vgg.onnx's weights. Every conv layer with more than one input channel becomes a
gated conv with BatchNormalization folded into it (BN statistics frozen, as the engine folds them):
the base path is the first `base` of the input channels, the gate compares the base result (bias
included) with a learnable threshold per layer, the conditional path adds the other channels where
the gate is on. Training uses the hard gate in the forward pass and the seed's smooth approximation
S = sigmoid(eps (partial - threshold)) for the gradient (straight-through), with a loss term that
pushes the MAC-weighted fraction of open gates down (--sparsity). Writes DIR/vgg_gated.onnx (plain
Conv+Relu with the folded weights; the layer names effectual prints), DIR/vgg_gated.gates.json, the
model's sidecar DIR/vgg_gated.json, and prints the trained model's accuracy and FLOP reduction
measured in torch with the hard gates on the test set.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import train_models as tm  # noqa: E402  (the shipped models' definitions and data)


class GatedConv(nn.Module):
    """Conv (3x3, padding 1) with BN folded, gated per output element."""

    def __init__(self, weight, bias, base_channels, eps):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)
        self.base = base_channels
        self.threshold = nn.Parameter(torch.tensor(-1.0))
        self.eps = eps
        self.on_fraction = None  # of the last forward, soft (training) or hard

    def forward(self, x):
        p = F.conv2d(x[:, :self.base], self.weight[:, :self.base], self.bias, padding=1)
        r = F.conv2d(x[:, self.base:], self.weight[:, self.base:], None, padding=1)
        hard = (p > self.threshold).float()
        if self.training:
            soft = torch.sigmoid(self.eps * (p - self.threshold))
            gate = hard + soft - soft.detach()
            self.on_fraction = soft.mean()
        else:
            gate = hard
            self.on_fraction = hard.mean()
        return F.relu(p + gate * r)


def folded(conv, bn):
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * s[:, None, None, None]
    b = bn.bias - bn.running_mean * s
    return w.detach().clone(), b.detach().clone()


def load_shipped_vgg():
    import onnx
    from onnx import numpy_helper
    model = tm.VGG()
    m = onnx.load(os.path.join(ROOT, "models", "vgg.onnx"))
    state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise RuntimeError(f"vgg.onnx does not match tools/train_models.py's VGG: {missing} {unexpected}")
    return model.eval()


def gate_model(model, base_fraction, eps):
    """Replaces conv+BN+ReLU triples (more than one input channel) by GatedConv; returns the gated
    layers as (index in features, module, conditional MACs per output, outputs per image)."""
    gated = []
    feats = model.features
    size = 28
    for i, m in enumerate(list(feats)):
        if isinstance(m, nn.MaxPool2d):
            size //= 2
        if not isinstance(m, nn.Conv2d) or m.in_channels == 1:
            continue
        w, b = folded(m, feats[i + 1])
        base = max(1, int(base_fraction * m.in_channels + 1e-9))
        g = GatedConv(w, b, base, eps)
        feats[i] = g
        feats[i + 1] = nn.Identity()
        feats[i + 2] = nn.Identity()
        gated.append((i, g, (m.in_channels - base) * 9, m.out_channels * size * size))
    return gated


def flops(model, gated, x):
    """Ungated and executed MACs per image with the hard gates (every conv/FC layer counted)."""
    total = 0
    size = 28
    cin = 1
    for m in model.features:
        if isinstance(m, nn.MaxPool2d):
            size //= 2
        if isinstance(m, (nn.Conv2d, GatedConv)):
            cout = m.weight.shape[0]
            total += cout * size * size * cin * 9
            cin = cout
    total += 1152 * 256 + 256 * 10
    saved = 0.0
    for _, g, cond, outputs in gated:
        saved += (1.0 - float(g.on_fraction)) * outputs * cond
    return total, total - saved


def evaluate(model, gated, x, y, batch=500):
    model.eval()
    correct, executed, full = 0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch])
            out = model(xb)
            correct += int((out.argmax(1) == torch.from_numpy(y[i:i + batch])).sum())
            t, e = flops(model, gated, xb)
            full += t * len(xb)
            executed += e * len(xb)
    return correct / len(x), full / executed


def export(model, gated, base_fraction, out_dir):
    import onnx
    feats = model.features
    for i, g, _, _ in gated:
        conv = nn.Conv2d(g.weight.shape[1], g.weight.shape[0], 3, padding=1, bias=True)
        conv.weight.data.copy_(g.weight.data)
        conv.bias.data.copy_(g.bias.data)
        feats[i] = conv
        feats[i + 2] = nn.ReLU()
    path = os.path.join(out_dir, "vgg_gated.onnx")
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    names = {n.name for n in m.graph.node if n.op_type == "Conv"}
    layers = []
    for i, g, _, _ in gated:
        name = f"/features/features.{i}/Conv"
        if name not in names:
            raise RuntimeError(f"{path}: no Conv node named {name} (nodes: {sorted(names)})")
        layers.append({"layer": name, "base_channels": g.base, "threshold": float(g.threshold)})
    gates = {"format": "effectual-gates", "version": 1, "kind": "channel", "base_fraction": base_fraction,
             "layers": layers}
    with open(os.path.join(out_dir, "vgg_gated.gates.json"), "w") as f:
        json.dump(gates, f, indent=2)
    with open(os.path.join(ROOT, "models", "vgg.json")) as f:
        meta = json.load(f)
    meta["name"] = "vgg_gated"
    meta["trained_by"] = "tools/train_gated.py"
    meta.pop("test_accuracy_top1", None)
    meta.pop("test_accuracy_top1_torch", None)
    with open(os.path.join(out_dir, "vgg_gated.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=float, default=0.25)
    ap.add_argument("--images", type=int, default=10000, help="training images (first N of the train split)")
    ap.add_argument("--test-images", type=int, default=10000, help="test images measured (first N of t10k)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--sparsity", type=float, default=1.0, help="weight of the open-gate fraction in the loss")
    ap.add_argument("--eps", type=float, default=4.0, help="sharpness of the smooth gate")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threshold-lr", type=float, default=0.05, help="learning rate of the thresholds")
    ap.add_argument("--out", default="gated")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    xtr, ytr = tm.load_split("train")
    xte, yte = tm.load_split("t10k")
    xtr, ytr = tm.preprocess(xtr[:args.images]), ytr[:args.images]
    xte, yte = tm.preprocess(xte[:args.test_images]), yte[:args.test_images]

    model = load_shipped_vgg()
    gated = gate_model(model, args.base, args.eps)
    acc0, red0 = evaluate(model, gated, xte, yte)
    print(f"before training (threshold -1 everywhere): top-1 {100 * acc0:.2f}%, FLOP reduction {red0:.2f}x")
    weights = torch.tensor([outputs * cond for _, _, cond, outputs in gated], dtype=torch.float32)
    weights = weights / weights.sum()
    thresholds = [g.threshold for _, g, _, _ in gated]
    others = [p for p in model.parameters() if all(p is not t for t in thresholds)]
    opt = torch.optim.Adam([{"params": others, "lr": args.lr}, {"params": thresholds, "lr": args.threshold_lr}])
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        for m in model.modules():  # dropout on, BN frozen (folded into the gated convs anyway)
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        perm = np.random.default_rng(epoch).permutation(len(xtr))
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            out = model(torch.from_numpy(xtr[idx]))
            on = torch.stack([g.on_fraction for _, g, _, _ in gated])
            loss = F.cross_entropy(out, torch.from_numpy(ytr[idx])) + args.sparsity * (weights * on).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc, red = evaluate(model, gated, xte, yte)
        print(f"epoch {epoch + 1}: top-1 {100 * acc:.2f}%, FLOP reduction {red:.2f}x ({time.time() - start:.0f} s)")
    path = export(model, gated, args.base, args.out)
    print(f"wrote {path}, {args.out}/vgg_gated.gates.json, {args.out}/vgg_gated.json")
    for i, g, _, _ in gated:
        print(f"  features.{i}: base {g.base}/{g.weight.shape[1]}, threshold {float(g.threshold):.4f}")


if __name__ == "__main__":
    main()
