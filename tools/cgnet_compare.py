#!/usr/bin/python3
"""Each CGNet of a simulation against the systolic array of the same size (seed 003's comparison).

Usage: tools/cgnet_compare.py RESULTS.json [--markdown]
Prints per cgnet design: speedup (systolic cycles / cgnet cycles), energy efficiency (systolic
on-chip energy / cgnet's), area (cgnet / systolic, whole chip and compute logic + SRAM only), the
MAC reduction (ideal speedup) and both utilisations. Designs are paired by their grid (array size).
"""
import json
import sys


def on_chip(t):
    e = t["energy_pj"]
    return e["total"] - e["offchip"]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    j = json.load(open(sys.argv[1]))
    md = "--markdown" in sys.argv
    designs = j["designs"]
    base = {json.dumps(d["grid"], sort_keys=True): d
            for d in designs if d["design"] == "systolic"}
    rows = []
    for d in designs:
        if d["design"] != "cgnet":
            continue
        key = json.dumps(d["grid"], sort_keys=True)
        s = base.get(key)
        if s is None:
            continue
        t, u = d["totals"]["all"], s["totals"]["all"]
        logic = lambda a: a["logic_mm2"] + a["sram_mm2"]
        rows.append([d["name"], s["name"], u["cycles"] / t["cycles"], on_chip(u) / on_chip(t),
                     d["area"]["total_mm2"] / s["area"]["total_mm2"], logic(d["area"]) / logic(s["area"]),
                     t["ideal_speedup"], u["utilisation"], t["utilisation"]])
    head = ["cgnet", "vs", "speedup", "energy eff.", "area", "area (logic+SRAM)", "MAC reduction",
            "util systolic", "util cgnet"]
    if md:
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]:.2f}x | {r[3]:.2f}x | {r[4]:.3f}x | {r[5]:.2f}x | {r[6]:.2f}x | "
                  f"{r[7]:.0%} | {r[8]:.0%} |")
    else:
        print(("{:<18} {:<12} " + "{:>10} " * 7).format(*head))
        for r in rows:
            print(f"{r[0]:<18} {r[1]:<12} {r[2]:>9.2f}x {r[3]:>9.2f}x {r[4]:>9.3f}x {r[5]:>9.2f}x {r[6]:>9.2f}x "
                  f"{r[7]:>10.0%} {r[8]:>10.0%}")


if __name__ == "__main__":
    main()
