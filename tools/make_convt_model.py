#!/usr/bin/python3
"""Builds tests/fixtures/quant_export/convt_net.onnx: a small random-weight network with a
ConvTranspose, a grouped ConvTranspose and a grouped Conv, for `effectual quantize`'s ONNX Runtime
references (tools/make_quant_refs.sh; cases.txt names it by path). Debian's Python:

    /usr/bin/python3 tools/make_convt_model.py

Writes convt_net.onnx and convt_net.ref/input.npy (4 Fashion-MNIST-sized random inputs). Weights
are He-scaled normals with fixed seeds; the network is untrained (the references compare runtimes,
not accuracy).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "quant_export")


def he(seed, *shape, fan_in):
    return (np.random.RandomState(seed).standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def main():
    inits = [
        # Conv 1 -> 8, 3x3, stride 2: 28 -> 14
        numpy_helper.from_array(he(1, 8, 1, 3, 3, fan_in=9), "c1_w"),
        numpy_helper.from_array(he(2, 8, fan_in=50) * 0.1, "c1_b"),
        # ConvTranspose 8 -> 4, 4x4, stride 2, pad 1: 14 -> 28; weights [C_in, C_out, kH, kW]
        numpy_helper.from_array(he(3, 8, 4, 4, 4, fan_in=8 * 4), "t1_w"),
        numpy_helper.from_array(he(4, 4, fan_in=50) * 0.1, "t1_b"),
        # grouped ConvTranspose 4 -> 4, group 2, 3x3, pad 1: 28 -> 28; weights [C_in, C_out/g, kH, kW]
        numpy_helper.from_array(he(5, 4, 2, 3, 3, fan_in=2 * 9), "t2_w"),
        # grouped Conv 4 -> 4, group 2, 3x3, stride 2, pad 1: 28 -> 14
        numpy_helper.from_array(he(6, 4, 2, 3, 3, fan_in=2 * 9), "c2_w"),
        numpy_helper.from_array(he(7, 10, 4 * 14 * 14, fan_in=4 * 14 * 14), "fc_w"),
        numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "c1_w", "c1_b"], ["c1"], "conv1", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], "relu1"),
        helper.make_node("ConvTranspose", ["r1", "t1_w", "t1_b"], ["t1"], "deconv1", kernel_shape=[4, 4],
                         strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["t1"], ["r2"], "relu2"),
        helper.make_node("ConvTranspose", ["r2", "t2_w"], ["t2"], "deconv2_grouped", kernel_shape=[3, 3], group=2,
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["t2"], ["r3"], "relu3"),
        helper.make_node("Conv", ["r3", "c2_w"], ["c2"], "conv2_grouped", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], group=2),
        helper.make_node("Relu", ["c2"], ["r4"], "relu4"),
        helper.make_node("Flatten", ["r4"], ["f"], "flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], "fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "convt_net",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_convt_model")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, "convt_net.onnx"))
    os.makedirs(os.path.join(OUT, "convt_net.ref"), exist_ok=True)
    x = np.random.RandomState(11).uniform(-0.8, 2.0, (4, 1, 28, 28)).astype(np.float32)
    np.save(os.path.join(OUT, "convt_net.ref", "input.npy"), x)


if __name__ == "__main__":
    main()
