"""What the fixture builders (tools/make_fixture_models.py, tools/make_quant_fixtures.py) share:
seeded random tensors, ONNX helpers, and writing a model with its input and ONNX Runtime's outputs.

Run the builders with Debian's /usr/bin/python3 (python3-onnx, python3-numpy).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
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


def vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def run_ort(model_path, input_path, out_dir):
    script = os.path.join(ROOT, "tools", "ort", "run_ort.js")
    res = subprocess.run(["node", script, model_path, input_path, out_dir], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip() or res.stdout.strip())
    return json.loads(res.stdout.strip().splitlines()[-1])["outputs"]


def write_fixtures(builders, names, out, describe, input_dtype=None):
    """Builds each named model, runs it on ONNX Runtime and, only if ORT accepts it, replaces
    out/NAME.* with NAME.onnx, NAME.input.npy and NAME.<output>.npy. describe(name, model, x,
    model_bytes, outputs) gives the line printed for it. Returns the names not written."""
    os.makedirs(out, exist_ok=True)
    failed = []
    for name in names:
        try:
            model, x = builders[name]()
        except Exception as e:  # noqa: BLE001
            print(f"{name}: could not build: {e}", file=sys.stderr)
            failed.append(name)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            mpath = os.path.join(tmp, f"{name}.onnx")
            ipath = os.path.join(tmp, "input.npy")
            onnx.save(model, mpath)
            np.save(ipath, np.ascontiguousarray(x, dtype=input_dtype))
            try:
                outs = run_ort(mpath, ipath, os.path.join(tmp, "out"))
            except Exception as e:  # noqa: BLE001
                print(f"{name}: ONNX Runtime refused it, not written: {e}", file=sys.stderr)
                failed.append(name)
                continue
            for old in glob.glob(os.path.join(out, f"{name}.*")):
                os.remove(old)
            shutil.copy(mpath, os.path.join(out, f"{name}.onnx"))
            shutil.copy(ipath, os.path.join(out, f"{name}.input.npy"))
            for info in outs.values():
                shutil.copy(info["file"], os.path.join(out, f"{name}.{os.path.basename(info['file'])}"))
            print(describe(name, model, x, os.path.getsize(mpath), outs))
    if failed:
        print(f"not written: {', '.join(failed)}", file=sys.stderr)
    return failed
