"""A process's later runs give what a fresh process's stepped run gives, in every scenario.

Kernels keep decision tables, family cells, profiles, layouts and neighbour tables per
process (keyed on what a population is built from, never on drawn values), and move set-up
into the model's build. Here one process plays seeds 0 and 1 of every shipped scenario with
whatever it keeps; a fresh process steps seed 1 with nothing kept. Their payoffs and final
metrics must be the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_PLAY = """
import hashlib, json, sys
from bench.every_scenario import LEFT_OUT, overrides, shipped
from sim.model import SpecModel
from sim.scenario import load_scenario

fuse, seeds = sys.argv[1] == "fuse", [int(s) for s in sys.argv[2].split(",")]
if fuse:
    import numba  # noqa: F401  (loaded, kernels take even these short runs)
fused = []
real = SpecModel._fast_forward
def counting(model, limit):
    stretch = real(model, limit)
    if stretch is not None:
        fused.append(model.spec_scenario.id)
    return stretch
SpecModel._fast_forward = counting
out = {}
for ref in shipped():
    if ref in LEFT_OUT:
        continue
    steps = 25 if ref == "commons-newcomer" else 5  # the newcomer joins at step 20
    ov = overrides(ref, 120, steps, False)
    for seed in seeds:
        model = SpecModel(load_scenario(ref, ov), seed=seed)
        model.may_fast_forward = fuse
        model.run()
        finals = json.dumps(sorted(model.final_metrics().items()), default=str)
        out[ref] = hashlib.sha256(model.payoff.tobytes() + finals.encode()).hexdigest()
print(json.dumps({"digests": out, "fused": sorted(set(fused))}))
"""


def _play(fuse: bool, seeds: str) -> dict[str, list[str] | dict[str, str]]:
    proc = subprocess.run([sys.executable, "-c", _PLAY, "fuse" if fuse else "step", seeds],
                          capture_output=True, text=True, cwd=ROOT, check=False, timeout=1100)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# A cold numba cache compiles every kernel in this one process: minutes on a loaded machine.
@pytest.mark.timeout(1200)
def test_warm_fused_runs_equal_cold_stepped_runs():
    warm = _play(True, "0,1")  # seed 1 runs on what seed 0 left in the process
    cold = _play(False, "1")
    assert not cold["fused"] and len(warm["fused"]) >= 10, warm["fused"]  # kernels really played
    assert len(cold["digests"]) >= 15
    assert warm["digests"] == cold["digests"]
