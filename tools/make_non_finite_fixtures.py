#!/usr/bin/python3
"""Builds one-op models fed NaN and +-Inf, with ONNX Runtime's outputs: how non-finite values
propagate through each op effectual runs on real models (issue 8: "non-finite inputs propagate as
ONNX Runtime does").

    /usr/bin/python3 tools/make_non_finite_fixtures.py [--out tests/fixtures/non_finite] [--only NAME]

Writes, for every model NAME:
    NAME.onnx         the model (weights from fixed seeds)
    NAME.0.x.npy      its input: normal noise with about 8% NaN, 2% +Inf and 2% -Inf at seeded
                      positions (so every position of a pooling window meets NaN somewhere)
    NAME.0.y.npy      the output as ONNX Runtime 1.30 computes it (tools/ort/run_ort.js, CPU,
                      graph optimisation 'all')

Models: MaxPool in float32 and float16, 4 and 16 channels (ONNX Runtime runs 16k channels on its
NCHWc kernel, others on MLAS's plain one: the fold order differs), 2x2/2, 3x3/2 pad 1, 3x3/1 pad 1,
widths that are and are not multiples of 4; Conv + Relu + MaxPool as in a U-Net encoder (float16,
4 and 16 channels); and Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Max, Min, Concat,
Softmax, GlobalAveragePool, Conv + Relu, Conv + Clip, ConvTranspose and Resize (linear, nearest).
Needs Debian's python3-onnx and python3-numpy, and (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install).
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
NP = {F32: np.float32, F16: np.float16}
TAG = {F32: "f32", F16: "f16"}


def value(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def weight(name, elem, seed, *shape):
    return numpy_helper.from_array((np.random.RandomState(seed).standard_normal(shape) * 0.5).astype(NP[elem]), name)


def model(name, nodes, elem, x_shape, y_shape, inits=(), opset=13):
    graph = helper.make_graph(nodes, name, [value("x", elem, x_shape)], [value("y", elem, y_shape)], list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="effectual-fixtures")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def poisoned(seed, shape, elem):
    rs = np.random.RandomState(seed)
    x = rs.standard_normal(shape).astype(np.float32)
    u = rs.random_sample(shape)
    x[u < 0.08] = np.nan
    x[(u >= 0.08) & (u < 0.10)] = np.inf
    x[(u >= 0.10) & (u < 0.12)] = -np.inf
    return x.astype(NP[elem])


def pool_out(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def max_pools():
    out = {}
    for elem in (F32, F16):
        for c in (4, 16):
            for tag, (h, w, k, s, p) in {"k2s2": (12, 12, 2, 2, 0), "k2s2w14": (10, 14, 2, 2, 0),
                                         "k3s2p1": (11, 13, 3, 2, 1), "k3s1p1": (9, 10, 3, 1, 1)}.items():
                name = f"maxpool_{tag}_c{c}_{TAG[elem]}"
                node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[k, k], strides=[s, s],
                                        pads=[p] * 4)
                y = [1, c, pool_out(h, k, s, p), pool_out(w, k, s, p)]
                out[name] = (model(name, [node], elem, [1, c, h, w], y), [1, c, h, w], elem)
        # A U-Net encoder step: the pool reads a Conv + Relu.
    for c in (4, 16):
        name = f"conv_relu_maxpool_c{c}_f16"
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["c"], ["r"], name="relu"),
                 helper.make_node("MaxPool", ["r"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2])]
        inits = [weight("w", F16, 10 + c, c, c, 3, 3), weight("b", F16, 20 + c, c)]
        out[name] = (model(name, nodes, F16, [1, c, 12, 12], [1, c, 6, 6], inits), [1, c, 12, 12], F16)
    return out


def elementwise():
    out = {}
    shape = [1, 4, 8, 8]
    for elem in (F32, F16):
        t = TAG[elem]
        scalar = lambda n, v: numpy_helper.from_array(np.array(v, NP[elem]), n)  # noqa: E731
        cases = {
            "relu": ([helper.make_node("Relu", ["x"], ["y"])], []),
            "clip": ([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [scalar("lo", 0.0), scalar("hi", 6.0)]),
            "leaky_relu": ([helper.make_node("LeakyRelu", ["x"], ["y"], alpha=0.1)], []),
            "sigmoid": ([helper.make_node("Sigmoid", ["x"], ["y"])], []),
            "hard_sigmoid": ([helper.make_node("HardSigmoid", ["x"], ["y"])], []),
            "max": ([helper.make_node("Max", ["x", "c"], ["y"])], [scalar("c", [0.25])]),
            "min": ([helper.make_node("Min", ["x", "c"], ["y"])], [scalar("c", [0.25])]),
            "conv_relu": ([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                           helper.make_node("Relu", ["c"], ["y"])], [weight("w", elem, 1, 4, 4, 3, 3)]),
            "conv_clip": ([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
                           helper.make_node("Clip", ["c", "lo", "hi"], ["y"])],
                          [weight("w", elem, 1, 4, 4, 3, 3), scalar("lo", 0.0), scalar("hi", 6.0)]),
        }
        for op, (nodes, inits) in cases.items():
            name = f"{op}_{t}"
            out[name] = (model(name, nodes, elem, shape, shape, inits), shape, elem)
        name = f"concat_{t}"
        node = helper.make_node("Concat", ["x", "x"], ["y"], axis=1)
        out[name] = (model(name, [node], elem, shape, [1, 8, 8, 8]), shape, elem)
        name = f"conv_transpose_{t}"
        node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
        out[name] = (model(name, [node], elem, shape, [1, 4, 16, 16], [weight("w", elem, 2, 4, 4, 2, 2)]), shape, elem)
        name = f"global_average_pool_{t}"
        node = helper.make_node("GlobalAveragePool", ["x"], ["y"])
        out[name] = (model(name, [node], elem, shape, [1, 4, 1, 1]), shape, elem)
    # float32 only (the fp16 U-Net keeps its Resize in float32 between Casts).
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    for mode in ("linear", "nearest"):
        name = f"resize_{mode}_f32"
        node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode=mode,
                                coordinate_transformation_mode="half_pixel" if mode == "linear" else "asymmetric")
        out[name] = (model(name, [node], F32, shape, [1, 4, 16, 16], [scales]), shape, F32)
    name = "softmax_f32"
    out[name] = (model(name, [helper.make_node("Softmax", ["x"], ["y"], axis=1)], F32, shape, shape), shape, F32)
    name = "hard_swish_f32"
    out[name] = (model(name, [helper.make_node("HardSwish", ["x"], ["y"])], F32, shape, shape, opset=14), shape, F32)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "non_finite"))
    ap.add_argument("--only", help="write this model only")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    script = os.path.join(ROOT, "tools", "ort", "run_ort.js")
    models = {**max_pools(), **elementwise()}
    for seed, (name, (m, shape, elem)) in enumerate(sorted(models.items())):
        if args.only and name != args.only:
            continue
        mpath = os.path.join(args.out, f"{name}.onnx")
        onnx.save(m, mpath)
        xpath = os.path.join(args.out, f"{name}.0.x.npy")
        np.save(xpath, poisoned(1000 + seed, shape, elem))
        with tempfile.TemporaryDirectory() as tmp:
            res = subprocess.run(["node", script, mpath, xpath, tmp], capture_output=True, text=True, check=True)
            outs = json.loads(res.stdout.strip().splitlines()[-1])["outputs"]
            os.replace(outs["y"]["file"], os.path.join(args.out, f"{name}.0.y.npy"))
        y = np.load(os.path.join(args.out, f"{name}.0.y.npy")).astype(np.float32)
        print(f"{name}: y {list(y.shape)}, {int(np.isnan(y).sum())} NaN, {int(np.isinf(y).sum())} Inf")


if __name__ == "__main__":
    main()
