"""`import effectual` gives libgomp the command line's short barrier spin (GOMP_SPINCOUNT=20000) unless
the user set one, set OMP_WAIT_POLICY, or libgomp was loaded before; what libgomp itself runs with is
read from its own report (OMP_DISPLAY_ENV=verbose prints its settings to stderr when it loads)."""
import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no team, no spin set")

REPORT = ("import effectual, json, os, subprocess, sys\n"
          "child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get(\"GOMP_SPINCOUNT\"))'],"
          " capture_output=True, text=True, env=dict(os.environ, OMP_DISPLAY_ENV='false')).stdout.strip()\n"
          "print(json.dumps([effectual.gomp_spincount, effectual.gomp_spincount_set_by_effectual,"
          " os.environ.get('GOMP_SPINCOUNT'), child]))\n")


def import_effectual(before="", **env_vars):
    """Import effectual in a fresh Python with only `env_vars` of the OpenMP settings; returns what
    the module says, whether it set the spin, the spin left in os.environ and in a child's, and the
    GOMP_SPINCOUNT libgomp reports."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    env.update(env_vars, OMP_DISPLAY_ENV="verbose")
    p = subprocess.run([sys.executable, "-c", before + REPORT], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    libgomp = re.findall(r"GOMP_SPINCOUNT = '(\d+)'", p.stderr)
    assert len(libgomp) == 1, p.stderr
    return [*json.loads(p.stdout.splitlines()[-1]), int(libgomp[0])]


def test_import_sets_the_short_spin_for_libgomp_only():
    # libgomp runs with 20000, and the variable is gone again afterwards: child processes (the CLI
    # with --threads N) start with the user's environment.
    assert import_effectual() == ["20000", True, None, "None", 20000]


def test_the_users_settings_win():
    assert import_effectual(GOMP_SPINCOUNT="77") == ["77", False, "77", "77", 77]
    said, set_by_us, left, child, libgomp = import_effectual(OMP_WAIT_POLICY="passive")
    assert (said, set_by_us, left, child) == (None, False, None, "None") and libgomp != 20000


def test_libgomp_loaded_before_is_left_alone():
    # Another module (torch, an OpenMP BLAS) loaded libgomp first: it has read its settings, so the
    # module says it set nothing and libgomp keeps its default (300000 pause loops).
    said, set_by_us, left, child, libgomp = import_effectual(before="import ctypes; ctypes.CDLL('libgomp.so.1')\n")
    assert (said, set_by_us, left, child) == (None, False, None, "None") and libgomp == 300000
