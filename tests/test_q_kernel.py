"""Discounting Q-learners' compiled update (``agents.policies.q_kernel``) equals numpy's.

Each case feeds both ways of ``QLearning.learn`` the same state and decisions (repeated keys,
waiting decisions whose agent meets another partner or no one, NaN Q-values, no partners)
and requires every state array equal byte for byte; a run of the trust game with learners
above the kernel's size must report exactly what the same run through numpy reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.policies import learners, make_policy
from sim.runs.run import run
from tests.same_runs import assert_same_result


def _numpy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learners, "_settle_kernel", lambda work: None)


def _steps(seed: int, agents: int, partners: bool, nan: bool) -> list[tuple[Any, ...]]:
    """A few steps of random decisions: agent rows, states, acts, rewards, partners."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(4):
        m = int(rng.integers(1, 3 * agents))
        rows = rng.integers(0, agents, m)
        out.append((rows, rng.integers(0, 3, m), rng.integers(0, 2, m), rng.normal(size=m),
                    rng.integers(0, agents, m) if partners else None))
    return out


@pytest.mark.parametrize(("seed", "partners", "nan"), [(0, True, False), (1, True, True), (2, False, False),
                                                        (3, False, True), (4, True, False)])
def test_compiled_update_equals_numpy(seed, partners, nan, monkeypatch):
    pytest.importorskip("numba")
    pol = make_policy("q_learning", {"observe": "partner_last", "gamma": 0.9, "rate": 0.3})
    agents = 40
    states = {}
    for way in ("kernel", "numpy"):
        with monkeypatch.context() as m:
            if way == "numpy":
                _numpy_only(m)
            else:
                m.setattr(learners, "SETTLE_KERNEL_MIN", 0)
            st = pol.init_state(agents, 3, 2)
            if nan:
                st["Q"][np.random.default_rng(seed).random(st["Q"].shape) < 0.05] = np.nan
            for rows, s, acts, rewards, partners_ in _steps(seed, agents, partners, nan):
                pol.learn(st, rows, s, acts, rewards, partners_)
            states[way] = st
    for key, arr in states["numpy"].items():
        got = states["kernel"][key]
        assert got.dtype == arr.dtype and got.shape == arr.shape, key
        assert got.tobytes() == arr.tobytes(), key
    assert len(states["numpy"]["wait_key"]) > 0


def test_a_learning_run_is_the_same_compiled_or_not(monkeypatch):
    pytest.importorskip("numba")
    overrides = {"groups.reciprocal.count": 1500, "groups.opportunists.count": 500,
                 "groups.reciprocal.policy": "q_learning",
                 "groups.reciprocal.params": {"observe": "partner_last", "gamma": 0.9, "temperature": 2.0},
                 "steps": 6}
    calls = [0]
    real = learners._settle_kernel

    def counting(work: int) -> Any:
        got = real(work)
        calls[0] += got is not None
        return got

    monkeypatch.setattr(learners, "_settle_kernel", counting)
    compiled = run("trust-game", seed=3, set=overrides)
    assert calls[0] > 0
    _numpy_only(monkeypatch)
    assert_same_result(compiled, run("trust-game", seed=3, set=overrides))
