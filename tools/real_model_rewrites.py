"""Graph rewrites used by tools/make_real_models.py to turn a torch export into what other tools
write: paddle2onnx naming and dynamic dimensions, a float16 conversion with fp32 islands (as
onnxconverter-common's convert_float_to_float16 does), ONNX Runtime style QDQ quantization, and
a deterministic node shuffle (a graph that is not topologically sorted).

Only numpy and onnx (Debian's python3-onnx 1.12) are used; nothing here is fetched code.
"""
import collections
import json
import os
import re
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def safe_name(name):
    # Same rule as tools/ort/run_ort.js and the C++ test: file names for tensor names.
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def run_ort(model_path, input_paths, out_dir):
    """Runs ONNX Runtime (tools/ort/run_ort.js); returns {output name: {file, type, shape}}."""
    script = os.path.join(ROOT, "tools", "ort", "run_ort.js")
    res = subprocess.run(["node", script, model_path, ",".join(input_paths), out_dir],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip() or res.stdout.strip())
    return json.loads(res.stdout.strip().splitlines()[-1])["outputs"]


def rename_tensors(model, rename):
    """Renames tensors everywhere (nodes, inputs, outputs, initializers, value_info)."""
    g = model.graph
    for n in g.node:
        n.input[:] = [rename.get(x, x) for x in n.input]
        n.output[:] = [rename.get(x, x) for x in n.output]
    for coll in (g.input, g.output, g.value_info):
        for v in coll:
            v.name = rename.get(v.name, v.name)
    for t in g.initializer:
        t.name = rename.get(t.name, t.name)


def paddle_names(model, input_name="x", output_names=None):
    """paddle2onnx's naming: tensors `<op>_<k>.tmp_0`, weights `<op>_<k>.w_0`, nodes `p2o.<Op>.<k>`."""
    g = model.graph
    counts = collections.Counter()
    rename = {g.input[0].name: input_name}
    for n in g.node:
        key = n.op_type.lower()
        k = counts[key]
        counts[key] += 1
        n.name = f"p2o.{n.op_type}.{k}"
        for j, o in enumerate(n.output):
            rename[o] = f"{key}_{k}.tmp_{j}"
    for i, t in enumerate(g.initializer):
        rename.setdefault(t.name, f"param_{i}.w_0")
    for o, new in zip(g.output, output_names or []):
        rename[o.name] = new
    rename_tensors(model, rename)


def set_dim_params(value_info, names):
    """Dimension i of the tensor becomes symbolic `names[i]` where names[i] is not None."""
    dims = value_info.type.tensor_type.shape.dim
    for d, name in zip(dims, names):
        if name is not None:
            d.Clear()
            d.dim_param = name


# ---------------------------------------------------------------- float16

# onnxconverter-common's default block list, reduced to the ops these models contain: the
# converter leaves them in float32 and brackets them with Cast nodes.
FP16_BLOCK = {"Resize", "Upsample", "Range", "Min", "Max", "TopK", "NonMaxSuppression", "CumSum"}


def to_float16(model):
    """float32 -> float16 everywhere except in blocked ops, which get Cast nodes around them."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    blocked_inputs = set()
    for n in g.node:
        if n.op_type in FP16_BLOCK:
            blocked_inputs.update(n.input[1:])  # roi/scales/sizes stay float32
    new_nodes = []
    for n in g.node:
        if n.op_type in FP16_BLOCK:
            x = n.input[0]
            cast_in = helper.make_node("Cast", [x], [x + "_fp32"], to=TensorProto.FLOAT,
                                       name=n.name + "_input_cast0")
            y = n.output[0]
            cast_out = helper.make_node("Cast", [y + "_fp32"], [y], to=TensorProto.FLOAT16,
                                        name=n.name + "_output_cast0")
            n.input[0] = x + "_fp32"
            n.output[0] = y + "_fp32"
            new_nodes += [cast_in, n, cast_out]
        elif n.op_type == "Constant" and n.output[0] not in blocked_inputs:
            t = n.attribute[0].t
            if t.data_type == TensorProto.FLOAT:
                arr = numpy_helper.to_array(t).astype(np.float16)
                n.attribute[0].t.CopyFrom(numpy_helper.from_array(arr, t.name))
            new_nodes.append(n)
        else:
            new_nodes.append(n)
    del g.node[:]
    g.node.extend(new_nodes)
    for name, t in inits.items():
        if t.data_type == TensorProto.FLOAT and name not in blocked_inputs:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), name))
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del g.value_info[:]
    model = shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    return model


def shuffle_nodes(model, seed):
    """Deterministic shuffle, then the first node is one that consumes the output of a Cast which
    is moved to the very end: a consumer long before its producer, as some converters leave it."""
    g = model.graph
    nodes = list(g.node)
    order = np.random.RandomState(seed).permutation(len(nodes))
    nodes = [nodes[i] for i in order]
    casts = [n for n in nodes if n.op_type == "Cast" and n.name.endswith("_output_cast0")]
    if casts:
        cast = casts[0]
        consumer = next(n for n in nodes if cast.output[0] in n.input)
        nodes.remove(cast)
        nodes.remove(consumer)
        nodes = [consumer] + nodes + [cast]
    del g.node[:]
    g.node.extend(nodes)
    return model


# ---------------------------------------------------------------- QDQ

QDQ_OPS = {"Conv", "Gemm", "Add", "GlobalAveragePool"}


def calibrate(model, inputs, workdir):
    """min/max of every input of a quantized op over `inputs` (a list of npy paths), computed by
    ONNX Runtime on the float model with those tensors added as graph outputs."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name for t in m.graph.initializer}
    want = []
    for n in m.graph.node:
        if n.op_type in QDQ_OPS:
            want += [x for x in n.input if x and x not in inits and x not in want]
    existing = {o.name for o in m.graph.output}
    for name in want:
        if name not in existing:
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    path = os.path.join(workdir, "calib.onnx")
    onnx.save(m, path)
    ranges = {}
    for i, x in enumerate(inputs):
        outs = run_ort(path, [x], os.path.join(workdir, f"calib{i}"))
        for name in want:
            a = np.load(outs[name]["file"])
            lo, hi = float(a.min()), float(a.max())
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges


def quantize_qdq(model, inputs):
    """QDQ format as onnxruntime.quantization.quantize_static(QuantFormat.QDQ, per_channel=True)
    writes it: uint8 activations (asymmetric, MinMax calibration), int8 symmetric per-channel
    weights as int8 initializers with DequantizeLinear(axis=0), int32 biases with scale
    input_scale * weight_scale."""
    with tempfile.TemporaryDirectory() as tmp:
        ranges = calibrate(model, inputs, tmp)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    new_inits, new_nodes = [], []
    act = {}  # float tensor -> (dequantized name, scale)

    def act_qdq(name):
        if name in act:
            return act[name]
        lo, hi = ranges[name]
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        scale = np.float32((hi - lo) / 255.0 if hi > lo else 1.0)
        zp = np.uint8(np.clip(round(-lo / scale), 0, 255))
        s, z = name + "_scale", name + "_zero_point"
        new_inits.extend([numpy_helper.from_array(np.array(scale, np.float32), s),
                          numpy_helper.from_array(np.array(zp, np.uint8), z)])
        new_nodes.append(helper.make_node("QuantizeLinear", [name, s, z], [name + "_QuantizeLinear_Output"],
                                          name=name + "_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_QuantizeLinear_Output", s, z],
                                          [name + "_DequantizeLinear_Output"], name=name + "_DequantizeLinear"))
        act[name] = (name + "_DequantizeLinear_Output", float(scale))
        return act[name]

    def weight_qdq(name, axis):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        red = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.abs(w).max(axis=red) if w.ndim > 1 else np.abs(w)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(scale, name + "_scale"),
                          numpy_helper.from_array(np.zeros_like(q, shape=scale.shape), name + "_zero_point")])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_scale",
                                                               name + "_zero_point"],
                                          [name + "_DequantizeLinear_Output"], axis=axis,
                                          name=name + "_DequantizeLinear"))
        return name + "_DequantizeLinear_Output", scale

    def bias_qdq(name, in_scale, w_scale):
        b = numpy_helper.to_array(inits[name]).astype(np.float32)
        scale = (np.float32(in_scale) * w_scale).astype(np.float32)
        q = np.round(b / scale).astype(np.int32)
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(scale, name + "_quantized_scale"),
                          numpy_helper.from_array(np.zeros(scale.shape, np.int32), name + "_quantized_zero_point")])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_quantized_scale",
                                                               name + "_quantized_zero_point"],
                                          [name + "_DequantizeLinear_Output"], axis=0,
                                          name=name + "_DequantizeLinear"))
        return name + "_DequantizeLinear_Output"

    used = set()
    for n in g.node:
        if n.op_type in ("Conv", "Gemm"):
            dq_x, s_x = act_qdq(n.input[0])
            trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
            axis = 0 if n.op_type == "Conv" or trans_b else 1
            dq_w, s_w = weight_qdq(n.input[1], axis)
            used.update(n.input[1:])
            n.input[0], n.input[1] = dq_x, dq_w
            if len(n.input) > 2 and n.input[2]:
                n.input[2] = bias_qdq(n.input[2], s_x, s_w)
        elif n.op_type in QDQ_OPS:
            for i, x in enumerate(n.input):
                if x in ranges:
                    n.input[i] = act_qdq(x)[0]
        new_nodes.append(n)
    # Q/DQ nodes were appended where they were first needed, ahead of their consumer, so the list
    # stays topologically sorted.
    del g.node[:]
    g.node.extend(new_nodes)
    keep = [t for t in g.initializer if t.name not in used]
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    del g.value_info[:]
    model.producer_name = "onnx.quantize"
    model.producer_version = "0.1.0"
    onnx.checker.check_model(model)
    return model
