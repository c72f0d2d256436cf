#!/usr/bin/env python3
"""Who held the core while a process waited: for each time a thread of COMM was preempted (switched
out runnable) and stayed off the CPU for at least MIN_MS, the tasks that ran on that CPU meanwhile
and on the other CPUs. Used for issue 8 (busy machines): a run over 20x its median with one
involuntary switch (bench --runs-out) is a preemption; this says by whom.

Record (root; the monotonic clock lines the records up with --runs-out's start_ms):
  perf record -k CLOCK_MONOTONIC -e sched:sched_switch -a -o sw.data -- COMMAND...
  perf script -i sw.data -F cpu,time,trace > sw.txt
  tools/preempted_by.py sw.txt effectual 8
COMM is the kernel's task name (15 characters at most, /proc/PID/comm).
"""
import collections
import re
import sys

SWITCH = re.compile(r"\[(\d+)\]\s+([\d.]+):(?: sched:sched_switch:)? prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ "
                    r"prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+) next_prio=(\d+)")


def main(path, comm, min_ms):
    events = []
    for line in open(path):
        m = SWITCH.search(line)
        if m:
            cpu, t, prev, prev_pid, state, nxt, next_pid, next_prio = m.groups()
            events.append((float(t) * 1000, int(cpu), prev, int(prev_pid), state, nxt, int(next_pid), int(next_prio)))
    # Every CPU's timeline: (start, end, task, priority).
    spans, on_cpu = collections.defaultdict(list), {}
    for t, cpu, _, _, _, nxt, next_pid, prio in events:
        if cpu in on_cpu:
            task, p, since = on_cpu[cpu]
            spans[cpu].append((since, t, task, p))
        on_cpu[cpu] = (f"{nxt}/{next_pid}", prio, t)

    def held(cpu, t0, t1):
        share = collections.Counter()
        for s, e, task, prio in spans[cpu]:
            if min(e, t1) > max(s, t0):
                share[f"{task.rsplit('/', 1)[0]}({prio})"] += min(e, t1) - max(s, t0)
        return share

    waiting, total, count = {}, collections.Counter(), 0
    for t, cpu, prev, prev_pid, state, nxt, next_pid, _ in events:
        if prev == comm and state.startswith("R"):
            waiting[prev_pid] = (t, cpu)
        if nxt == comm and next_pid in waiting:
            t0, cpu0 = waiting.pop(next_pid)
            if t - t0 < min_ms:
                continue
            count += 1
            here = held(cpu0, t0, t)
            total.update(here)
            others = collections.Counter()
            for c in spans:
                if c != cpu0:
                    others.update(held(c, t0, t))
            fmt = lambda share: ", ".join(f"{k} {v:.1f}" for k, v in share.most_common(3))
            print(f"tid {next_pid} off cpu{cpu0} {t - t0:.1f} ms from {t0:.3f}: {fmt(here)} | other cpus: {fmt(others)}")
    print(f"{count} preemptions of {comm} >= {min_ms} ms; ms held by others on that cpu, in all:",
          ", ".join(f"{k} {v:.0f}" for k, v in total.most_common(10)))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
