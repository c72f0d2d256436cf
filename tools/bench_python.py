#!/usr/bin/env python3
"""One command's work through `import effectual`, for the python section of `make bench`
(tools/bench_python.js): the same work as the CLI line it is compared with, timed inside the process
(import, load, call) and as a whole process from outside by the caller.

Usage: bench_python.py BUILD_DIR eval|profile|simulate MODEL IMAGES [THREADS]   (THREADS: 0, all cores)
"""
import json
import sys
import time

t0 = time.perf_counter()
build, command, model, images = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 0
sys.path.insert(0, f"{build}/python")
import effectual  # noqa: E402

t1 = time.perf_counter()
m = effectual.load(model, threads=threads)
t2 = time.perf_counter()
data = "fashion-mnist:test"
if command == "eval":
    r = m.evaluate(data, limit=images)
elif command == "profile":
    r = m.profile(data, images=images)
elif command == "simulate":
    r = m.simulate(data, images=images)
else:
    sys.exit(f"bench_python.py: unknown command '{command}'")
t3 = time.perf_counter()
print(json.dumps({"import_ms": 1e3 * (t1 - t0), "load_ms": 1e3 * (t2 - t1), "call_ms": 1e3 * (t3 - t2),
                  "in_process_ms": 1e3 * (t3 - t0)}))
