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

# The ops ONNX Runtime's quantizer brackets with Q/DQ in these models; ORT's graph optimizer then
# runs DQ -> op -> Q as one integer kernel (QLinearConv, QGemm, QLinearAdd, QLinearGlobalAveragePool)
# and drops the pairs around Flatten.
QDQ_OPS = {"Conv", "Gemm", "Add", "GlobalAveragePool", "Flatten"}


def calibrate(model, names, inputs, workdir):
    """min/max of the tensors `names` over `inputs` (npy paths), computed by ONNX Runtime on the
    float model with those tensors added as graph outputs."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for name in names:
        if name not in existing:
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    path = os.path.join(workdir, "calib.onnx")
    onnx.save(m, path)
    ranges = {}
    for i, x in enumerate(inputs):
        outs = run_ort(path, [x], os.path.join(workdir, f"calib{i}"))
        for name in names:
            a = np.load(outs[name]["file"])
            lo, hi = float(a.min()), float(a.max())
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges


def quantize_qdq(model, inputs):
    """QDQ format as onnxruntime.quantization.quantize_static(QuantFormat.QDQ, per_channel=True)
    writes it: every tensor entering or leaving a quantized op gets one QuantizeLinear ->
    DequantizeLinear pair after its producer (uint8, asymmetric, MinMax calibration); Relu/Clip
    right after a Conv are removed, the Conv output taking their calibrated range (the uint8
    range then does the clamping); int8 symmetric per-channel weights as int8 initializers with
    DequantizeLinear(axis=0); int32 biases with scale input_scale * weight_scale; a quantized
    graph output keeps its name on the last DequantizeLinear."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    outputs = {o.name for o in g.output}
    producers = {o: n for n in g.node for o in n.output}
    uses = collections.Counter(x for n in g.node for x in n.input)
    # Activations folded into the Conv before them: their output is read from the Conv's.
    alias = {}
    for n in g.node:
        p = producers.get(n.input[0]) if n.input else None
        if (n.op_type in ("Relu", "Clip") and p is not None and p.op_type == "Conv" and uses[n.input[0]] == 1
                and n.input[0] not in outputs):
            alias[n.output[0]] = n.input[0]
    quantized = []
    for n in g.node:
        if n.op_type in QDQ_OPS:
            ins = [x for x in n.input[:1 if n.op_type in ("Conv", "Gemm") else None] if x and x not in inits]
            for t in ins + list(n.output):
                t = alias.get(t, t)
                if t not in quantized:
                    quantized.append(t)
    # Calibrate on the float model: a folded Conv output is measured after its activation.
    source = {t: t for t in quantized}
    for act, conv in alias.items():
        if conv in source:
            source[conv] = act
    with tempfile.TemporaryDirectory() as tmp:
        measured = calibrate(model, sorted(set(source.values())), inputs, tmp)
    ranges = {t: measured[s] for t, s in source.items()}

    new_inits, new_nodes, scale_of, used = [], [], {}, set()

    def emit_qdq(t):
        lo, hi = min(ranges[t][0], 0.0), max(ranges[t][1], 0.0)
        scale = np.float32((hi - lo) / 255.0 if hi > lo else 1.0)
        zp = np.uint8(np.clip(round(-lo / scale), 0, 255))
        s, z = t + "_scale", t + "_zero_point"
        new_inits.extend([numpy_helper.from_array(np.array(scale, np.float32), s),
                          numpy_helper.from_array(np.array(zp, np.uint8), z)])
        q_in = t + "_QuantizeLinear_Input" if t in outputs else t
        dq_out = t if t in outputs else t + "_DequantizeLinear_Output"
        new_nodes.append(helper.make_node("QuantizeLinear", [q_in, s, z], [t + "_QuantizeLinear_Output"],
                                          name=t + "_QuantizeLinear"))
        new_nodes.append(helper.make_node("DequantizeLinear", [t + "_QuantizeLinear_Output", s, z], [dq_out],
                                          name=t + "_DequantizeLinear"))
        scale_of[t] = (dq_out, float(scale))

    def emit_weight(name, axis):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        red = tuple(i for i in range(w.ndim) if i != axis)
        scale = np.where(np.abs(w).max(axis=red) > 0, np.abs(w).max(axis=red) / 127.0, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        return emit_const_dq(name, q, scale, np.zeros(scale.shape, np.int8), axis), scale

    def emit_const_dq(name, q, scale, zp, axis):
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(scale, name + "_quantized_scale"),
                          numpy_helper.from_array(zp, name + "_quantized_zero_point")])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_quantized", name + "_quantized_scale",
                                                               name + "_quantized_zero_point"],
                                          [name + "_DequantizeLinear_Output"], axis=axis,
                                          name=name + "_DequantizeLinear"))
        used.add(name)
        return name + "_DequantizeLinear_Output"

    for v in g.input:
        if v.name in ranges:
            emit_qdq(v.name)
    for n in g.node:
        if n.output[0] in alias:
            continue
        n.input[:] = [alias.get(x, x) for x in n.input]
        if n.op_type in QDQ_OPS:
            in_scale = scale_of[n.input[0]][1] if n.input[0] in scale_of else None
            n.input[:] = [scale_of[x][0] if x in scale_of else x for x in n.input]
            if n.op_type in ("Conv", "Gemm"):
                trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
                dq_w, w_scale = emit_weight(n.input[1], 0 if n.op_type == "Conv" or trans_b else 1)
                n.input[1] = dq_w
                if len(n.input) > 2 and n.input[2]:
                    b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32)
                    bs = (np.float32(in_scale) * w_scale).astype(np.float32)
                    n.input[2] = emit_const_dq(n.input[2], np.round(b / bs).astype(np.int32), bs,
                                               np.zeros(bs.shape, np.int32), 0)
        for i, o in enumerate(n.output):
            if o in ranges and o in outputs:
                n.output[i] = o + "_QuantizeLinear_Input"
        new_nodes.append(n)
        for o in n.output:
            o = o.replace("_QuantizeLinear_Input", "")
            if o in ranges:
                emit_qdq(o)
    # The folded activations' min/max Constants are left without a reader: drop them.
    read = {x for n in new_nodes for x in n.input} | outputs
    new_nodes = [n for n in new_nodes if n.op_type != "Constant" or n.output[0] in read]
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


def quantize_dynamic(model):
    """Dynamic quantization as onnxruntime.quantization.quantize_dynamic writes it with its defaults
    (QOperator format, weight_type QInt8, per_channel False): every Conv and every MatMul with a
    constant weight gets its input through DynamicQuantizeLinear (uint8 codes, scale and zero point
    computed per input at run time; one node per tensor, shared by its consumers), its weight as a
    symmetric per-tensor int8 initializer (`W_quantized`, `W_scale` = max|W| / 127, `W_zero_point`
    0), and becomes ConvInteger / MatMulInteger -> Cast(to float) -> Mul by (input scale x weight
    scale) -> for a Conv with bias, Add of the bias reshaped to [1, -1, 1, 1]. Gemm stays float (not
    in quantize_dynamic's integer-op registry); MatMuls of two activations (attention) also stay
    float here, where quantize_dynamic would quantize both sides."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    new_nodes, new_inits, quantized, used = [], [], {}, set()

    def dynamic_input(x):
        if x not in quantized:
            outs = [x + "_quantized", x + "_scale", x + "_zero_point"]
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x], outs, name=x + "_QuantizeLinear"))
            quantized[x] = outs
        return quantized[x]

    def int8_weight(name):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        amax = float(np.abs(w).max())
        scale = np.float32(amax / 127.0 if amax > 0 else 1.0)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        new_inits.extend([numpy_helper.from_array(q, name + "_quantized"),
                          numpy_helper.from_array(np.array(scale, np.float32), name + "_scale"),
                          numpy_helper.from_array(np.array(0, np.int8), name + "_zero_point")])
        used.add(name)
        return [name + "_quantized", name + "_scale", name + "_zero_point"]

    for n in g.node:
        if n.op_type not in ("Conv", "MatMul") or len(n.input) < 2 or n.input[1] not in inits or n.input[0] in inits:
            new_nodes.append(n)
            continue
        xq, xs, xz = dynamic_input(n.input[0])
        wq, ws, wz = int8_weight(n.input[1])
        out = n.output[0]
        iname = n.name + "_quant"
        op = "ConvInteger" if n.op_type == "Conv" else "MatMulInteger"
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute} if op == "ConvInteger" else {}
        new_nodes.append(helper.make_node(op, [xq, wq, xz, wz], [out + "_output_quantized"], name=iname, **attrs))
        new_nodes.append(helper.make_node("Cast", [out + "_output_quantized"], [out + "_output_quantized_cast_output"],
                                          name=out + "_output_quantized_cast", to=TensorProto.FLOAT))
        new_nodes.append(helper.make_node("Mul", [xs, ws], [iname + "_scales_mul:0"], name=iname + "_scales_mul"))
        has_bias = op == "ConvInteger" and len(n.input) > 2 and n.input[2]
        scaled = out + "_scaled_output" if has_bias else out
        new_nodes.append(helper.make_node("Mul", [out + "_output_quantized_cast_output", iname + "_scales_mul:0"],
                                          [scaled], name=iname + "_output_scale_mul"))
        if has_bias:
            rank = len(inits[n.input[1]].dims)
            shape = np.ones(rank, np.int64)
            shape[1] = -1
            new_inits.append(numpy_helper.from_array(shape, out + "_bias_reshape_shape"))
            new_nodes.append(helper.make_node("Reshape", [n.input[2], out + "_bias_reshape_shape"],
                                              [out + "_bias_reshape_output"], name=out + "_bias_reshape"))
            new_nodes.append(helper.make_node("Add", [scaled, out + "_bias_reshape_output"], [out],
                                              name=out + "_bias_add"))
    still_read = {x for n in new_nodes for x in n.input}
    keep = [t for t in g.initializer if t.name not in used or t.name in still_read]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(keep + new_inits)
    del g.value_info[:]
    model.producer_name = "onnx.quantize"
    model.producer_version = "0.1.0"
    onnx.checker.check_model(model)
    return model
