"""Shared fixtures: the source tree, the CLI built beside the module, and a runner for it.

ctest sets PYTHONPATH to build/python and EFFECTUAL_BIN to the CLI of the same build (tests/CMakeLists.txt);
by hand: PYTHONPATH=build/python EFFECTUAL_BIN=build/effectual /usr/bin/python3 -m pytest tests/python
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("EFFECTUAL_NO_PROGRESS", "1")


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture(scope="session")
def lenet(root):
    return str(root / "models" / "lenet5.onnx")


@pytest.fixture(scope="session")
def cli():
    binary = os.environ.get("EFFECTUAL_BIN", str(ROOT / "build" / "effectual"))
    if not Path(binary).exists():
        pytest.skip(f"no CLI at {binary} (set EFFECTUAL_BIN)")

    def run(*args, expect=0):
        p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
        assert p.returncode == expect, f"effectual {' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr}"
        return p

    def run_json(*args):
        return json.loads(run(*args, "--json").stdout)

    run.json = run_json
    return run
