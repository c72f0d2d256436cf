#!/usr/bin/env python3
"""Writes a technology table for another node from configs/technology/65nm.yaml by a stated
scaling rule (docs/energy-area.md "Other nodes"). Usage:
    /usr/bin/python3 tools/derive_technology.py 28 0.9 > configs/technology/28nm.yaml
Rule (classical constant-field scaling of what scales, s = node / 65):
  * logic and memory areas, bank periphery: x s^2
  * dynamic energies on chip: C ~ s, so x s x (V / 1.0)^2
  * leakage per mm2: x V / s (devices per mm2 grow as 1/s^2, leakage current per device is assumed
    to fall as s through the smaller devices at matched threshold: an approximation, stated)
  * off-chip energy per bit and bandwidth: unchanged (the DRAM and its interface do not scale
    with the accelerator's node); interface area x s (PHYs scale about linearly)
  * clock: unchanged (same design, same pipeline; a faster clock is a design choice)
"""
import sys
import yaml

node = float(sys.argv[1])
volts = float(sys.argv[2])
s = node / 65.0
src = yaml.safe_load(open(__file__.rsplit('/tools/', 1)[0] + '/configs/technology/65nm.yaml'))

def scaled(entry, factor, rule):
    v = entry['value'] * factor
    return {'value': float(f"{v:.4g}"), 'source': f"65nm.yaml {entry['value']} x {rule} = {factor:.4g} (tools/derive_technology.py)"}

out = {'node': f"{node:g}nm",
       'description': f"derived from 65nm.yaml by tools/derive_technology.py {node:g} {volts:g} (s = {s:.4f}, V = {volts:g})"}
out['clock'] = {'frequency_mhz': src['clock']['frequency_mhz'],
                'voltage_v': {'value': volts, 'source': f"nominal supply assumed for {node:g} nm"}}
out['area_um2'] = {k: scaled(e, s * s, 's^2') for k, e in src['area_um2'].items()}
mem = {}
for k, e in src['memory'].items():
    if k.endswith('_pj_per_bit'):
        mem[k] = scaled(e, s * volts * volts, 's x V^2')
    else:
        mem[k] = scaled(e, s * s, 's^2')
out['memory'] = mem
off = src['offchip']
out['offchip'] = {'interface_mm2': scaled(off['interface_mm2'], s, 's'),
                  'pj_per_bit': off['pj_per_bit'], 'bandwidth_gb_per_s': off['bandwidth_gb_per_s']}
out['energy_pj'] = {k: scaled(e, s * volts * volts, 's x V^2') for k, e in src['energy_pj'].items()}
out['leakage_mw_per_mm2'] = {k: scaled(e, volts / s, 'V / s') for k, e in src['leakage_mw_per_mm2'].items()}

print(f"# Technology table for {node:g} nm, derived from 65nm.yaml by a stated rule: do not edit by hand,")
print(f"# run `/usr/bin/python3 tools/derive_technology.py {node:g} {volts:g}` (the rule is in that script's")
print("# docstring and in docs/energy-area.md). Every source names the 65 nm value and the factor.")
print(yaml.safe_dump(out, sort_keys=False, width=200), end='')
