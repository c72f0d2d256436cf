#!/usr/bin/env python3
# Operator coverage against real exports: torchvision architectures (random weights, nothing
# downloaded) exported by torch.onnx at several opsets, each run by `effectual run` and compared
# with PyTorch's own output. Not part of `make test` (a few minutes per large model).
#
#   /usr/bin/python3 tools/torchvision_export_sweep.py BUILD/effectual OUT_DIR 9,11,13,17 [model ...]
#
# Prints one line per (model, opset): the ops of the exported graph and the largest difference
# relative to the output's largest magnitude (or the export or effectual error).
import json, os, subprocess, sys, warnings
import numpy as np
import torch, torchvision

warnings.filterwarnings("ignore")
m = torchvision.models
NETS = {
    "resnet18": lambda: m.resnet18(),
    "mobilenet_v2": lambda: m.mobilenet_v2(),
    "mobilenet_v3_small": lambda: m.mobilenet_v3_small(),
    "efficientnet_b0": lambda: m.efficientnet_b0(),
    "shufflenet_v2_x0_5": lambda: m.shufflenet_v2_x0_5(),
    "squeezenet1_1": lambda: m.squeezenet1_1(),
    "mnasnet0_5": lambda: m.mnasnet0_5(),
    "regnet_y_400mf": lambda: m.regnet_y_400mf(),
    "googlenet": lambda: m.googlenet(aux_logits=False, init_weights=True),
    "densenet121": lambda: m.densenet121(),
    "convnext_tiny": lambda: m.convnext_tiny(),
    "swin_t": lambda: m.swin_t(),
    "vit_b_16": lambda: m.vit_b_16(image_size=64),
    "lraspp_mobilenet_v3_large": lambda: m.segmentation.lraspp_mobilenet_v3_large(weights_backbone=None),
}


class FirstOutput(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        y = self.net(x)
        return y["out"] if isinstance(y, dict) else y


def main():
    effectual, out_dir, opsets = sys.argv[1], sys.argv[2], [int(o) for o in sys.argv[3].split(",")]
    os.makedirs(out_dir, exist_ok=True)
    import onnx
    for name in sys.argv[4:] or list(NETS):
        torch.manual_seed(0)
        net = FirstOutput(NETS[name]()).eval()
        if name == "vit_b_16":  # its head starts at zero: every output would be 0
            torch.nn.init.normal_(net.net.heads.head.weight, std=0.05)
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            want = net(x).numpy()
        xf = os.path.join(out_dir, name + ".x.npy")
        np.save(xf, x.numpy())
        for op in opsets:
            f = os.path.join(out_dir, f"{name}.op{op}.onnx")
            row = {"model": name, "opset": op}
            try:
                torch.onnx.export(net, x, f, opset_version=op, input_names=["x"], output_names=["y"])
                row["ops"] = sorted({n.op_type for n in onnx.load(f).graph.node})
                res = subprocess.run([effectual, "run", f, "x=" + xf, "--out", f + ".out", "--threads", "1"],
                                     capture_output=True, text=True)
                if res.returncode != 0:
                    row["effectual_error"] = res.stderr.strip()[:300]
                else:
                    got = np.load(os.path.join(f + ".out", "y.npy"))
                    row["relative_error"] = float(np.abs(got - want).max() / max(1e-12, np.abs(want).max()))
            except Exception as e:  # torch.onnx cannot export some models at old opsets
                row["export_error"] = str(e)[:200]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
