#!/usr/bin/python3
"""Builds the float16 and quantized test models of tests/fixtures/models/quant.

Run with Debian's Python (python3-onnx, python3-numpy):

    /usr/bin/python3 tools/make_quant_fixtures.py [--out tests/fixtures/models/quant] [--only NAME,...]

It also writes the broken models tests/fixtures/bad/quant_*.onnx (refused with one line naming the
node). For every model NAME it writes NAME.onnx, NAME.input.npy and NAME.<output name>.npy, each output
as computed by ONNX Runtime (tools/ort/run_ort.js), like tools/make_fixture_models.py. Weights and
inputs are random with fixed seeds; quantization parameters are calibrated on the input the way
ONNX Runtime's quantizer does (min/max including 0; int8 weights symmetric per output channel,
uint8 activations asymmetric). See README.md in the output folder.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fixture_common import F, ROOT, init, rnd, vi, write_fixtures

F16, U8, I8, I32 = TensorProto.FLOAT16, TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32


def make(graph, opset=13, producer="fixture-quant"):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer)
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


# ---- float reference pieces used only for calibration ranges --------------------------------------

def conv2d(x, w, b, stride=1, pad=1):
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, oc, oh, ow), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return (y + b.reshape(1, -1, 1, 1)).astype(np.float32)


def act_params(values):
    """uint8 asymmetric (ORT's quantizer: range includes 0)."""
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    scale = np.float32((hi - lo) / 255.0)
    zero = np.uint8(round(-lo / scale))
    return scale, zero


def weight_params_per_channel(w):
    """int8 symmetric per output channel (axis 0), zero point 0."""
    m = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = (m / 127.0).astype(np.float32)
    q = np.clip(np.rint(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
    return scale, q


def quantize(x, scale, zero, dtype=np.uint8):
    info = np.iinfo(dtype)
    return np.clip(np.rint(x / scale) + zero, info.min, info.max).astype(dtype)


# ---- models ---------------------------------------------------------------------------------------

def fp16_cnn():
    """A small U-Net-like fp16 model: fp16 I/O and weights, Cast nodes to and from float32 inside."""
    h = lambda a: a.astype(np.float16)  # noqa: E731
    w1, b1 = rnd(1, 8, 3, 3, 3), rnd(2, 8, scale=0.1)
    w2, b2 = rnd(3, 8, 8, 3, 3, scale=0.2), rnd(4, 8, scale=0.1)
    w3, b3 = rnd(5, 4, 16, 3, 3, scale=0.2), rnd(6, 4, scale=0.1)
    inits = [init("w1", h(w1)), init("b1", h(b1)), init("w2", h(w2)), init("b2", h(b2)), init("w3", h(w3)),
             init("b3", h(b3)), init("scales", np.array([1, 1, 2, 2], np.float32)),
             init("gain", np.array(0.75, np.float32))]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),          # fp16 [1,8,16,16]
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),   # [1,8,8,8]
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Resize", ["r2", "", "scales"], ["up"], mode="nearest"),            # [1,8,16,16]
        # A float32 detour: widened, scaled, rounded back to float16 (Cast to FLOAT16 inside).
        helper.make_node("Cast", ["r1"], ["r1_f32"], to=F),
        helper.make_node("Mul", ["r1_f32", "gain"], ["skip_f32"]),
        helper.make_node("Cast", ["skip_f32"], ["skip"], to=F16),
        helper.make_node("Concat", ["up", "skip"], ["cat"], axis=1),                         # [1,16,16,16]
        helper.make_node("Conv", ["cat", "w3", "b3"], ["logits16"], pads=[1, 1, 1, 1]),     # [1,4,16,16]
        helper.make_node("Cast", ["logits16"], ["logits"], to=F),
        helper.make_node("Softmax", ["logits"], ["prob"], axis=1),
        helper.make_node("Cast", ["prob"], ["mask"], to=F16),
    ]
    g = helper.make_graph(nodes, "fp16_cnn", [vi("input", [1, 3, 16, 16], F16)], [vi("mask", [1, 4, 16, 16], F16)],
                          initializer=inits)
    return make(g), rnd(7, 1, 3, 16, 16, scale=1.0).astype(np.float16)


def qdq_cnn():
    """QDQ format as ORT's quantize_static writes it: per-channel int8 weights, uint8 activations."""
    x = rnd(11, 1, 3, 12, 12, scale=1.0)
    w1, b1 = rnd(12, 8, 3, 3, 3), rnd(13, 8, scale=0.1)
    w2, b2 = rnd(14, 8, 8, 3, 3, scale=0.2), rnd(15, 8, scale=0.1)
    wf, bf = rnd(16, 5, 8, scale=0.5), rnd(17, 5, scale=0.1)
    # Calibration on the float model (the same input).
    sx, zx = act_params(x)
    y1 = np.maximum(conv2d(x, w1, b1), 0)
    s1, z1 = act_params(y1)
    y2 = np.maximum(conv2d(y1, w2, b2, stride=2), 0)
    s2, z2 = act_params(y2)
    gap = y2.mean(axis=(2, 3))
    sg, zg = act_params(gap)
    out = gap @ wf.T + bf
    so, zo = act_params(out)
    sw1, qw1 = weight_params_per_channel(w1)
    sw2, qw2 = weight_params_per_channel(w2)
    swf, qwf = weight_params_per_channel(wf)
    qb1 = np.rint(b1 / (sx * sw1)).astype(np.int32)
    qb2 = np.rint(b2 / (s1 * sw2)).astype(np.int32)
    qbf = np.rint(bf / (sg * swf)).astype(np.int32)
    inits = [
        init("x_scale", sx), init("x_zero", zx), init("a1_scale", s1), init("a1_zero", z1),
        init("a2_scale", s2), init("a2_zero", z2), init("g_scale", sg), init("g_zero", zg),
        init("o_scale", so), init("o_zero", zo),
        init("w1_q", qw1), init("w1_scale", sw1), init("w1_zero", np.zeros(8, np.int8)),
        init("b1_q", qb1), init("b1_scale", (sx * sw1).astype(np.float32)), init("b1_zero", np.zeros(8, np.int32)),
        init("w2_q", qw2), init("w2_scale", sw2), init("w2_zero", np.zeros(8, np.int8)),
        init("b2_q", qb2), init("b2_scale", (s1 * sw2).astype(np.float32)), init("b2_zero", np.zeros(8, np.int32)),
        init("wf_q", qwf), init("wf_scale", swf), init("wf_zero", np.zeros(5, np.int8)),
        init("bf_q", qbf), init("bf_scale", (sg * swf).astype(np.float32)), init("bf_zero", np.zeros(5, np.int32)),
        init("flat_shape", np.array([1, 8], np.int64)),
    ]
    Q = lambda i, s, z, o: helper.make_node("QuantizeLinear", [i, s, z], [o], name=o)  # noqa: E731
    DQ = lambda i, s, z, o, axis=None: helper.make_node(  # noqa: E731
        "DequantizeLinear", [i, s, z], [o], name=o, **({"axis": axis} if axis is not None else {}))
    nodes = [
        Q("input", "x_scale", "x_zero", "input_q"), DQ("input_q", "x_scale", "x_zero", "input_dq"),
        DQ("w1_q", "w1_scale", "w1_zero", "w1", 0), DQ("b1_q", "b1_scale", "b1_zero", "b1", 0),
        helper.make_node("Conv", ["input_dq", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        Q("r1", "a1_scale", "a1_zero", "r1_q"), DQ("r1_q", "a1_scale", "a1_zero", "r1_dq"),
        DQ("w2_q", "w2_scale", "w2_zero", "w2", 0), DQ("b2_q", "b2_scale", "b2_zero", "b2", 0),
        helper.make_node("Conv", ["r1_dq", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        Q("r2", "a2_scale", "a2_zero", "r2_q"), DQ("r2_q", "a2_scale", "a2_zero", "r2_dq"),
        helper.make_node("GlobalAveragePool", ["r2_dq"], ["gap"], name="gap"),
        Q("gap", "g_scale", "g_zero", "gap_q"), DQ("gap_q", "g_scale", "g_zero", "gap_dq"),
        helper.make_node("Reshape", ["gap_dq", "flat_shape"], ["flat"], name="flatten"),
        DQ("wf_q", "wf_scale", "wf_zero", "wf", 0), DQ("bf_q", "bf_scale", "bf_zero", "bf", 0),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["fc"], name="fc", transB=1),
        Q("fc", "o_scale", "o_zero", "fc_q"), DQ("fc_q", "o_scale", "o_zero", "output"),
    ]
    g = helper.make_graph(nodes, "qdq_cnn", [vi("input", [1, 3, 12, 12])], [vi("output", [1, 5])],
                          initializer=inits)
    return make(g), x


def qlinear_ops():
    """QLinearConv (per-channel int8 weights, int32 bias) twice, then QLinearMatMul."""
    x = rnd(21, 1, 4, 10, 10, scale=1.0)
    w1, b1 = rnd(22, 6, 4, 3, 3), rnd(23, 6, scale=0.1)
    w2 = rnd(24, 6, 3, 3, 3, scale=0.3)  # group=2
    wm = rnd(25, 54, 7, scale=0.2)
    sx, zx = act_params(x)
    y1 = np.maximum(conv2d(x, w1, b1), 0)
    s1, z1 = act_params(y1)
    y2 = np.concatenate([conv2d(y1[:, 3 * g:3 * g + 3], w2[3 * g:3 * g + 3], np.zeros(3, np.float32), stride=3,
                                pad=0) for g in range(2)], axis=1)
    s2, z2 = act_params(y2)
    sm, zm = act_params(y2.reshape(1, -1) @ wm)
    sw1, qw1 = weight_params_per_channel(w1)
    qb1 = np.rint(b1 / (sx * sw1)).astype(np.int32)
    sw2 = np.float32(np.abs(w2).max() / 127.0)
    qw2 = np.clip(np.rint(w2 / sw2), -127, 127).astype(np.int8)
    swm = np.float32(np.abs(wm).max() / 127.0)
    qwm = np.clip(np.rint(wm / swm), -127, 127).astype(np.int8)
    inits = [
        init("x_scale", sx), init("x_zero", zx), init("w1_q", qw1), init("w1_scale", sw1),
        init("w1_zero", np.zeros(6, np.int8)), init("a1_scale", s1), init("a1_zero", z1), init("b1_q", qb1),
        init("w2_q", qw2), init("w2_scale", sw2), init("w2_zero", np.int8(0)), init("a2_scale", s2),
        init("a2_zero", z2), init("flat_shape", np.array([1, 54], np.int64)), init("wm_q", qwm),
        init("wm_scale", swm), init("wm_zero", np.int8(0)), init("m_scale", sm), init("m_zero", zm),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zero"], ["xq"], name="quant_in"),
        helper.make_node("QLinearConv", ["xq", "x_scale", "x_zero", "w1_q", "w1_scale", "w1_zero", "a1_scale",
                                         "a1_zero", "b1_q"], ["c1"], name="qconv1", pads=[1, 1, 1, 1]),
        helper.make_node("QLinearConv", ["c1", "a1_scale", "a1_zero", "w2_q", "w2_scale", "w2_zero", "a2_scale",
                                         "a2_zero"], ["c2"], name="qconv2", strides=[3, 3], group=2),
        helper.make_node("Reshape", ["c2", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("QLinearMatMul", ["flat", "a2_scale", "a2_zero", "wm_q", "wm_scale", "wm_zero", "m_scale",
                                           "m_zero"], ["mq"], name="qmatmul"),
        helper.make_node("DequantizeLinear", ["mq", "m_scale", "m_zero"], ["output"], name="dequant_out"),
        helper.make_node("DequantizeLinear", ["c1", "a1_scale", "a1_zero"], ["conv1_out"], name="dequant_c1"),
    ]
    g = helper.make_graph(nodes, "qlinear_ops", [vi("input", [1, 4, 10, 10])],
                          [vi("output", [1, 7]), vi("conv1_out", [1, 6, 10, 10])], initializer=inits)
    return make(g), x


def integer_ops():
    """Dynamic quantization as ORT's quantize_dynamic writes it: DynamicQuantizeLinear, ConvInteger
    and MatMulInteger with int32 results, Cast to float and rescaled by input scale x weight scale."""
    x = rnd(31, 1, 3, 9, 9, scale=1.0)
    w1 = rnd(32, 5, 3, 3, 3)
    wm = rnd(33, 125, 6, scale=0.2)
    sw1 = np.float32(np.abs(w1).max() / 127.0)
    qw1 = np.clip(np.rint(w1 / sw1), -127, 127).astype(np.int8)
    # uint8 weights with a non-zero zero point for MatMulInteger (ORT's asymmetric weight option).
    lo, hi = float(wm.min()), float(wm.max())
    swm = np.float32((hi - lo) / 255.0)
    zwm = np.uint8(round(-lo / swm))
    qwm = quantize(wm, swm, zwm)
    inits = [init("w1_q", qw1), init("w1_scale", sw1), init("w1_zero", np.int8(0)), init("wm_q", qwm),
             init("wm_scale", swm), init("wm_zero", zwm), init("flat_shape", np.array([1, 125], np.int64))]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["input"], ["xq", "xs", "xz"], name="dq_in"),
        helper.make_node("ConvInteger", ["xq", "w1_q", "xz", "w1_zero"], ["c1_i32"], name="conv_int",
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Cast", ["c1_i32"], ["c1_f"], name="c1_cast", to=F),
        helper.make_node("Mul", ["xs", "w1_scale"], ["c1_scale"], name="c1_scale_mul"),
        helper.make_node("Mul", ["c1_f", "c1_scale"], ["c1"], name="c1_rescale"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Reshape", ["r1", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("DynamicQuantizeLinear", ["flat"], ["fq", "fs", "fz"], name="dq_flat"),
        helper.make_node("MatMulInteger", ["fq", "wm_q", "fz", "wm_zero"], ["m_i32"], name="matmul_int"),
        helper.make_node("Cast", ["m_i32"], ["m_f"], name="m_cast", to=F),
        helper.make_node("Mul", ["fs", "wm_scale"], ["m_scale"], name="m_scale_mul"),
        helper.make_node("Mul", ["m_f", "m_scale"], ["output"], name="m_rescale"),
    ]
    g = helper.make_graph(nodes, "integer_ops", [vi("input", [1, 3, 9, 9])], [vi("output", [1, 6])],
                          initializer=inits)
    return make(g), x


# ---- broken models (tests/fixtures/bad): each must be refused with one line naming the node -------

def bad_models():
    """name -> model; not checked (the loader's own checks must answer)."""
    x = vi("input", [1, 2, 4, 4])
    wq = init("w_q", np.ones((2, 2, 1, 1), np.int8))
    conv = helper.make_node("Conv", ["input", "w"], ["output"], name="conv")
    out = [vi("output", [1, 2, 4, 4])]
    models = {}
    # Three per-channel scales for weights with two output channels.
    g = helper.make_graph([helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], name="dequant_w", axis=0),
                           conv], "bad", [x], out, initializer=[wq, init("w_scale", np.ones(3, np.float32))])
    models["quant_scale_length"] = g
    # Quantization axis 4 of 4-D weights.
    g = helper.make_graph([helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], name="dequant_w", axis=4),
                           conv], "bad", [x], out, initializer=[wq, init("w_scale", np.ones(2, np.float32))])
    models["quant_axis"] = g
    # uint8 zero point for int8 codes.
    g = helper.make_graph([helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], name="dequant_w"),
                           conv], "bad", [x], out,
                          initializer=[wq, init("w_scale", np.float32(1)), init("w_zero", np.uint8(0))])
    models["quant_zero_point_type"] = g
    result = {}
    for name, graph in models.items():
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="fixture-bad")
        m.ir_version = 7
        result[name] = m
    return result


BUILDERS = {"fp16_cnn": fp16_cnn, "qdq_cnn": qdq_cnn, "qlinear_ops": qlinear_ops, "integer_ops": integer_ops}


def describe(name, model, x, size, outs):
    desc = ", ".join(f"{oname}{info['shape']} {info['type']}" for oname, info in outs.items())
    ops = " ".join(sorted({n.op_type for n in model.graph.node}))
    return f"{name}: {size} bytes, input {list(x.shape)} {x.dtype}, outputs {desc}; ops {ops}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models", "quant"))
    ap.add_argument("--only", default=None, help="comma-separated subset of " + ",".join(BUILDERS))
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(BUILDERS)
    failed = write_fixtures(BUILDERS, names, args.out, describe)
    if not args.only:
        bad_dir = os.path.join(ROOT, "tests", "fixtures", "bad")
        for name, m in bad_models().items():
            onnx.save(m, os.path.join(bad_dir, f"{name}.onnx"))
            print(f"{name}: written to tests/fixtures/bad")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
