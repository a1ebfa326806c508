"""A long sweep loads numba in its workers, so short runs fuse; what they store is the same.

One short ipd-classic run steps (numba's import would cost more than it saves);
a worker with hundreds to run loads numba once (sim.runs.batch.KERNEL_RUNS_PER_WORKER).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.runs.batch import KERNEL_RUNS_PER_WORKER, wants_kernels

ROOT = Path(__file__).resolve().parent.parent

# A fresh process: numba must not be loaded before the chunk asks for it.
_CHUNKS = """
import json, sys
from scenarios.ipd import IPD
from sim.runs.batch import Chunk, EngineTask, execute_chunk
from sim.runs.records import Job
from sim.scenario import load_scenario

fused = [0]
real = IPD.fast_forward
def counting(env, model, limit):
    stretch = real(env, model, limit)
    fused[0] += 0 if stretch is None else stretch.steps
    return stretch
IPD.fast_forward = counting

scenario = load_scenario("ipd-classic")
jobs = tuple(Job(run_id=s, point=0, rep=s, seed=s, params=(("steps", 5),)) for s in range(3))
out = {}
for kernels in (False, True):
    before = "numba" in sys.modules
    texts = tuple(sorted(scenario.spec_texts.items()))
    records = execute_chunk(Chunk(EngineTask(), scenario.text, texts, jobs, kernels=kernels))
    out[str(kernels)] = {
        "numba_before": before, "numba_after": "numba" in sys.modules, "fused": fused[0],
        "metrics": [r.metrics for r in records],
        "steps": [r.steps.frame().to_dict("list") for r in records],
        "status": [r.status for r in records],
    }
print(json.dumps(out))
"""


@pytest.mark.parametrize(("runs", "workers", "expected"), [
    (1, 1, False),
    (KERNEL_RUNS_PER_WORKER - 1, 1, False),
    (KERNEL_RUNS_PER_WORKER, 1, True),
    (2 * KERNEL_RUNS_PER_WORKER - 1, 2, False),
    (2 * KERNEL_RUNS_PER_WORKER, 2, True),
    (10_000, 0, True),
])
def test_wants_kernels(runs, workers, expected):
    assert wants_kernels(runs, workers) is expected


def test_a_chunk_that_loads_kernels_fuses_and_stores_the_same():
    proc = subprocess.run([sys.executable, "-c", _CHUNKS], capture_output=True, text=True,
                          cwd=ROOT, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    stepped, fused = out["False"], out["True"]
    assert not stepped["numba_before"] and not stepped["numba_after"] and stepped["fused"] == 0
    assert fused["numba_after"] and fused["fused"] > 0  # the same runs were really fused
    assert stepped["status"] == fused["status"] == ["done"] * 3
    assert stepped["metrics"] == fused["metrics"]
    assert stepped["steps"] == fused["steps"]
