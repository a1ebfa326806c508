"""The one-pass sweep (scenarios/ipd_sweep.py) gives exactly what stepping gives.

Differential, as tests/test_fused_network.py: each case runs trust-network as the
kernel plays it fused and stepwise and compares everything a run reports. Each
case also says whether the sweep must have played (deciders reading only trust,
summarised metrics) or must have fallen back to the general loop (a decider
reading the pair's history), and the draw cases check the detection generator
ends where stepping leaves it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import ipd_sweep
from scenarios.kernel_sums import _block
from tests.test_fused import _run, _same
from tests.test_fused_network import BENCH, BETRAY

#: A tit-for-tat group reads the partner's last move: the sweep may not play.
HISTORY = {**BENCH, "groups.opportunists.policy": "tit_for_tat"}


@pytest.mark.parametrize(("overrides", "seed", "swept"), [
    (BENCH, 0, True),
    (BENCH, 11, True),
    ({**BENCH, "groups.reciprocal.count": 200, "groups.opportunists.count": 50}, 2, True),
    # Betrayals seen with probability 1 (draws only counted, the generator advanced) and 0.4 (drawn).
    ({**BETRAY, "environment.detect_prob": 1.0}, 1, True),
    ({**BETRAY, "environment.detect_prob": 0.4}, 3, True),
    ({**BETRAY, "environment.detect_prob": 0.0}, 4, True),
    # Payoffs that are not whole numbers: Gini sorts instead of counting.
    ({**BENCH, "environment.R": 3.5, "environment.T": 5.25}, 5, True),
    (HISTORY, 6, False),
])
def test_sweep_equals_stepping(overrides: dict[str, Any], seed: int, swept: bool,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [0]
    real = ipd_sweep.sweep

    def counting(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(ipd_sweep, "sweep", counting)
    slow, _ = _run("trust-network", False, monkeypatch, seed, overrides)
    fast, played = _run("trust-network", True, monkeypatch, seed, overrides)
    assert played >= fast.steps // 2
    assert (calls[0] > 0) == swept
    _same(slow, fast)
    assert slow.rng_detect.bit_generator.state == fast.rng_detect.bit_generator.state


@pytest.mark.parametrize("n", [1, 7, 8, 127, 128, 129, 1000, 4099])
def test_leaf_sums_follow_numpy(n: int) -> None:
    x = np.random.default_rng(n).random(n) * 1e3
    lo, size = ipd_sweep.leaves(n)
    assert size.sum() == n and (lo[1:] == (lo + size)[:-1]).all()
    vals = np.array([_block(x, a, b) for a, b in zip(lo, size, strict=True)])
    assert ipd_sweep.tree_total(vals, n) == x.sum()


@pytest.mark.parametrize("payoffs", [[0.0, 3.0, 3.0, 7.0, 1.0], [-4.0, 2.0, 0.0, 9.0, 9.0, 9.0], [0.0] * 5])
def test_gini_by_counting_equals_sorting(payoffs: list[float]) -> None:
    from sim.metrics import gini

    x = np.array(payoffs * 40)
    hist = np.zeros(int(x.max() - x.min()) + 1, np.int64)
    got = ipd_sweep.gini_counted(x, x.min(), x.max(), hist, np.empty(len(x)), len(x))
    assert got == gini(x)
