"""Fine-tunes a shipped Fashion-MNIST model (lenet5, vgg, resnet) as a channel-gated or a
precision-gated network with seed 003's single-pass method and exports it to ONNX with its gates
file (docs/gating.md, "Training").

Run with Debian's Python (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tools/train_gated.py --model vgg [--kind channel --base 0.25 | --kind precision
        --bits 8/4] [--images 58000] [--epochs 1] [--sparsity 1.0] [--seed 1] --out DIR

Starts from models/<model>.onnx's weights. BatchNormalization is folded into the conv before it
(statistics frozen, as the engine folds them). Every conv layer the engine can gate becomes a gated
conv with a learnable threshold per output channel, in the float domain of the pre-activation:

* channel: the base path is the first max(1, floor(base x channels)) input channels (layers with
  one input channel are not gated), or with --grouping contiguous|shuffle output block k's input
  set k of G = 1/base (docs/gating.md); the conditional path adds the other channels where
  base result (bias included) > threshold;
* precision: the inputs become B-bit fixed-point codes (frac_bits from the largest input on the
  first training batches, the engine's rule), the top B_hb bits feed the base path, the low bits
  are added where the gate is on (every conv layer).

Training uses the hard gate in the forward pass and the seed's smooth approximation
S = sigmoid(eps (base - threshold)) for the gradient (straight-through), plus a loss term
(--sparsity) on the fraction of conditional MACs whose gate is open. Validation uses the last
--val-images of the training split (never the test split, which the engine's report subset is
drawn from). Writes DIR/<model>_gated.onnx (plain Conv layers with the folded weights, named as in
the shipped model), DIR/<model>_gated.gates.json (per-channel thresholds) and the sidecar
DIR/<model>_gated.json.
"""
import argparse
import json
import math
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


def quantize_split(x, bits, high_bits, frac_bits, signed):
    """The engine's PrecisionSplit (src/gating/gated_conv.cpp): B-bit codes, round half away from
    zero, saturated; returns (high, low) in the float domain, no gradient."""
    scale = 2.0 ** frac_bits
    lo = -(2.0 ** (bits - 1)) if signed else 0.0
    hi = 2.0 ** (bits - 1) - 1 if signed else 2.0 ** bits - 1
    v = x * scale
    code = torch.sign(v) * torch.floor(v.abs() + 0.5)
    code = code.clamp(lo, hi)
    unit = 2.0 ** (bits - high_bits)
    high = torch.floor(code / unit) * unit
    return high / scale, (code - high) / scale


class GatedConv(nn.Module):
    """A conv with BN folded, gated per output element; no activation (the model's own follows)."""

    def __init__(self, conv, weight, bias, kind, base, eps, grouping="first", groups=1):
        super().__init__()
        # Grouped channel gating (--grouping contiguous|shuffle): mask[o, c] = 1 where input channel
        # c is on output o's base path (gating/gates_file.h's on_base_path); base = channels / G.
        self.grouping, self.groups = grouping, groups
        self.mask = None
        if kind == "channel" and grouping != "first":
            cout, cin = weight.shape[0], weight.shape[1]
            block = torch.arange(cout)[:, None] // (cout // groups)
            c = torch.arange(cin)[None, :]
            self.mask = ((c // (cin // groups) if grouping == "contiguous" else c % groups) == block).float()
            self.mask = self.mask[:, :, None, None]
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
        self.kind, self.base, self.eps = kind, base, eps
        self.threshold = nn.Parameter(torch.full((weight.shape[0],), -1e9))  # set by calibrate()
        self.split = None  # precision: (bits, high_bits, frac_bits, signed)
        self.max_abs, self.negative = 0.0, False
        self.calibrating = False
        self.on_fraction = None  # of the last forward: soft (training) or hard
        self.cond_macs = 0  # conditional MACs per image of the last forward (all gates on)

    def conv(self, x, w, b):
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation)

    def paths(self, x):
        if self.kind == "channel" and self.mask is not None:
            return (self.conv(x, self.weight * self.mask, self.bias), self.conv(x, self.weight * (1 - self.mask), None))
        if self.kind == "channel":
            return (self.conv(x[:, :self.base], self.weight[:, :self.base], self.bias),
                    self.conv(x[:, self.base:], self.weight[:, self.base:], None))
        high, low = quantize_split(x.detach(), *self.split)
        high = high + (x - x.detach())  # straight-through: the gradient of x flows through the base path
        return self.conv(high, self.weight, self.bias), self.conv(low, self.weight, None)

    def forward(self, x):
        if self.calibrating:
            self.max_abs = max(self.max_abs, float(x.abs().max()))
            self.negative = self.negative or bool((x < 0).any())
            return self.conv(x, self.weight, self.bias)
        p, r = self.paths(x)
        k = self.weight.shape[1] - (self.base if self.kind == "channel" else 0)
        taps = self.weight.shape[2] * self.weight.shape[3]
        self.cond_macs = p.shape[1] * p.shape[2] * p.shape[3] * k * taps
        t = self.threshold[None, :, None, None]
        hard = (p > t).float()
        if self.training:
            soft = torch.sigmoid(self.eps * (p - t))
            gate = hard + soft - soft.detach()
            self.on_fraction = soft.mean()
        else:
            gate = hard
            self.on_fraction = hard.mean()
        return p + gate * r


def folded(conv, bn):
    w = conv.weight.detach().clone()
    b = conv.bias.detach().clone() if conv.bias is not None else torch.zeros(w.shape[0])
    if bn is None:
        return w, b
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (w * s[:, None, None, None]).detach().clone(), (bn.bias + (b - bn.running_mean) * s).detach().clone()


def load_shipped(name):
    import onnx
    from onnx import numpy_helper
    model = tm.CONFIGS[name][0]()
    m = onnx.load(os.path.join(ROOT, "models", f"{name}.onnx"))
    state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    for n in m.graph.node:  # the exporter shares equal parameters through Identity nodes
        if n.op_type == "Identity" and n.input[0] in state:
            state.setdefault(n.output[0], state[n.input[0]].clone())
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise RuntimeError(f"{name}.onnx does not match tools/train_models.py's model: {missing} {unexpected}")
    return model.eval()


def set_module(model, path, module):
    parent, _, leaf = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def gate_model(model, kind, base_fraction, eps, grouping="first"):
    """Replaces each gatable conv (+ the BatchNormalization right after it) by a GatedConv;
    returns {module path: GatedConv} in execution order."""
    mods = list(model.named_modules())
    gated = {}
    for i, (path, m) in enumerate(mods):
        if not isinstance(m, nn.Conv2d) or m.groups != 1:
            continue
        groups = 1
        if kind == "channel" and grouping != "first":  # as effectual gate: G = 1/base, or the gcd
            groups = math.gcd(math.gcd(round(1 / base_fraction), m.in_channels), m.out_channels)
            base = m.in_channels // groups
        else:
            base = max(1, int(base_fraction * m.in_channels + 1e-9)) if kind == "channel" else m.in_channels
        if kind == "channel" and base >= m.in_channels:
            continue  # every channel on the base path: not gated (as the engine)
        bn = mods[i + 1][1] if i + 1 < len(mods) and isinstance(mods[i + 1][1], nn.BatchNorm2d) else None
        w, b = folded(m, bn)
        g = GatedConv(m, w, b, kind, base, eps, grouping, groups)
        set_module(model, path, g)
        if bn is not None:
            set_module(model, mods[i + 1][0], nn.Identity())
        gated[path] = g
    return gated


@torch.no_grad()
def calibrate(model, gated, x, bits, high_bits, quantile):
    """Precision: frac_bits per layer from the largest input (the engine's rule). Then every
    threshold at the `quantile` of its channel's gate values (few gates off to start with)."""
    model.eval()
    for g in gated.values():
        g.calibrating = True
    model(torch.from_numpy(x))
    for g in gated.values():
        g.calibrating = False
        if g.kind == "precision":
            int_bits = math.ceil(math.log2(g.max_abs)) if g.max_abs > 0 else 0
            g.split = (bits, high_bits, bits - (1 if g.negative else 0) - int_bits, g.negative)
    values = {}
    hooks = [g.register_forward_hook(lambda mod, inp, out, path=p: values.__setitem__(path, mod.paths(inp[0])[0]))
             for p, g in gated.items()]
    model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    for p, g in gated.items():
        v = values[p].transpose(0, 1).reshape(values[p].shape[1], -1)
        g.threshold.data = torch.quantile(v, quantile, dim=1)


def evaluate(model, gated, x, y, batch=500):
    """Top-1 and, as effectual gate reports them: channel, the network FLOP reduction (ungated
    conv/FC MACs / executed MACs, per output element); precision, the MAC-weighted B_avg."""
    model.eval()
    correct, saved, on_macs = 0, 0.0, 0.0
    macs = network_macs(model, x[:1])
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch])
            out = model(xb)
            correct += int((out.argmax(1) == torch.from_numpy(y[i:i + batch])).sum())
            for g in gated.values():
                saved += (1.0 - float(g.on_fraction)) * g.cond_macs * len(xb)
                on_macs += float(g.on_fraction) * g.cond_macs * len(xb)
    if next(iter(gated.values())).kind == "channel":
        return correct / len(x), macs * len(x) / (macs * len(x) - saved)
    bits, high, _, _ = next(iter(gated.values())).split
    layer_macs = sum(g.cond_macs for g in gated.values()) * len(x)
    return correct / len(x), high + (bits - high) * on_macs / layer_macs


@torch.no_grad()
def network_macs(model, x1):
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Linear):
            total[0] += mod.in_features * mod.out_features
        else:
            w = mod.weight
            total[0] += out.shape[1] * out.shape[2] * out.shape[3] * w.shape[1] * w.shape[2] * w.shape[3]

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear, GatedConv))]
    model(torch.from_numpy(x1))
    for h in hooks:
        h.remove()
    return total[0]


def export(model, gated, name, args, out_dir, stats):
    import onnx
    for path, g in gated.items():
        conv = nn.Conv2d(g.weight.shape[1], g.weight.shape[0], g.weight.shape[2:], stride=g.stride,
                         padding=g.padding, dilation=g.dilation, bias=True)
        conv.weight.data.copy_(g.weight.data)
        conv.bias.data.copy_(g.bias.data)
        set_module(model, path, conv)
    out = os.path.join(out_dir, f"{name}_gated.onnx")
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), out, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    m = onnx.load(out)
    onnx.checker.check_model(m)
    node_of_weight = {n.input[1]: n.name for n in m.graph.node if n.op_type == "Conv"}
    layers = []
    for path, g in gated.items():
        node = node_of_weight.get(f"{path}.weight")
        if node is None:
            raise RuntimeError(f"{out}: no Conv node reads {path}.weight")
        entry = {"layer": node, "thresholds": [float(t) for t in g.threshold]}
        if g.kind == "channel":
            entry["base_channels"] = g.base
            if g.grouping != "first":
                entry["groups"] = g.groups
        else:
            bits, high, frac, signed = g.split
            entry.update({"bits": bits, "high_bits": high, "frac_bits": frac, "signed": signed})
        layers.append(entry)
    gates = {"format": "effectual-gates", "version": 1, "kind": args.kind, "layers": layers}
    if args.kind == "channel":
        gates["base_fraction"] = args.base
        if args.grouping != "first":
            gates["grouping"] = args.grouping
    with open(os.path.join(out_dir, f"{name}_gated.gates.json"), "w") as f:
        json.dump(gates, f, indent=2)
        f.write("\n")
    with open(os.path.join(ROOT, "models", f"{name}.json")) as f:
        meta = json.load(f)
    meta.pop("test_accuracy_top1", None)
    meta.pop("test_accuracy_top1_torch", None)
    meta.update({"name": f"{name}_gated", "trained_by": "tools/train_gated.py", "gating": vars(args),
                 "validation": stats})
    with open(os.path.join(out_dir, f"{name}_gated.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vgg", choices=["lenet5", "vgg", "resnet"])
    ap.add_argument("--kind", default="channel", choices=["channel", "precision"])
    ap.add_argument("--base", type=float, default=0.25, help="channel: base-path fraction of the input channels")
    ap.add_argument("--grouping", default="first", choices=["first", "contiguous", "shuffle"],
                    help="channel: base channels, as effectual gate --grouping (grouped: G = 1/base)")
    ap.add_argument("--bits", default="8/4", help="precision: B/Bhb")
    ap.add_argument("--images", type=int, default=58000, help="training images (first N of the train split)")
    ap.add_argument("--val-images", type=int, default=2000, help="validation: the last N of the train split")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--sparsity", type=float, default=1.0, help="weight of the open-gate MAC fraction in the loss")
    ap.add_argument("--eps", type=float, default=4.0, help="sharpness of the smooth gate")
    ap.add_argument("--init-quantile", type=float, default=0.02, help="initial thresholds: this quantile per channel")
    ap.add_argument("--lr", type=float, default=3e-4, help="weights (Adam, cosine decay)")
    ap.add_argument("--threshold-lr", type=float, default=0.1, help="thresholds (Adam, cosine decay)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: far faster than 2 on a loaded machine)")
    ap.add_argument("--out", default="build/gated")
    args = ap.parse_args()
    bits, high_bits = (int(v) for v in args.bits.split("/"))
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    xall, yall = tm.load_split("train")
    if args.images + args.val_images > len(xall):
        sys.exit(f"--images + --val-images exceed the {len(xall)} training images")
    xtr, ytr = tm.preprocess(xall[:args.images]), yall[:args.images]
    xva, yva = tm.preprocess(xall[-args.val_images:]), yall[-args.val_images:]

    model = load_shipped(args.model)
    if args.kind == "channel" and args.grouping != "first" and abs(round(1 / args.base) * args.base - 1) > 1e-6:
        sys.exit("--grouping contiguous/shuffle needs --base 1/G (0.5, 0.25, ...)")
    gated = gate_model(model, args.kind, args.base, args.eps, args.grouping)
    calibrate(model, gated, xtr[:500], bits, high_bits, args.init_quantile)
    acc0, red0 = evaluate(model, gated, xva, yva)
    what = "FLOP reduction" if args.kind == "channel" else "B_avg"
    print(f"[{args.model} {args.kind}] {len(gated)} gated layers; start: top-1 {100 * acc0:.2f}% "
          f"{what} {red0:.3f} (validation, {len(xva)} images)", flush=True)
    cond = torch.tensor([float(g.cond_macs) for g in gated.values()])
    weights = cond / network_macs(model, xtr[:1])  # open-gate term = conditional MACs executed / all MACs
    thresholds = [g.threshold for g in gated.values()]
    others = [p for p in model.parameters() if all(p is not t for t in thresholds)]
    opt = torch.optim.Adam([{"params": others, "lr": args.lr}, {"params": thresholds, "lr": args.threshold_lr}])
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    start, step = time.time(), 0
    stats = []
    for epoch in range(args.epochs):
        model.train()
        perm = np.random.default_rng(args.seed * 1000 + epoch).permutation(len(xtr))
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            out = model(torch.from_numpy(xtr[idx]))
            on = torch.stack([g.on_fraction for g in gated.values()])
            loss = F.cross_entropy(out, torch.from_numpy(ytr[idx])) + args.sparsity * (weights * on).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 200 == 0:
                print(f"  step {step}/{steps} loss {float(loss):.4f} open MACs {float((weights * on).sum()):.3f} "
                      f"({time.time() - start:.0f} s)", flush=True)
        acc, red = evaluate(model, gated, xva, yva)
        stats.append({"epoch": epoch + 1, "top1": acc, what: red, "seconds": round(time.time() - start)})
        print(f"epoch {epoch + 1}: top-1 {100 * acc:.2f}%, {what} {red:.3f} "
              f"({time.time() - start:.0f} s)", flush=True)
    path = export(model, gated, args.model, args, args.out, stats)
    print(f"wrote {path} and its .gates.json and .json", flush=True)


if __name__ == "__main__":
    main()
