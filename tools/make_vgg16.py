#!/usr/bin/python3
"""Writes a VGG-16 (configuration D of Simonyan & Zisserman, ICLR'15: 13 3x3 conv layers with
ReLU, 5 max-pools, FC 25088-4096-4096-1000) as ONNX with seeded random weights, plus a sidecar
JSON that feeds it Fashion-MNIST images resized to 224x224 RGB.

Trained VGG-16 weights cannot be downloaded here, so this model is for *speed* and *shape*
studies: `make bench` times `effectual simulate` on one image of it (value capture included) and
the simulator sees exactly VGG-16's geometry and work. Its value statistics (zeros, precisions)
are those of He-initialised random weights, not of a trained network: do not quote its speedups
as VGG-16's. To study the real network, point effectual at a trained VGG-16 ONNX file.

Usage: /usr/bin/python3 tools/make_vgg16.py OUT.onnx [--seed 1]
Needs Debian's python3-torch and python3-onnx (they belong to /usr/bin/python3).
The output is ~528 MB; it is written to a temporary name and renamed.
"""
import argparse
import json
import os
import sys

import torch
from torch import nn

# Output channels per conv layer, "M" = 2x2 max-pool (VGG configuration D).
CONFIG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG16(nn.Module):
    def __init__(self):
        super().__init__()
        layers, channels = [], 3
        for v in CONFIG_D:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = VGG16().eval()
    # He initialisation keeps activation magnitudes stable through 16 ReLU layers; small positive
    # biases keep some units alive after the last pool.
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, 0.0, 0.01)
    tmp = args.out + ".part"
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), tmp, opset_version=13, do_constant_folding=True,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    os.replace(tmp, args.out)
    meta = {
        "name": "vgg16-random",
        "input_name": "input",
        "output_name": "logits",
        "input_shape": [1, 3, 224, 224],
        "note": f"VGG-16 configuration D with He-initialised random weights (seed {args.seed}); "
                "for speed and shape studies only (tools/make_vgg16.py)",
        "preprocessing": {"channel_order": "rgb", "resize": [224, 224], "scale": 1.0 / 255,
                          "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    }
    sidecar = os.path.splitext(args.out)[0] + ".json"
    with open(sidecar + ".part", "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    os.replace(sidecar + ".part", sidecar)
    print(f"wrote {args.out} and {sidecar}", file=sys.stderr)


if __name__ == "__main__":
    main()
