"""effectual: run ONNX models, profile their values and simulate value-based accelerators (docs/python.md).

The compiled module is `effectual._effectual`; everything it defines is re-exported here. Before
loading it, this file sets the OpenMP barrier spin the command line uses (README, Threads): libgomp
reads GOMP_SPINCOUNT once, when it loads with the compiled module, and its default spin (~4.5 ms per
stalled parallel region) is what a thread team pays whenever one of its threads waits for a core.
`gomp_spincount` says what was in effect: see docs/python.md, Threads.
"""
import os as _os

# ~0.3 ms of pause loops on current Xeons: the value src/cli/openmp_defaults.cpp sets for the CLI.
_SHORT_SPIN = "20000"


def _libgomp_loaded():
    """Whether libgomp is already in this process (then it has read its settings); None if unknown."""
    try:
        with open("/proc/self/maps") as maps:
            return any("libgomp" in line for line in maps)
    except OSError:
        return None


def _short_spin_applies():
    # As the CLI: never over the user's own setting, only with a second core for a team, and only
    # while libgomp has not loaded yet (something imported before us, e.g. torch, may have loaded it).
    return ("GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ
            and (_os.cpu_count() or 1) >= 2 and _libgomp_loaded() is False)


_set_spin = _short_spin_applies()
if _set_spin:
    _os.environ["GOMP_SPINCOUNT"] = _SHORT_SPIN
try:
    from ._effectual import *  # noqa: F401,F403  (loads libgomp, which reads the variable now)
    from ._effectual import __version__  # noqa: F401
finally:
    # libgomp has read it: take it out again, so that child processes (the effectual CLI with
    # --threads N, other OpenMP programs) start with the environment the user gave.
    if _set_spin:
        del _os.environ["GOMP_SPINCOUNT"]

# The GOMP_SPINCOUNT this process's libgomp runs with as far as the module can tell (a string, as
# `effectual bench --json` reports it): SHORT_SPIN when the module set it, the user's value when
# the environment has one, None for libgomp's default (or OMP_WAIT_POLICY's).
gomp_spincount = _SHORT_SPIN if _set_spin else _os.environ.get("GOMP_SPINCOUNT")
# Whether the module set it (False: the user's setting, one core, or libgomp loaded before us).
gomp_spincount_set_by_effectual = _set_spin

# Classes and functions say they come from `effectual` (as before the module became a package).
for _name, _value in list(globals().items()):
    if getattr(_value, "__module__", None) == "effectual._effectual":
        try:
            _value.__module__ = "effectual"
        except (AttributeError, TypeError):
            pass
del _name, _value
