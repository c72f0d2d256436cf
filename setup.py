"""Builds the `effectual` extension module with the project's CMake (pyproject.toml says how to install).

The CMake build folder is build-pip/cmake in the source tree, so a second `pip install .` only
recompiles what changed (ccache, where installed, makes the first one cheap after `make`).
Environment: EFFECTUAL_CMAKE_ARGS adds CMake options; EFFECTUAL_BUILD_JOBS sets the parallel jobs;
EFFECTUAL_CMAKE_BUILD_DIR=build reuses a configured build folder (after `make`: only the module's own
files compile; its Python must be the same version as pip's).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        reuse = os.environ.get("EFFECTUAL_CMAKE_BUILD_DIR", "")
        build_dir = (ROOT / reuse).resolve() if reuse else ROOT / "build-pip" / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython_EXECUTABLE={sys.executable}",
            "-DEFF_PYTHON=ON",
        ] + os.environ.get("EFFECTUAL_CMAKE_ARGS", "").split()
        if not (reuse and (build_dir / "CMakeCache.txt").exists()):
            subprocess.run(configure, check=True)
        jobs = os.environ.get("EFFECTUAL_BUILD_JOBS", str(os.cpu_count() or 2))
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "effectual_python", "-j", jobs], check=True)
        built = sorted((build_dir / "python" / "effectual").glob("_effectual*.so"))
        if not built:
            raise RuntimeError(f"CMake did not build the module (no {build_dir}/python/effectual/_effectual*.so); "
                               "are pybind11-dev and python3-dev installed?")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], target)


(ROOT / "build-pip").mkdir(exist_ok=True)
setup(
    # The package effectual (src/python/effectual/__init__.py) around the compiled effectual._effectual.
    packages=["effectual"],
    package_dir={"effectual": "src/python/effectual"},
    ext_modules=[CMakeExtension("effectual._effectual")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
    zip_safe=False,
)
