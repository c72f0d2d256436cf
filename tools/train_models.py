#!/usr/bin/python3
"""Trains effectual's shipped Fashion-MNIST models and exports them to ONNX.

Run with Debian's Python (python3-torch, python3-onnx, python3-numpy):

    /usr/bin/python3 tools/train_models.py [--models lenet5,vgg,resnet,fmnist_wide] [--out models]

Each model is written as models/<name>.onnx (opset 13, dynamic batch axis "batch",
input "input", output "logits") plus models/<name>.json with its preprocessing and
its top-1 accuracy on the full 10,000-image test set, measured by ONNX Runtime
(tools/ort/run_ort.js --accuracy) and by torch. Training is deterministic (fixed
seeds, 2 threads) and kept short: CPU is scarce.
Intermediate files (decoded data set, test arrays) go to a temporary directory.
"""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split):
    images = load_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = load_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels.astype(np.int64)


def preprocess(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28]: x/255 then (x-mean)/std."""
    x = images_u8.astype(np.float32) * np.float32(1.0 / 255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return np.ascontiguousarray(x[:, None, :, :], dtype=np.float32)


# ---------------------------------------------------------------- models


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)   # 28x28 -> 28x28
        self.conv2 = nn.Conv2d(6, 16, 5)             # 14x14 -> 10x10
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class VGG(nn.Module):
    def __init__(self, widths=(32, 64, 128)):
        super().__init__()
        layers = []
        cin = 1
        for w in widths:                                  # 28 -> 14 -> 7 -> 3
            layers += conv_bn_relu(cin, w) + conv_bn_relu(w, w) + [nn.MaxPool2d(2)]
            cin = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Dropout(0.3),
            nn.Linear(cin * 3 * 3, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(0.3),
            nn.Linear(256, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, widths=(32, 64, 128), blocks=(1, 1, 1)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages = []
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1  # 28 -> 28 -> 14 -> 7
                stages.append(BasicBlock(cin, w, stride))
                cin = w
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.stages(self.stem(x))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


# name -> (constructor, epochs, training subset size (None = all 60k), batch, max lr, weight decay)
CONFIGS = {
    "lenet5": (LeNet5, 6, None, 64, 3e-3, 1e-4),
    "vgg": (VGG, 4, None, 128, 3e-3, 5e-4),
    "resnet": (ResNet, 3, None, 128, 3e-3, 5e-4),
    # VGG twice as wide: 116 M MACs per image, the "at least 100 M MACs" model issues 11-13 ask for
    "fmnist_wide": (lambda: VGG(widths=(64, 128, 256)), 3, None, 128, 3e-3, 5e-4),
}


# ---------------------------------------------------------------- training


def train(name, model, x_train, y_train, epochs, batch, max_lr, wd, seed):
    g = torch.Generator().manual_seed(seed)
    n = x_train.shape[0]
    steps_per_epoch = (n + batch - 1) // batch
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(y_train)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        seen, correct, loss_sum = 0, 0, 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * batch:(step + 1) * batch]
            xb, yb = xt[idx], yt[idx]
            # random horizontal flip of half the batch (Fashion-MNIST is left/right symmetric)
            flip = torch.rand(xb.shape[0], generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += yb.shape[0]
            loss_sum += loss.item() * yb.shape[0]
            correct += (out.argmax(1) == yb).sum().item()
            if (step + 1) % 100 == 0 or step + 1 == steps_per_epoch:
                print(f"[{name}] epoch {epoch + 1}/{epochs} step {step + 1}/{steps_per_epoch} "
                      f"loss {loss_sum / seen:.4f} train-acc {correct / seen:.4f} "
                      f"({time.time() - t0:.0f}s)", flush=True)
    return time.time() - t0


@torch.no_grad()
def torch_accuracy(model, x, y, batch=500):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        out = model(torch.from_numpy(x[i:i + batch]))
        correct += (out.argmax(1).numpy() == y[i:i + batch]).sum()
    return float(correct) / x.shape[0]


def export(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    # TrainingMode.PRESERVE with the model in eval mode exports inference-mode graphs but
    # skips torch's Conv+BatchNormalization fusion, so the BatchNormalization nodes stay in
    # the ONNX file (effectual's loader folds them itself). Dropout is dropped (eval).
    with warnings.catch_warnings():
        # PRESERVE + constant folding warns about training-mode models; this one is in eval mode.
        warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
        torch.onnx.export(model, dummy, path, opset_version=13, do_constant_folding=True,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          training=torch.onnx.TrainingMode.PRESERVE)
    import onnx
    m = onnx.load(path)
    has_bn = any(isinstance(x, nn.BatchNorm2d) for x in model.modules())
    if has_bn and "BatchNormalization" not in {n.op_type for n in m.graph.node}:
        raise RuntimeError(f"{path}: BatchNormalization nodes were fused away by the exporter")
    onnx.checker.check_model(m)
    return m


def ort_accuracy(model_path, images_npy, labels_npy):
    script = os.path.join(ROOT, "tools", "ort", "run_ort.js")
    res = subprocess.run(["node", script, "--accuracy", model_path, images_npy, labels_npy],
                         check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])["top1"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS))
    ap.add_argument("--out", default=os.path.join(ROOT, "models"))
    ap.add_argument("--epochs", type=int, default=None, help="override the per-model epoch count")
    ap.add_argument("--subset", type=int, default=None, help="override: train on the first N shuffled images")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    x_tr_u8, y_tr = load_split("train")
    x_te_u8, y_te = load_split("t10k")
    x_tr, x_te = preprocess(x_tr_u8), preprocess(x_te_u8)
    print(f"data: train {x_tr.shape} test {x_te.shape}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="effectual-train-")
    try:
        images_npy = os.path.join(tmp, "test_images.npy")
        labels_npy = os.path.join(tmp, "test_labels.npy")
        np.save(images_npy, x_te)
        np.save(labels_npy, y_te)
        summary = {}
        for name in args.models.split(","):
            if name not in CONFIGS:
                sys.exit(f"unknown model '{name}' (known: {', '.join(CONFIGS)})")
            ctor, epochs, subset, batch, lr, wd = CONFIGS[name]
            epochs = args.epochs or epochs
            subset = args.subset or subset
            # per-model seed, independent of which other models are trained in this run
            seed = args.seed + 1000 * (list(CONFIGS).index(name) + 1)
            torch.manual_seed(seed)
            model = ctor()
            nparams = sum(p.numel() for p in model.parameters())
            if subset:
                sel = np.random.RandomState(seed).permutation(x_tr.shape[0])[:subset]
                xs, ys = x_tr[sel], y_tr[sel]
            else:
                xs, ys = x_tr, y_tr
            print(f"[{name}] {nparams} parameters, {epochs} epochs on {xs.shape[0]} images", flush=True)
            secs = train(name, model, xs, ys, epochs, batch, lr, wd, seed)
            acc_torch = torch_accuracy(model, x_te, y_te)
            onnx_path = os.path.join(args.out, f"{name}.onnx")
            export(model, onnx_path)
            acc_ort = ort_accuracy(onnx_path, images_npy, labels_npy)
            print(f"[{name}] trained in {secs:.0f}s; test top-1: torch {acc_torch:.4f}, onnxruntime {acc_ort:.4f}; "
                  f"{os.path.getsize(onnx_path)} bytes", flush=True)
            meta = {
                "name": name,
                "input_name": "input",
                "output_name": "logits",
                "input_shape": [1, 1, 28, 28],
                "classes": CLASSES,
                "preprocessing": {"scale": 1.0 / 255.0, "mean": [MEAN], "std": [STD],
                                  "channel_order": "gray", "resize": [28, 28]},
                "dataset": "fashion-mnist:test",
                "test_accuracy_top1": acc_ort,
                "test_accuracy_top1_torch": acc_torch,
                "trained_by": "tools/train_models.py",
                "epochs": epochs,
                "train_images": int(xs.shape[0]),
                "parameters": int(nparams),
                "seed": seed,
                "opset": 13,
            }
            with open(os.path.join(args.out, f"{name}.json"), "w") as f:
                json.dump(meta, f, indent=2)
                f.write("\n")
            summary[name] = {"top1_ort": acc_ort, "top1_torch": acc_torch, "train_seconds": round(secs)}
        print(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
