#!/usr/bin/python3
"""Builds the models behind effectual's shape and node-order tests, with ONNX Runtime outputs.

    /usr/bin/python3 tools/make_shape_fixtures.py [--out tests/fixtures/shapes]

Writes, for every model NAME and every input case K:
    NAME.onnx                       the model (random weights, fixed seeds)
    NAME.K.<input name>.npy         the inputs of case K
    NAME.K.<output name>.npy        each output as ONNX Runtime computes it (tools/ort/run_ort.js)

Models (see README.md beside them):
    dynamic_hw   x [N,3,H,W] as PaddleOCR exports have it: Conv+Relu, a probability map (Sigmoid of
                 a 1x1 conv, the detector's output), and class scores through GlobalAveragePool and
                 a PyTorch-style flatten (Shape -> Gather -> Unsqueeze -> Concat -> Reshape), Gemm,
                 Softmax. Cases with different N, H and W.
    two_inputs   a [N,4] and b [N,4] -> (a + 2b) MatMul W -> Relu: a model with two named inputs.
    unsorted     dynamic_hw's graph with its node list shuffled (seeded): the first node consumes a
                 value made much later, as fp16 converters and graph surgery tools leave it.
    seg_map      dynamic_hw with only its probability map as output: not a classifier.
    no_shape     dynamic_hw whose input x has a type but no shape field at all (not even a rank), as
                 some converters and graph editors leave it; ONNX Runtime takes the shape from the tensor.
Also writes tests/fixtures/bad/cycle.onnx, a graph with a cycle (refused by name), and
tests/fixtures/bad/no_layers.onnx, a model without conv/FC layers (profile/simulate refuse it).
Needs Debian's python3-onnx and python3-numpy, and (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install).
"""
import argparse
import json
import os
import random
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F = TensorProto.FLOAT


def rnd(seed, *shape, scale=0.5):
    return (np.random.RandomState(seed).standard_normal(shape) * scale).astype(np.float32)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def dynamic_hw():
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="head", kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["c2"], ["prob_map"], name="sigmoid"),
        helper.make_node("GlobalAveragePool", ["r1"], ["gap"], name="gap"),
        helper.make_node("Shape", ["gap"], ["gap_shape"], name="shape"),
        helper.make_node("Gather", ["gap_shape", "zero"], ["batch"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze"),
        helper.make_node("Concat", ["batch1", "minus_one"], ["flat_shape"], name="concat", axis=0),
        helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["scores"], name="softmax", axis=1),
    ]
    inits = [init("w1", rnd(1, 8, 3, 3, 3)), init("b1", rnd(2, 8)), init("w2", rnd(3, 1, 8, 1, 1)),
             init("b2", rnd(4, 1)), init("wf", rnd(5, 5, 8)), init("bf", rnd(6, 5)),
             init("zero", np.array(0, np.int64)), init("axes0", np.array([0], np.int64)),
             init("minus_one", np.array([-1], np.int64))]
    graph = helper.make_graph(nodes, "dynamic_hw", [helper.make_tensor_value_info("x", F, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("scores", F, ["N", 5]),
                               helper.make_tensor_value_info("prob_map", F, ["N", 1, "H", "W"])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="effectual-fixtures")
    model.ir_version = 7
    cases = [{"x": rnd(10, 1, 3, 20, 24, scale=1.0)}, {"x": rnd(11, 2, 3, 33, 17, scale=1.0)}]
    return model, cases


def two_inputs():
    nodes = [
        helper.make_node("Mul", ["b", "two"], ["b2"], name="double_b"),
        helper.make_node("Add", ["a", "b2"], ["s"], name="sum"),
        helper.make_node("MatMul", ["s", "w"], ["m"], name="matmul"),
        helper.make_node("Relu", ["m"], ["y"], name="relu"),
    ]
    inits = [init("two", np.array(2.0, np.float32)), init("w", rnd(20, 4, 3))]
    graph = helper.make_graph(nodes, "two_inputs", [helper.make_tensor_value_info("a", F, ["N", 4]),
                                                   helper.make_tensor_value_info("b", F, ["N", 4])],
                              [helper.make_tensor_value_info("y", F, ["N", 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="effectual-fixtures")
    model.ir_version = 7
    return model, [{"a": rnd(21, 2, 4, scale=1.0), "b": rnd(22, 2, 4, scale=1.0)}]


def unsorted():
    model, cases = dynamic_hw()
    nodes = list(model.graph.node)
    random.Random(7).shuffle(nodes)
    # Make sure the first node really consumes something produced later.
    produced_at = {o: i for i, n in enumerate(nodes) for o in n.output}
    assert any(produced_at.get(i, -1) > 0 for i in nodes[0].input), "shuffle left the graph sorted at the front"
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.name = "unsorted"
    return model, cases[:1]


def seg_map():
    model, cases = dynamic_hw()
    keep = [o for o in model.graph.output if o.name == "prob_map"]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    model.graph.name = "seg_map"
    return model, cases[:1]


def no_shape():
    model, cases = dynamic_hw()
    x = model.graph.input[0]
    x.type.tensor_type.ClearField("shape")
    assert not x.type.tensor_type.HasField("shape")
    model.graph.name = "no_shape"
    return model, cases[:1]


BUILDERS = {"dynamic_hw": dynamic_hw, "two_inputs": two_inputs, "unsorted": unsorted, "seg_map": seg_map,
            "no_shape": no_shape}


def write_cycle(path):
    """A graph whose nodes feed each other in a ring: ONNX Runtime refuses it, so must we."""
    nodes = [helper.make_node("Add", ["x", "c"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second"),
             helper.make_node("Neg", ["b"], ["c"], name="third"),
             helper.make_node("Abs", ["c"], ["y"], name="tail")]
    graph = helper.make_graph(nodes, "cycle", [helper.make_tensor_value_info("x", F, [1, 2])],
                              [helper.make_tensor_value_info("y", F, [1, 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="effectual-fixtures")
    model.ir_version = 7
    onnx.save(model, path)


def write_no_layers(path):
    """Token ids -> embedding Gather -> ReduceMean: runs, but has no conv/FC layer to profile or simulate."""
    emb = init("emb", rnd(20, 50, 8))
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"], name="lookup"),
             helper.make_node("ReduceMean", ["e"], ["y"], name="pool", axes=[1], keepdims=0)]
    graph = helper.make_graph(nodes, "no_layers", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "S"])],
                              [helper.make_tensor_value_info("y", F, ["B", 8])], [emb])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="effectual-fixtures")
    model.ir_version = 7
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "shapes"))
    ap.add_argument("--only", choices=sorted(BUILDERS), help="write this model (and its cases) only")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    script = os.path.join(ROOT, "tools", "ort", "run_ort.js")
    for name, build in BUILDERS.items():
        if args.only and name != args.only:
            continue
        model, cases = build()
        mpath = os.path.join(args.out, f"{name}.onnx")
        onnx.save(model, mpath)
        for k, case in enumerate(cases):
            paths = []
            for iname, array in case.items():
                p = os.path.join(args.out, f"{name}.{k}.{iname}.npy")
                np.save(p, np.ascontiguousarray(array))
                paths.append(p)
            with tempfile.TemporaryDirectory() as tmp:
                res = subprocess.run(["node", script, mpath, ",".join(paths), tmp], capture_output=True, text=True,
                                     check=True)
                outs = json.loads(res.stdout.strip().splitlines()[-1])["outputs"]
                for oname, info in outs.items():
                    os.replace(info["file"], os.path.join(args.out, f"{name}.{k}.{oname}.npy"))
            print(f"{name} case {k}: inputs {[a.shape for a in case.values()]}, outputs {sorted(outs)}")
    if args.only:
        return
    write_cycle(os.path.join(ROOT, "tests", "fixtures", "bad", "cycle.onnx"))
    write_no_layers(os.path.join(ROOT, "tests", "fixtures", "bad", "no_layers.onnx"))


if __name__ == "__main__":
    main()
