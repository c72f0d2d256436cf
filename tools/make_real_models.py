#!/usr/bin/python3
"""Builds real-architecture ONNX models as third-party exporters write them, with ONNX Runtime
reference outputs, for effectual's tests (tests/fixtures/real) and benchmarks (build/real-models).

Run with Debian's Python (python3-torch 1.13, python3-torchvision 0.14, python3-onnx 1.12, numpy),
not the `python3` first on PATH:

    /usr/bin/python3 tools/make_real_models.py [--set small|large] [--out DIR] [--only NAME,...]

`--set small` (default, into tests/fixtures/real) writes the reduced models that are committed;
`--set large` (default out build/real-models, run by tools/make_real_models.sh) writes the
full-size ones (MobileNetV2-224, ResNet-18, EfficientNet-B0, PaddleOCR-sized det/rec, U-Net).

Nothing is downloaded: weights are random (torch.manual_seed / numpy RandomState, fixed per
model), with BatchNorm statistics set by a few train-mode forward passes on random data (the
images below plus seeded noise) so that activations have realistic ranges. Inputs are the Fashion-MNIST images in models/images,
upscaled and normalised as the model family expects (or seeded random for the transformer).
Exports use one CPU thread; regenerating gives the same numbers (files may differ in bytes only
where torch writes its version).

For every model NAME the output folder gets:
    NAME.onnx
    NAME.ref/inputs/<input name>.npy    the input(s) (names made file-safe like run_ort.js does)
    NAME.ref/outputs/<output name>.npy  ONNX Runtime's outputs (tools/ort/run_ort.js)
    NAME.bench.npy                      (large set, where the bench uses a bigger input)
See tests/fixtures/real/README.md for what each model exercises.
"""
import argparse
import glob
import io
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_model_rewrites as rw  # noqa: E402
from make_fixture_models import init, make, rnd, vi  # noqa: E402

ROOT = rw.ROOT
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def torch_setup(seed):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    return torch


def images(n, h, w, mean=IMAGENET_MEAN, std=IMAGENET_STD, first=0):
    """n images of models/images as float32 [n,3,h,w]: grey -> RGB, bilinear upscale, normalised."""
    import torch
    import torch.nn.functional as F
    from PIL import Image
    files = sorted(glob.glob(os.path.join(ROOT, "models", "images", "*.png")))[first:first + n]
    x = np.stack([np.asarray(Image.open(f).convert("L"), np.float32) / 255.0 for f in files])
    x = F.interpolate(torch.from_numpy(x[:, None]), size=(h, w), mode="bilinear", align_corners=False).numpy()
    x = np.repeat(x, 3, axis=1)
    return np.ascontiguousarray((x - mean[:, None, None]) / std[:, None, None], dtype=np.float32)


def calibrate_bn(model, shape, steps=3, seed=0, **norm):
    """BatchNorm running statistics from train-mode passes (cumulative average) on random data:
    the models/images pictures with seeded noise added. Pure noise is not enough: a randomly
    initialised network calibrated on noise amplifies the flat dark backgrounds of the test
    images into logits of thousands (EfficientNet-B0: 3000, where ONNX Runtime then differs from
    float64 by 2%); keyword arguments are the normalisation of images()."""
    import torch
    pool = torch.from_numpy(images(10, shape[2], shape[3], **norm))
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(steps):
            pick = torch.randint(0, len(pool), (shape[0],), generator=g)
            model(pool[pick] + 0.5 * torch.randn(*shape, generator=g))
    return model.eval()


def export(model, x, opset, in_names, out_names, dynamic_axes=None, fold_bn=True):
    """torch.onnx.export; fold_bn=False keeps BatchNormalization nodes as paddle2onnx does."""
    import torch
    buf = io.BytesIO()
    mode = torch.onnx.TrainingMode.EVAL if fold_bn else torch.onnx.TrainingMode.PRESERVE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.from_numpy(x), buf, opset_version=opset, input_names=in_names,
                          output_names=out_names, dynamic_axes=dynamic_axes, do_constant_folding=True,
                          training=mode)
    m = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(m)
    return m


BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}
NHW = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}}


# ---------------------------------------------------------------- torchvision classifiers

def mobilenetv2_net(small):
    torch = torch_setup(1)
    import torchvision
    from torchvision.ops.misc import Conv2dNormActivation
    if small:
        # Fewer repeats, no 320-channel stage, and 256 instead of the 1280 final channels
        # torchvision keeps at any width: the same op pattern (residual and strided blocks,
        # depthwise convs of 8..336 channels) in a file of about 200 KB.
        setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 2, 2], [6, 96, 1, 1], [6, 160, 1, 2]]
        net = torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10, inverted_residual_setting=setting)
        net.features[-1] = Conv2dNormActivation(net.features[-1][0].in_channels, 256, kernel_size=1,
                                                activation_layer=torch.nn.ReLU6)
        net.classifier[1] = torch.nn.Linear(256, 10)
        return calibrate_bn(net, (8, 3, 64, 64)), 64
    return calibrate_bn(torchvision.models.mobilenet_v2(), (4, 3, 224, 224)), 224


def mobilenetv2(small=False, dyn=False):
    net, size = mobilenetv2_net(small)
    x = images(2, size, size)
    m = export(net, x, 13, ["input"], ["output"], NHW if dyn else BATCH)
    if dyn:  # a non-square input shows that H and W really are free
        x = images(2, size - 16, size + 16)
    return m, [x]


def mobilenetv2_qdq(small=False):
    m, [x] = mobilenetv2(small)
    with tempfile.TemporaryDirectory() as tmp:
        calib = []
        for i in range(4):  # ten images in models/images: calibrate on others than the reference's
            p = os.path.join(tmp, f"c{i}.npy")
            np.save(p, images(2, x.shape[2], x.shape[3], first=2 + 2 * i))
            calib.append(p)
        m = rw.quantize_qdq(m, calib)
    return m, [x]


def mobilenetv2_dynq(small=False):
    m, [x] = mobilenetv2(small)
    return rw.quantize_dynamic(m), [x]


def transformer_dynq(small=False):
    m, [x] = transformer_block(small)
    return rw.quantize_dynamic(m), [x]


def resnet18(small=False):
    torch_setup(2)
    import torchvision
    net = calibrate_bn(torchvision.models.resnet18(), (4, 3, 224, 224))
    x = images(2, 224, 224)
    return export(net, x, 11, ["input"], ["output"], BATCH), [x]


def efficientnet(small=False):
    torch = torch_setup(3)
    from torchvision.models import efficientnet as en
    if small:
        setting, _ = en._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
        # The two widest stages dropped and 128 final channels: MBConv with SE, SiLU, Sigmoid,
        # Mul, residual Add as in B0, in a small file.
        net = en.EfficientNet(setting[:5], dropout=0.2, num_classes=10, last_channel=128)
        size, shape = 64, (8, 3, 64, 64)
    else:
        net, size, shape = en.efficientnet_b0(), 224, (4, 3, 224, 224)
    del torch
    net = calibrate_bn(net, shape)
    x = images(2, size, size)
    return export(net, x, 13, ["input"], ["output"], BATCH), [x]


# ---------------------------------------------------------------- PaddleOCR-style

P2O = ["p2o.DynamicDimension.0", "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]


def ppocr_det(small=False):
    torch_setup(4)
    from real_model_nets import DBNet
    net = DBNet(scale=0.25, inner=32) if small else DBNet(scale=1.0, inner=96)
    net = calibrate_bn(net, (4, 3, 64, 64) if small else (2, 3, 320, 320))
    h, w = (64, 96) if small else (640, 640)
    x = images(1, h, w)
    m = export(net, x, 11, ["x"], ["y"], {"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}},
               fold_bn=False)
    # PaddleOCR's SE gate is hardsigmoid(slope 0.2, offset 0.5); HardSwish's own HardSigmoid
    # (Mul(x, HardSigmoid(x))) keeps 1/6.
    producers = {o: n for n in m.graph.node for o in n.output}
    for n in m.graph.node:
        if n.op_type == "Mul":
            for k, t in enumerate(n.input):
                p = producers.get(t)
                if p is not None and p.op_type == "HardSigmoid" and p.input[0] != n.input[1 - k]:
                    del p.attribute[:]
                    p.attribute.extend([helper.make_attribute("alpha", 0.2), helper.make_attribute("beta", 0.5)])
    rw.paddle_names(m, "x")  # the head's Sigmoid names the output: sigmoid_0.tmp_0
    rw.set_dim_params(m.graph.input[0], [P2O[0], None, P2O[1], P2O[2]])
    rw.set_dim_params(m.graph.output[0], [P2O[0], None, P2O[1], P2O[2]])
    onnx.checker.check_model(m)
    return m, [x]


def ppocr_rec(small=False):
    torch_setup(5)
    from real_model_nets import SVTR
    net = SVTR((32, 48), (1, 1), (2, 2), 37, mlp_ratio=2) if small else SVTR()
    net = calibrate_bn(net, (4, 3, 48, 64 if small else 160), mean=np.full(3, 0.5, np.float32),
                      std=np.full(3, 0.5, np.float32))
    w = 64 if small else 320
    x = images(2, 48, w, mean=np.full(3, 0.5, np.float32), std=np.full(3, 0.5, np.float32))
    m = export(net, x, 11, ["x"], ["y"], {"x": {0: "n", 3: "w"}, "y": {0: "n", 1: "l"}}, fold_bn=False)
    for n in m.graph.node:  # torch writes the last axis as a number, paddle2onnx as -1
        if n.op_type == "Softmax":
            del n.attribute[:]
            n.attribute.extend([helper.make_attribute("axis", -1)])
    rw.paddle_names(m, "x")  # the last Softmax names the output, e.g. softmax_2.tmp_0
    rw.set_dim_params(m.graph.input[0], [P2O[0], None, None, P2O[1]])
    rw.set_dim_params(m.graph.output[0], [P2O[0], "p2o.DynamicDimension.3", None])
    onnx.checker.check_model(m)
    return m, [x]


# ---------------------------------------------------------------- fp16 U-Net, transformer

def unet_fp16(small=False):
    torch_setup(6)
    from real_model_nets import UNet
    net = UNet(base=4, levels=3) if small else UNet(base=16, levels=4)
    size = 64 if small else 256
    net = calibrate_bn(net, (4, 3, size, size))
    x = images(1, size, size)
    m = export(net, x, 13, ["input"], ["mask"], {"input": {0: "batch", 2: "height", 3: "width"},
                                                  "mask": {0: "batch", 2: "height", 3: "width"}})
    m = rw.shuffle_nodes(rw.to_float16(m), seed=7)
    return m, [x.astype(np.float16)]


def transformer_block(small=False):
    torch_setup(8)
    from real_model_nets import TransformerBlock
    net = TransformerBlock(c=32, heads=2, max_len=32, layers=2).eval()
    x = np.random.RandomState(8).standard_normal((2, 12, 32)).astype(np.float32)
    m = export(net, x, 17, ["tokens"], ["hidden"], {"tokens": {0: "batch", 1: "seq"}, "hidden": {0: "batch", 1: "seq"}})
    return m, [x]


# ---------------------------------------------------------------- tf2onnx / tflite2onnx

def he(seed, *shape):
    fan_in = int(np.prod(shape[1:]))
    return rnd(seed, *shape, scale=float(np.sqrt(2.0 / fan_in)))


def keras_style(small=True):
    """What tf2onnx (opset 13) writes for a small Keras MobileNet-like CNN: NHWC input and
    Transpose, ZeroPadding2D as an explicit Pad, depthwise Conv (group=C, weight [C,1,3,3]),
    ReLU6 as Clip with min/max inputs, Transpose back to NHWC before Flatten (Reshape with a
    constant shape), MatMul + Add, Softmax. The existing fixture tools/make_fixture_models.py
    keras_style covers auto_pad SAME, unfolded BatchNormalization and Squeeze."""
    p = "model/"
    inits = [init("const_pads__41", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64)),
             init("const_fold_opt__50", np.array([-1, 8 * 8 * 32], np.int64)),
             init("Relu6__5:0", np.array(0.0, np.float32)), init("Relu6__6:0", np.array(6.0, np.float32))]
    nodes = [helper.make_node("Transpose", ["input_1"], ["input_1_nchw"], perm=[0, 3, 1, 2], name="Transpose__34")]
    cur, seed = "input_1_nchw", 100

    def conv(name, cin, cout, k, s, group, pad_first, act):
        nonlocal cur, seed
        w = he(seed, cout, cin // group, k, k)
        b = rnd(seed + 1, cout, scale=0.05)
        seed += 2
        inits.extend([init(f"{p}{name}/Conv2D/ReadVariableOp:0", w), init(f"{p}{name}/BiasAdd/ReadVariableOp:0", b)])
        pads = [k // 2] * 4
        if pad_first:
            nodes.append(helper.make_node("Pad", [cur, "const_pads__41"], [f"{p}{name}_pad/Pad:0"], mode="constant",
                                          name=f"{p}{name}_pad/Pad"))
            cur, pads = f"{p}{name}_pad/Pad:0", [0, 0, 0, 0]
        nodes.append(helper.make_node("Conv", [cur, inits[-2].name, inits[-1].name], [f"{p}{name}/BiasAdd:0"],
                                      kernel_shape=[k, k], strides=[s, s], pads=pads, group=group,
                                      dilations=[1, 1], name=f"{p}{name}/BiasAdd"))
        cur = f"{p}{name}/BiasAdd:0"
        if act == "relu6":
            nodes.append(helper.make_node("Clip", [cur, "Relu6__5:0", "Relu6__6:0"], [f"{p}{name}_relu/Relu6:0"],
                                          name=f"{p}{name}_relu/Relu6"))
            cur = f"{p}{name}_relu/Relu6:0"
        else:
            nodes.append(helper.make_node("Relu", [cur], [f"{p}{name}_relu/Relu:0"], name=f"{p}{name}_relu/Relu"))
            cur = f"{p}{name}_relu/Relu:0"

    conv("conv1", 3, 16, 3, 2, 1, True, "relu6")          # 32 -> 16
    conv("conv_dw_1", 16, 16, 3, 1, 16, False, "relu6")
    conv("conv_pw_1", 16, 32, 1, 1, 1, False, "relu6")
    conv("conv_dw_2", 32, 32, 3, 2, 32, True, "relu6")    # 16 -> 8
    conv("conv_pw_2", 32, 32, 1, 1, 1, False, "relu")
    wd, bd = he(seed, 8 * 8 * 32, 10) * 0.5, rnd(seed + 1, 10, scale=0.05)
    inits.extend([init(f"{p}dense/MatMul/ReadVariableOp:0", wd), init(f"{p}dense/BiasAdd/ReadVariableOp:0", bd)])
    nodes += [
        helper.make_node("Transpose", [cur], [f"{p}conv_pw_2_relu/Relu__52:0"], perm=[0, 2, 3, 1], name="Transpose__52"),
        helper.make_node("Reshape", [f"{p}conv_pw_2_relu/Relu__52:0", "const_fold_opt__50"], [f"{p}flatten/Reshape:0"],
                         name=f"{p}flatten/Reshape"),
        helper.make_node("MatMul", [f"{p}flatten/Reshape:0", inits[-2].name], [f"{p}dense/MatMul:0"], name=f"{p}dense/MatMul"),
        helper.make_node("Add", [f"{p}dense/MatMul:0", inits[-1].name], [f"{p}dense/BiasAdd:0"], name=f"{p}dense/BiasAdd"),
        helper.make_node("Softmax", [f"{p}dense/BiasAdd:0"], ["dense"], axis=-1, name=f"{p}dense/Softmax")]
    g = helper.make_graph(nodes, "tf2onnx", [vi("input_1", ["unk__60", 32, 32, 3])], [vi("dense", ["unk__61", 10])],
                          initializer=inits)
    x = images(2, 32, 32, mean=np.full(3, 0.5, np.float32), std=np.full(3, 0.5, np.float32))
    return make(g, 13, 7, "tf2onnx", "1.9.3 1190aa"), [np.ascontiguousarray(x.transpose(0, 2, 3, 1))]


def tflite_style(small=True):
    """What tflite2onnx (opset 11) writes for a float MobileNetV1-like .tflite: static NHWC input
    [1,32,32,3] and Transpose, SAME padding as explicit Conv pads (asymmetric stride-2 SAME as a
    separate Pad), depthwise Conv group=C, RELU6 as Clip, AVERAGE_POOL_2D as AveragePool, the
    logits 1x1 Conv, Transpose back, SQUEEZE as Reshape with a constant shape, SOFTMAX."""
    p = "MobilenetV1/"
    inits = [init("pads_s2", np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64)),
             init("clip_min", np.array(0.0, np.float32)), init("clip_max", np.array(6.0, np.float32)),
             init("MobilenetV1/Logits/SpatialSqueeze_shape", np.array([1, 10], np.int64))]
    nodes = [helper.make_node("Transpose", ["input"], ["input_nchw"], perm=[0, 3, 1, 2], name="input_transpose")]
    cur, seed = "input_nchw", 200

    def conv(name, cin, cout, k, s, group, act=True):
        nonlocal cur, seed
        w, b = he(seed, cout, cin // group, k, k), rnd(seed + 1, cout, scale=0.05)
        seed += 2
        inits.extend([init(f"{p}{name}/weights", w), init(f"{p}{name}/Conv2D_bias", b)])
        pads = [k // 2] * 4
        if s == 2 and k > 1:
            nodes.append(helper.make_node("Pad", [cur, "pads_s2"], [f"{p}{name}/pad"], mode="constant", name=f"{p}{name}/Pad"))
            cur, pads = f"{p}{name}/pad", [0, 0, 0, 0]
        out = f"{p}MobilenetV1/{name}/Conv2D"
        nodes.append(helper.make_node("Conv", [cur, inits[-2].name, inits[-1].name], [out], kernel_shape=[k, k],
                                      strides=[s, s], pads=pads, group=group, dilations=[1, 1], name=out))
        cur = out
        if act:
            nodes.append(helper.make_node("Clip", [cur, "clip_min", "clip_max"], [f"{p}MobilenetV1/{name}/Relu6"],
                                          name=f"{p}MobilenetV1/{name}/Relu6"))
            cur = f"{p}MobilenetV1/{name}/Relu6"

    conv("Conv2d_0", 3, 8, 3, 2, 1)                 # 32 -> 16
    conv("Conv2d_1_depthwise", 8, 8, 3, 1, 8)
    conv("Conv2d_1_pointwise", 8, 16, 1, 1, 1)
    conv("Conv2d_2_depthwise", 16, 16, 3, 2, 16)   # 16 -> 8
    conv("Conv2d_2_pointwise", 16, 32, 1, 1, 1)
    nodes.append(helper.make_node("AveragePool", [cur], [f"{p}Logits/AvgPool_1a/AvgPool"], kernel_shape=[8, 8],
                                  strides=[2, 2], pads=[0, 0, 0, 0], name=f"{p}Logits/AvgPool_1a/AvgPool"))
    cur = f"{p}Logits/AvgPool_1a/AvgPool"
    conv("Logits/Conv2d_1c_1x1", 32, 10, 1, 1, 1, act=False)
    nodes += [
        helper.make_node("Transpose", [cur], [f"{cur}_nhwc"], perm=[0, 2, 3, 1], name="logits_transpose"),
        helper.make_node("Reshape", [f"{cur}_nhwc", "MobilenetV1/Logits/SpatialSqueeze_shape"],
                         [f"{p}Logits/SpatialSqueeze"], name=f"{p}Logits/SpatialSqueeze"),
        helper.make_node("Softmax", [f"{p}Logits/SpatialSqueeze"], ["MobilenetV1/Predictions/Reshape_1"], axis=-1,
                         name="MobilenetV1/Predictions/Softmax")]
    g = helper.make_graph(nodes, "MobilenetV1", [vi("input", [1, 32, 32, 3])],
                          [vi("MobilenetV1/Predictions/Reshape_1", [1, 10])], initializer=inits)
    x = images(1, 32, 32, mean=np.full(3, 0.5, np.float32), std=np.full(3, 0.5, np.float32), first=3)
    return make(g, 11, 6, "tflite2onnx", "0.4.1"), [np.ascontiguousarray(x.transpose(0, 2, 3, 1))]


# ---------------------------------------------------------------- registry

def small(fn, **kw):
    return lambda: fn(small=True, **kw)


def large(fn, **kw):
    return lambda: fn(small=False, **kw)


SETS = {
    "small": {
        "mobilenetv2_small": small(mobilenetv2),
        "mobilenetv2_small_dyn": small(mobilenetv2, dyn=True),
        "mobilenetv2_qdq_small": small(mobilenetv2_qdq),
        "mobilenetv2_dynq_small": small(mobilenetv2_dynq),
        "transformer_dynq": small(transformer_dynq),
        "efficientnet_small": small(efficientnet),
        "ppocr_det_small": small(ppocr_det),
        "ppocr_rec_small": small(ppocr_rec),
        "unet_fp16_small": small(unet_fp16),
        "transformer_block": small(transformer_block),
        "keras_style": small(keras_style),
        "tflite_style": small(tflite_style),
    },
    "large": {
        "mobilenetv2": large(mobilenetv2),
        "mobilenetv2_dyn": large(mobilenetv2, dyn=True),
        "mobilenetv2_qdq": large(mobilenetv2_qdq),
        "resnet18": large(resnet18),
        "efficientnet_b0": large(efficientnet),
        "ppocr_det": large(ppocr_det),
        "ppocr_rec": large(ppocr_rec),
        "unet_fp16": large(unet_fp16),
    },
}

# Bigger inputs for tools/bench.js where the reference input is kept small.
BENCH_INPUTS = {"unet_fp16": lambda: images(1, 1024, 1024).astype(np.float16)}


def write(name, model, inputs, out):
    with tempfile.TemporaryDirectory() as tmp:
        mpath = os.path.join(tmp, f"{name}.onnx")
        onnx.save(model, mpath)
        ref = os.path.join(tmp, "ref")
        os.makedirs(os.path.join(ref, "inputs"))
        ipaths = []
        for v, x in zip(model.graph.input, inputs):
            ipaths.append(os.path.join(ref, "inputs", rw.safe_name(v.name) + ".npy"))
            np.save(ipaths[-1], x)
        outs = rw.run_ort(mpath, ipaths, os.path.join(ref, "outputs"))
        shutil.rmtree(os.path.join(out, f"{name}.ref"), ignore_errors=True)
        shutil.copy(mpath, os.path.join(out, f"{name}.onnx"))
        shutil.copytree(ref, os.path.join(out, f"{name}.ref"))
    ops = sorted({n.op_type for n in model.graph.node})
    desc = ", ".join(f"{k}{v['shape']} {v['type']}" for k, v in outs.items())
    print(f"{name}: opset {model.opset_import[0].version}, {os.path.getsize(os.path.join(out, name + '.onnx'))} bytes, "
          f"inputs {[list(x.shape) for x in inputs]}, outputs {desc}; ops {' '.join(ops)}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="small")
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None, help="comma-separated model names")
    args = ap.parse_args()
    builders = SETS[args.set]
    out = args.out or os.path.join(ROOT, "tests/fixtures/real" if args.set == "small" else "build/real-models")
    os.makedirs(out, exist_ok=True)
    names = args.only.split(",") if args.only else list(builders)
    unknown = [n for n in names if n not in builders]
    if unknown:
        sys.exit(f"make_real_models: unknown in --set {args.set}: {', '.join(unknown)}; known: {', '.join(builders)}")
    failed = []
    for name in names:
        try:
            model, inputs = builders[name]()
            write(name, model, inputs, out)
            if name in BENCH_INPUTS:
                np.save(os.path.join(out, f"{name}.bench.npy"), BENCH_INPUTS[name]())
        except Exception as e:  # noqa: BLE001 -- report and go on with the other models
            print(f"{name}: not written: {e}", file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"not written: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
