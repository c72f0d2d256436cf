#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang, ASan and UBSan, and runs each
# for SECONDS seconds. Exits non-zero if any target crashes, leaks, times out or trips a sanitizer.
# Usage: tools/run_fuzzers.sh SECONDS
# Environment: FUZZ_BUILD   build directory (default <repo>/build-fuzz)
#              FUZZ_JOBS    parallel compile jobs (default 2)
#              FUZZ_MAX_LEN largest input tried, bytes (default 16384)
#              CXX_FUZZ     the clang++ to use (default clang++, else clang++-14)
set -euo pipefail

if [ $# -ne 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -le 0 ]; then
  echo "usage: $0 SECONDS" >&2
  exit 2
fi
seconds=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
jobs=${FUZZ_JOBS:-2}
max_len=${FUZZ_MAX_LEN:-16384}

cxx=${CXX_FUZZ:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
  done
fi
if [ -z "$cxx" ]; then
  echo "run_fuzzers: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

echo "run_fuzzers: configuring $build with $cxx"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEFF_FUZZ=ON \
  -DEFF_NATIVE=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
echo "run_fuzzers: building the fuzz targets"
cmake --build "$build" -j "$jobs" --target fuzz_targets

shopt -s nullglob
# One target per source file (a stale binary whose source is gone is not run).
targets=()
for src in "$root"/tests/fuzz/fuzz_*.cpp; do
  bin="$build/tests/fuzz/$(basename "$src" .cpp)"
  if [ ! -x "$bin" ]; then
    echo "run_fuzzers: $bin was not built" >&2
    exit 1
  fi
  targets+=("$bin")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "run_fuzzers: no tests/fuzz/fuzz_*.cpp sources" >&2
  exit 1
fi

failed=()
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  kind=${name#fuzz_}
  # Seeds: tests/fuzz/corpus/<kind> and <first word of kind> (fuzz_onnx_loader -> onnx), in the
  # source tree and in the build tree (seeds copied at configure time). The working corpus, which
  # libFuzzer grows, stays in the build tree.
  work="$build/fuzz-corpus/$name"
  artifacts="$build/fuzz-artifacts"
  mkdir -p "$work" "$artifacts"
  seeds=()
  for dir in "$root/tests/fuzz/corpus/$kind" "$root/tests/fuzz/corpus/${kind%%_*}" \
             "$build/tests/fuzz/corpus/$kind" "$build/tests/fuzz/corpus/${kind%%_*}"; do
    if [ -d "$dir" ] && [[ ! " ${seeds[*]-} " == *" $dir "* ]]; then seeds+=("$dir"); fi
  done
  log="$build/$name.log"
  echo "run_fuzzers: $name for ${seconds}s (seeds: ${seeds[*]-none})"
  set +e
  # A smaller ASan quarantine than the default 256 MB: with it, RSS of the ONNX loader fuzzer
  # crept towards the 2 GB limit over long runs (allocator caching, not leaks: LSan is on).
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=64} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$work" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "run_fuzzers: $name FAILED (exit $rc); last lines of $log:" >&2
    tail -n 40 "$log" >&2
    failed+=("$name")
  else
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "run_fuzzers: $name ok ($runs inputs)"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run_fuzzers: failures in: ${failed[*]} (reproducers in $build/fuzz-artifacts)" >&2
  exit 1
fi
echo "run_fuzzers: all ${#targets[@]} target(s) ran clean"
