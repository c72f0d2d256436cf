#!/usr/bin/python3
"""Builds small "foreign exporter style" ONNX test models for effectual's loader tests.

Run with Debian's Python (python3-onnx, python3-numpy, python3-torch):

    /usr/bin/python3 tools/make_fixture_models.py [--out tests/fixtures/models] [--only NAME,...]

For every model NAME it writes, into the output folder:
    NAME.onnx                 the model (weights random, fixed seeds)
    NAME.input.npy            the input (float32, fixed seed)
    NAME.<output name>.npy    each output as computed by ONNX Runtime (tools/ort/run_ort.js)
A model ONNX Runtime refuses is reported and not written. See README.md in the output
folder for what each model exercises. Needs `(cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install)`.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fixture_common import F, ROOT, init, rnd, vi, write_fixtures


def make(graph, opset, ir_version, producer, producer_version=""):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name=producer, producer_version=producer_version)
    model.ir_version = ir_version
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------- models
# Each builder returns (onnx.ModelProto, input array).


def torch_dynamic():
    import torch
    import torch.nn as nn
    import torch.nn.functional as Fn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
            self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            f = Fn.max_pool2d(Fn.relu(self.conv1(x)), 2)
            f = Fn.relu(self.conv2(f))
            # Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains (dynamic batch and spatial size)
            a = f.view(f.size(0), f.size(1), -1).max(2)[0]
            b = Fn.adaptive_avg_pool2d(f, 1).view(f.size(0), -1)
            return self.fc(torch.cat([a, b], 1))

    torch.manual_seed(11)
    torch.set_num_threads(2)
    net = Net().eval()
    x = np.random.RandomState(12).standard_normal((2, 1, 12, 12)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        torch.onnx.export(net, torch.from_numpy(x), path, opset_version=11, do_constant_folding=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}})
        model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    missing = {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} - ops
    if missing:
        raise RuntimeError(f"torch export has no {sorted(missing)} nodes; ops: {sorted(ops)}")
    return model, x


def constant_weights():
    w = rnd(21, 4, 3, 3, 3)
    b = rnd(22, 4, scale=0.1)
    wg = rnd(23, 10, 4 * 4 * 4, scale=0.2)
    bg = rnd(24, 10, scale=0.1)
    nodes = [
        helper.make_node("Constant", [], ["conv.weight"], value=init("conv.weight.value", w)),
        helper.make_node("Constant", [], ["conv.bias"], value=init("conv.bias.value", b)),
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["conv_out"], ["relu_out"]),
        helper.make_node("Constant", [], ["flat_shape"], value_ints=[1, -1]),
        helper.make_node("Reshape", ["relu_out", "flat_shape"], ["flat"]),
        helper.make_node("Constant", [], ["fc.weight"], value=init("fc.weight.value", wg)),
        helper.make_node("Constant", [], ["fc.bias"], value_floats=bg.tolist()),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["output"], transB=1),
    ]
    g = helper.make_graph(nodes, "constant_weights", [vi("input", [1, 3, 8, 8])], [vi("output", [1, 10])])
    return make(g, 13, 7, "fixture-constant-weights"), rnd(25, 1, 3, 8, 8, scale=1.0)


def fp16_weights():
    w = rnd(31, 8, 3, 3, 3).astype(np.float16)
    b = rnd(32, 8, scale=0.1).astype(np.float16)
    wg = rnd(33, 5, 8, scale=0.5).astype(np.float16)
    bg = rnd(34, 5, scale=0.1)  # float32: mixed precisions
    nodes = [
        helper.make_node("Cast", ["conv.weight.fp16"], ["conv.weight"], to=F),
        helper.make_node("Cast", ["conv.bias.fp16"], ["conv.bias"], to=F),
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv_out"], ["relu_out"]),
        helper.make_node("GlobalAveragePool", ["relu_out"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Cast", ["fc.weight.fp16"], ["fc.weight"], to=F),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["output"], transB=1),
    ]
    g = helper.make_graph(nodes, "fp16_weights", [vi("input", [1, 3, 8, 8])], [vi("output", [1, 5])],
                          initializer=[init("conv.weight.fp16", w), init("conv.bias.fp16", b),
                                       init("fc.weight.fp16", wg), init("fc.bias", bg)])
    return make(g, 13, 7, "fixture-fp16-weights"), rnd(35, 1, 3, 8, 8, scale=1.0)


def opset9_upsample_pad():
    w = rnd(41, 3, 2, 3, 3)
    b = rnd(42, 3, scale=0.1)
    inits = [init("conv.weight", w), init("conv.bias", b), init("scales", np.array([1, 1, 2, 2], np.float32))]
    nodes = [
        helper.make_node("Pad", ["input"], ["pad_c"], mode="constant", pads=[0, 0, 1, 2, 0, 0, 2, 1], value=0.5),
        helper.make_node("Conv", ["pad_c", "conv.weight", "conv.bias"], ["conv_out"], kernel_shape=[3, 3]),
        helper.make_node("Pad", ["conv_out"], ["pad_r"], mode="reflect", pads=[0, 0, 1, 2, 0, 0, 2, 1]),
        helper.make_node("Upsample", ["pad_r", "scales"], ["up"], mode="nearest"),
        helper.make_node("Relu", ["up"], ["output"]),
    ]
    # [1,2,5,5] -pad-> [1,2,8,8] -conv-> [1,3,6,6] -reflect-> [1,3,9,9] -upsample-> [1,3,18,18]
    # Old exporters list initializers among the graph inputs too (IR 4 allows either).
    inputs = [vi("input", [1, 2, 5, 5])] + [vi(t.name, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, "opset9_upsample_pad", inputs, [vi("output", [1, 3, 18, 18])], initializer=inits)
    return make(g, 9, 4, "fixture-opset9"), rnd(43, 1, 2, 5, 5, scale=1.0)


def opset7_upsample():
    w = rnd(51, 4, 2, 3, 3)
    b = rnd(52, 4, scale=0.1)
    inits = [init("conv.weight", w), init("conv.bias", b)]
    nodes = [
        helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["conv_out"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Upsample", ["conv_out"], ["up"], mode="nearest", scales=[1.0, 1.0, 2.0, 3.0]),
        helper.make_node("Relu", ["up"], ["output"]),
    ]
    # IR 3 requires every initializer to be a graph input as well.
    inputs = [vi("input", [1, 2, 4, 4])] + [vi(t.name, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, "opset7_upsample", inputs, [vi("output", [1, 4, 8, 12])], initializer=inits)
    return make(g, 7, 3, "fixture-opset7"), rnd(53, 1, 2, 4, 4, scale=1.0)


def hardswish_pattern():
    w1 = rnd(61, 6, 4, 1, 1)
    b1 = rnd(62, 6, scale=0.5)
    w2 = rnd(63, 6, 6, 3, 3, scale=0.3)
    slope = (np.random.RandomState(64).uniform(0.05, 0.5, (6, 1, 1))).astype(np.float32)
    inits = [init("conv1.weight", w1), init("conv1.bias", b1), init("conv2.weight", w2),
             init("prelu.slope", slope),
             init("three", np.array(3.0, np.float32)), init("zero", np.array(0.0, np.float32)),
             init("six", np.array(6.0, np.float32))]
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["y"], kernel_shape=[1, 1]),
        # HardSwish as the torch/mobilenet exporters write it: x * Clip(x + 3, 0, 6) / 6
        helper.make_node("Add", ["y", "three"], ["y_plus3"]),
        helper.make_node("Clip", ["y_plus3", "zero", "six"], ["relu6"]),
        helper.make_node("Mul", ["y", "relu6"], ["y_relu6"]),
        helper.make_node("Div", ["y_relu6", "six"], ["hswish"]),
        # HardSwish as x * HardSigmoid(x) (alpha 1/6, beta 0.5)
        helper.make_node("HardSigmoid", ["y"], ["hsig"], alpha=1.0 / 6.0, beta=0.5),
        helper.make_node("Mul", ["y", "hsig"], ["hswish2"]),
        # Clip with only a max (empty min input), i.e. min(x, 6)
        helper.make_node("Clip", ["hswish2", "", "six"], ["clip_max"]),
        helper.make_node("LeakyRelu", ["hswish"], ["leaky"], alpha=0.1),
        helper.make_node("Conv", ["leaky", "conv2.weight"], ["z"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["z", "prelu.slope"], ["prelu"]),
        helper.make_node("Sigmoid", ["prelu"], ["sig"]),
        helper.make_node("Tanh", ["clip_max"], ["tanh"]),
        helper.make_node("Mul", ["sig", "tanh"], ["output"]),
    ]
    g = helper.make_graph(nodes, "hardswish_pattern", [vi("input", [1, 4, 6, 6])],
                          [vi("hswish", [1, 6, 6, 6]), vi("output", [1, 6, 6, 6])], initializer=inits)
    return make(g, 11, 6, "fixture-hardswish"), rnd(65, 1, 4, 6, 6, scale=2.0)


def keras_style():
    # tf2onnx-like naming: "model/layer/Op:0" tensors, NHWC input, Transpose to NCHW.
    w1 = rnd(71, 8, 3, 3, 3)
    b1 = rnd(72, 8, scale=0.1)
    gamma = np.random.RandomState(73).uniform(0.5, 1.5, 8).astype(np.float32)
    beta = rnd(74, 8, scale=0.2)
    mean = rnd(75, 8, scale=0.3)
    var = np.random.RandomState(76).uniform(0.5, 2.0, 8).astype(np.float32)
    w2 = rnd(77, 8, 8, 3, 3, scale=0.3)
    b2 = rnd(78, 8, scale=0.1)
    wd = rnd(79, 8, 10, scale=0.5)
    bd = rnd(80, 10, scale=0.1)
    inits = [init("model/conv2d/Conv2D/ReadVariableOp:0", w1), init("model/conv2d/BiasAdd/ReadVariableOp:0", b1),
             init("model/batch_normalization/gamma:0", gamma), init("model/batch_normalization/beta:0", beta),
             init("model/batch_normalization/moving_mean:0", mean),
             init("model/batch_normalization/moving_variance:0", var),
             init("model/conv2d_1/Conv2D/ReadVariableOp:0", w2), init("model/conv2d_1/BiasAdd/ReadVariableOp:0", b2),
             init("model/dense/MatMul/ReadVariableOp:0", wd), init("model/dense/BiasAdd/ReadVariableOp:0", bd),
             init("const_axes__23", np.array([2, 3], np.int64))]
    nodes = [
        helper.make_node("Transpose", ["input_1"], ["input_1_nchw"], perm=[0, 3, 1, 2], name="Transpose__12"),
        helper.make_node("Conv", ["input_1_nchw", inits[0].name, inits[1].name], ["model/conv2d/BiasAdd:0"],
                         kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[1, 1], dilations=[1, 1],
                         name="model/conv2d/BiasAdd"),
        helper.make_node("BatchNormalization", ["model/conv2d/BiasAdd:0", inits[2].name, inits[3].name, inits[4].name,
                                                inits[5].name], ["model/batch_normalization/FusedBatchNormV3:0"],
                         epsilon=0.001, name="model/batch_normalization/FusedBatchNormV3"),
        helper.make_node("Relu", ["model/batch_normalization/FusedBatchNormV3:0"], ["model/re_lu/Relu:0"],
                         name="model/re_lu/Relu"),
        # stride 2 on an even size: SAME_UPPER pads 0 before, 1 after
        helper.make_node("Conv", ["model/re_lu/Relu:0", inits[6].name, inits[7].name], ["model/conv2d_1/BiasAdd:0"],
                         kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2], name="model/conv2d_1/BiasAdd"),
        helper.make_node("Relu", ["model/conv2d_1/BiasAdd:0"], ["model/conv2d_1/Relu:0"], name="model/conv2d_1/Relu"),
        helper.make_node("GlobalAveragePool", ["model/conv2d_1/Relu:0"], ["model/global_average_pooling2d/Mean:0"],
                         name="model/global_average_pooling2d/Mean"),
        helper.make_node("Squeeze", ["model/global_average_pooling2d/Mean:0", "const_axes__23"],
                         ["model/global_average_pooling2d/Mean_Squeeze:0"], name="Squeeze__24"),
        helper.make_node("MatMul", ["model/global_average_pooling2d/Mean_Squeeze:0", inits[8].name],
                         ["model/dense/MatMul:0"], name="model/dense/MatMul"),
        helper.make_node("Add", ["model/dense/MatMul:0", inits[9].name], ["model/dense/BiasAdd:0"],
                         name="model/dense/BiasAdd"),
        helper.make_node("Softmax", ["model/dense/BiasAdd:0"], ["dense"], axis=-1, name="model/dense/Softmax"),
    ]
    g = helper.make_graph(nodes, "tf2onnx", [vi("input_1", ["unk__30", 8, 8, 3])], [vi("dense", ["unk__31", 10])],
                          initializer=inits)
    return make(g, 13, 7, "tf2onnx", "1.9.3 1190aa"), rnd(81, 1, 8, 8, 3, scale=1.0)


def paddle_style():
    wdw = rnd(91, 4, 1, 3, 3)
    bdw = rnd(92, 4, scale=0.1)
    wdl = rnd(93, 8, 4, 3, 3, scale=0.3)
    bdl = rnd(94, 8, scale=0.1)
    i64 = lambda v: np.array(v, np.int64)  # noqa: E731
    inits = [
        init("conv2d_0.w_0", wdw), init("conv2d_0.b_0", bdw), init("conv2d_1.w_0", wdl), init("conv2d_1.b_0", bdl),
        init("resize.roi", np.zeros((0,), np.float32)), init("resize.scales", np.array([1, 1, 2, 2], np.float32)),
        init("resize.empty_scales", np.zeros((0,), np.float32)), init("resize.sizes", i64([1, 6, 5, 5])),
        init("slice.starts", i64([0, 1])), init("slice.ends", i64([16, 16])), init("slice.axes", i64([2, 3])),
        init("slice.steps", i64([2, 2])),
        init("rev.starts", i64([-1])), init("rev.ends", i64([-9223372036854775807])), init("rev.axes", i64([3])),
        init("rev.steps", i64([-1])),
        init("pad.pads", i64([0, 0, 1, 1, 0, 0, 1, 1])), init("pad.value", np.array(0.25, np.float32)),
    ]
    nodes = [
        # depthwise 3x3 (group = channels)
        helper.make_node("Conv", ["x", "conv2d_0.w_0", "conv2d_0.b_0"], ["dw"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         group=4),
        # dilated 3x3
        helper.make_node("Conv", ["dw", "conv2d_1.w_0", "conv2d_1.b_0"], ["dil_pre"], kernel_shape=[3, 3],
                         pads=[2, 2, 2, 2], dilations=[2, 2]),
        helper.make_node("Relu", ["dil_pre"], ["dil"]),                              # [1,8,8,8]
        helper.make_node("Resize", ["dil", "resize.roi", "resize.scales"], ["up"], mode="linear",
                         coordinate_transformation_mode="align_corners"),           # [1,8,16,16]
        helper.make_node("Slice", ["up", "slice.starts", "slice.ends", "slice.axes", "slice.steps"], ["s1"]),  # [1,8,8,8]
        helper.make_node("Slice", ["dil", "rev.starts", "rev.ends", "rev.axes", "rev.steps"], ["s2"]),  # W reversed
        helper.make_node("Concat", ["s1", "s2"], ["cat"], axis=1),                   # [1,16,8,8]
        helper.make_node("Split", ["cat"], ["a", "b"], axis=1, split=[6, 10]),
        helper.make_node("Pad", ["a", "pad.pads", "pad.value"], ["a_pad"], mode="constant"),  # [1,6,10,10]
        helper.make_node("Resize", ["a_pad", "resize.roi", "resize.empty_scales", "resize.sizes"], ["out_resize"],
                         mode="linear", coordinate_transformation_mode="half_pixel"),  # [1,6,5,5]
        helper.make_node("ReduceMean", ["b"], ["out_mean"], axes=[2, 3], keepdims=0),  # [1,10]
    ]
    g = helper.make_graph(nodes, "paddle-infer", [vi("x", [1, 4, 8, 8])],
                          [vi("out_resize", [1, 6, 5, 5]), vi("out_mean", [1, 10])], initializer=inits)
    return make(g, 11, 6, "PaddlePaddle", "2.0"), rnd(95, 1, 4, 8, 8, scale=1.0)


def convtranspose_lrn():
    wt = rnd(101, 3, 4, 3, 3, scale=0.4)  # ConvTranspose weight: [C_in, C_out/group, kH, kW]
    bt = rnd(102, 4, scale=0.1)
    inits = [init("deconv.weight", wt), init("deconv.bias", bt)]
    nodes = [
        # (5-1)*2 - (1+1) + 3 + 1 = 10
        helper.make_node("ConvTranspose", ["input", "deconv.weight", "deconv.bias"], ["deconv"], kernel_shape=[3, 3],
                         strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),          # [1,4,10,10]
        helper.make_node("LRN", ["deconv"], ["lrn"], size=3, alpha=0.01, beta=0.75, bias=1.0),
        helper.make_node("AveragePool", ["lrn"], ["avg_excl"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=0),                                                 # [1,4,5,5]
        helper.make_node("AveragePool", ["avg_excl"], ["pooled"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=1),                              # [1,4,5,5]
        helper.make_node("GlobalMaxPool", ["lrn"], ["gmax"]),                                  # [1,4,1,1]
    ]
    g = helper.make_graph(nodes, "convtranspose_lrn", [vi("input", [1, 3, 5, 5])],
                          [vi("pooled", [1, 4, 5, 5]), vi("gmax", [1, 4, 1, 1])], initializer=inits)
    return make(g, 13, 7, "fixture-convtranspose-lrn"), rnd(103, 1, 3, 5, 5, scale=1.0)


def _torch_transformer(opset):
    import torch
    import torch.nn as nn
    import torch.nn.functional as Fn

    class Block(nn.Module):
        def __init__(self, dim=8, tokens=16):
            super().__init__()
            self.pos = nn.Embedding(tokens, dim)
            self.ln1 = nn.LayerNorm(dim)
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.ln2 = nn.LayerNorm(dim)
            self.fc1 = nn.Linear(dim, 2 * dim)
            self.fc2 = nn.Linear(2 * dim, dim)

        def forward(self, x):
            n = x.size(1)
            pos = torch.arange(n)  # Range over a run-time length
            x = x + self.pos(pos)
            q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
            att = q @ k.transpose(-2, -1) / 4.0
            causal = pos.unsqueeze(0) > pos.unsqueeze(1)  # Greater, broadcast
            att = att.masked_fill(causal.unsqueeze(0).expand(x.size(0), n, n), -1e4)  # Expand, Where
            x = x + self.proj(Fn.softmax(att, dim=-1) @ v)
            x = x + self.fc2(Fn.gelu(self.fc1(self.ln2(x))))  # exact GELU: Erf
            return x, x.abs().max(dim=-1)[0].sqrt()

    torch.manual_seed(21)
    torch.set_num_threads(2)
    net = Block().eval()
    x = np.random.RandomState(22).standard_normal((2, 6, 8)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        torch.onnx.export(net, torch.from_numpy(x), path, opset_version=opset, do_constant_folding=False,
                          input_names=["input"], output_names=["output", "peak"],
                          dynamic_axes={"input": {0: "batch", 1: "tokens"}})
        model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    want = {"Range", "Greater", "Expand", "Where", "Erf", "Softmax", "Sqrt"}
    want |= {"LayerNormalization"} if opset >= 17 else {"Pow", "ReduceMean"}
    missing = want - ops
    if missing:
        raise RuntimeError(f"torch export has no {sorted(missing)} nodes; ops: {sorted(ops)}")
    return model, x


def torch_transformer_opset17():
    return _torch_transformer(17)


def torch_transformer_opset11():
    return _torch_transformer(11)


def paddle_ocr_style():
    # What paddle2onnx writes for the neck/head of a text recogniser: LayerNorm spelled with
    # Pow(x, 2), Erf-based Gelu spelled out, Swish as x * Sigmoid(x), DepthToSpace/SpaceToDepth,
    # InstanceNormalization, Tile, Einsum, Min/Max/Sum/Mean, Reciprocal, Neg, Exp, Log.
    c, h, w = 8, 4, 4
    nodes = [
        helper.make_node("InstanceNormalization", ["x", "in_s", "in_b"], ["inorm"], epsilon=1e-5),
        helper.make_node("SpaceToDepth", ["inorm"], ["s2d"], blocksize=2),  # [1,32,2,2]
        helper.make_node("DepthToSpace", ["s2d"], ["d2s"], blocksize=2, mode="CRD"),  # [1,8,4,4]
        helper.make_node("Reshape", ["d2s", "seq_shape"], ["seq"]),  # [1,8,16]
        helper.make_node("Transpose", ["seq"], ["tokens"], perm=[0, 2, 1]),  # [1,16,8]
        helper.make_node("ReduceMean", ["tokens"], ["mu"], axes=[-1]),
        helper.make_node("Sub", ["tokens", "mu"], ["centred"]),
        helper.make_node("Pow", ["centred", "two"], ["sq"]),
        helper.make_node("ReduceMean", ["sq"], ["var"], axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", ["normed", "ln_g"], ["scaled"]),
        helper.make_node("Add", ["scaled", "ln_b"], ["ln"]),
        helper.make_node("Einsum", ["ln", "w1"], ["proj"], equation="btc,cd->btd"),  # [1,16,12]
        helper.make_node("Div", ["proj", "sqrt2"], ["g_div"]),
        helper.make_node("Erf", ["g_div"], ["g_erf"]),
        helper.make_node("Add", ["g_erf", "one"], ["g_add"]),
        helper.make_node("Mul", ["proj", "g_add"], ["g_mul"]),
        helper.make_node("Mul", ["g_mul", "half"], ["gelu"]),
        helper.make_node("Sigmoid", ["gelu"], ["sig"]),
        helper.make_node("Mul", ["gelu", "sig"], ["swish"]),
        helper.make_node("Tile", ["row_bias", "tile_reps"], ["tiled"]),  # [1,16,12]
        helper.make_node("Max", ["swish", "tiled", "floor_v"], ["mx"]),
        helper.make_node("Min", ["mx", "ceil_v"], ["mn"]),
        helper.make_node("Abs", ["mn"], ["ab"]),
        helper.make_node("Add", ["ab", "one"], ["ab1"]),
        helper.make_node("Log", ["ab1"], ["lg"]),
        helper.make_node("Neg", ["lg"], ["ng"]),
        helper.make_node("Exp", ["ng"], ["ex"]),  # 1 / (1 + |x|)
        helper.make_node("Reciprocal", ["ab1"], ["rc"]),
        helper.make_node("Sum", ["ex", "rc", "mn"], ["sm"]),
        helper.make_node("Mean", ["sm", "swish"], ["output"]),
    ]
    inits = [
        init("in_s", rnd(31, c, scale=1.0) + 1.0), init("in_b", rnd(32, c)),
        init("seq_shape", np.array([1, c, h * w], np.int64)),
        init("two", np.array(2.0, np.float32)), init("eps", np.array(1e-5, np.float32)),
        init("ln_g", rnd(33, c) + 1.0), init("ln_b", rnd(34, c)),
        init("w1", rnd(35, c, 12)),
        init("sqrt2", np.array(1.4142135, np.float32)), init("one", np.array(1.0, np.float32)),
        init("half", np.array(0.5, np.float32)),
        init("row_bias", rnd(36, 1, 1, 12, scale=0.1)), init("tile_reps", np.array([1, 16, 1], np.int64)),
        init("floor_v", np.array(-0.2, np.float32)), init("ceil_v", np.array([0.9], np.float32)),
    ]
    graph = helper.make_graph(nodes, "paddle_ocr_style", [vi("x", [1, c, h, w])], [vi("output", [1, 16, 12])],
                              inits)
    x = rnd(37, 1, c, h, w, scale=1.0)
    return make(graph, 13, 7, "paddle2onnx", "1.0.5"), x


def torch_crnn_rnn():
    # The tail of a CRNN text recogniser: a bidirectional LSTM and a GRU over the width of a
    # feature map, as torch exports them (LSTM/GRU ops with biases and zero initial states).
    import torch
    import torch.nn as nn

    class Tail(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(6, 5, bidirectional=True)
            self.gru = nn.GRU(10, 4)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):  # [N, C, 1, W] -> [W, N, C]
            seq = x.squeeze(2).permute(2, 0, 1)
            seq, _ = self.lstm(seq)
            seq, _ = self.gru(seq)
            return self.fc(seq)

    torch.manual_seed(41)
    torch.set_num_threads(2)
    net = Tail().eval()
    x = np.random.RandomState(42).standard_normal((2, 6, 1, 7)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        torch.onnx.export(net, torch.from_numpy(x), path, opset_version=11, input_names=["input"],
                          output_names=["output"])
        model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    missing = {"LSTM", "GRU"} - ops
    if missing:
        raise RuntimeError(f"torch export has no {sorted(missing)} nodes; ops: {sorted(ops)}")
    return model, x


BUILDERS = {
    "torch_dynamic": torch_dynamic,
    "constant_weights": constant_weights,
    "fp16_weights": fp16_weights,
    "opset9_upsample_pad": opset9_upsample_pad,
    "opset7_upsample": opset7_upsample,
    "hardswish_pattern": hardswish_pattern,
    "keras_style": keras_style,
    "paddle_style": paddle_style,
    "convtranspose_lrn": convtranspose_lrn,
    "torch_transformer_opset17": torch_transformer_opset17,
    "torch_transformer_opset11": torch_transformer_opset11,
    "paddle_ocr_style": paddle_ocr_style,
    "torch_crnn_rnn": torch_crnn_rnn,
}


def describe(name, model, x, size, outs):
    desc = ", ".join(f"{oname}{info['shape']}" for oname, info in outs.items())
    ops = " ".join(sorted({n.op_type for n in model.graph.node}))
    return (f"{name}: opset {model.opset_import[0].version}, IR {model.ir_version}, {size} bytes, "
            f"input {list(x.shape)}, outputs {desc}; ops {ops}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    ap.add_argument("--only", default=None, help="comma-separated subset of " + ",".join(BUILDERS))
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(BUILDERS)
    write_fixtures(BUILDERS, names, args.out, describe, input_dtype=np.float32)
    return 0


if __name__ == "__main__":
    sys.exit(main())
