#!/usr/bin/env bash
# Installs the Debian packages effectual needs, only those that are missing. Idempotent.
# Usage: tools/deps.sh [build|test|bench]   (each level includes the previous one)
set -euo pipefail
level=${1:-build}
pkgs=(cmake make g++ pkg-config libonnx-dev libprotobuf-dev protobuf-compiler libdnnl-dev ocl-icd-opencl-dev libfmt-dev
      nlohmann-json3-dev libcli11-dev libstb-dev libyaml-cpp-dev zlib1g-dev libgtest-dev libgmock-dev
      libbenchmark-dev dataset-fashion-mnist)
if [ "$level" = test ] || [ "$level" = bench ]; then
  pkgs+=(libonnx-testdata clang libclang-rt-14-dev chromium)
  # MPI sweeps (docs/sweep.md): optional for a build (the plugin is built when CMake finds MPI),
  # needed for the tests' mpirun -np 2 case.
  pkgs+=(libopenmpi-dev openmpi-bin)
  # The Python module (src/python) and its tests: pybind11 and Python's headers; numpy, pytest, venv.
  pkgs+=(pybind11-dev python3-dev python3-numpy python3-pytest python3-venv)
fi
if [ "$level" = bench ]; then
  pkgs+=(nodejs npm python3-torch python3-torchvision python3-pil python3-onnx)
fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm may come from outside Debian (a node install of its own): accept a working npm.
if [ "${#missing[@]}" -gt 0 ] && command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
[ "${#missing[@]}" -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "deps: missing packages (${missing[*]}) and not root; install them as root" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
