"""Learners' compiled paths (``sim.moves_kernel``, ``agents.policies.fp_kernel``,
``q_kernel.runs_by_row``) give numpy's answers, and learning runs give what they gave before.

Each kernel is fed what its numpy twin is fed (repeated keys, moves of -1, hubs with many
keys, NaN values) and must return or leave the same bytes. Whole runs of the trust game
with every learner, through numpy alone and through every kernel, must leave the payoffs,
learner state and overrides that the code before the kernels left (digests taken from it on
runs without transcendental functions, whose last bits may vary with the machine's libm),
and the two ways must agree with each other in every case.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

import agents.policies.beliefs as beliefs
import agents.policies.learners as learners
import sim.learning as learning
from agents.kernel_loader import optional_module
from agents.policies import make_policy
from agents.uniques import runs
from sim.model import SpecModel
from sim.scenario import load_scenario

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "fictitious_play": ("fictitious_play", {"observe": "partner_last", "initial": 20.0}),
    "fictitious_play_soft": ("fictitious_play", {"observe": "partner_last", "temperature": 0.5}),
    "roth_erev": ("roth_erev", {"observe": "partner_last", "reference": 5.0, "forgetting": 0.05}),
    "roth_erev_x": ("roth_erev", {"observe": "partner_last", "experimentation": 0.2}),
    "q_learning": ("q_learning", {"observe": "partner_last", "gamma": 0.9, "temperature": 2.0}),
    "q_learning_eps": ("q_learning", {"observe": "partner_last", "gamma": 0.9, "epsilon": 0.2}),
    "aspiration": ("aspiration", {"observe": "partner_last", "habituation": 0.1}),
}
#: Digests of 600 agents, 6 steps, seed 1, from the code before the compiled paths (no exp or
#: pow: the softmax cases are checked way against way only).
BEFORE = {
    "fictitious_play": "ff68ac090e352f48",
    "roth_erev": "c7ddd2f2f8a0cb70",
    "roth_erev_x": "cc92616b4c9bed8b",
    "q_learning_eps": "897b94a266191eaf",
    "aspiration": "cc09f3880652f6c3",
}
LOADERS = (learning, learners, beliefs)  # the modules that choose between numpy and a kernel


def _way(monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    for mod in LOADERS:
        if way == "numpy":
            monkeypatch.setattr(mod, "worth_loading", lambda name, work, min_work=0: None)
        else:
            monkeypatch.setattr(mod, "worth_loading", lambda name, work, min_work=0: optional_module(name))


def _digest(case: str, n: int = 600, steps: int = 6, seed: int = 1) -> str:
    policy, params = CASES[case]
    sc = load_scenario("trust-game", {"groups.reciprocal.count": n * 3 // 4,
                                      "groups.opportunists.count": n - n * 3 // 4,
                                      "groups.reciprocal.policy": policy, "groups.reciprocal.params": params,
                                      "network.rewire.below": 0.0, "steps": steps})
    model = SpecModel(sc, seed)
    model.may_fast_forward = False  # the step-by-step path, where these learners learn
    model.run(steps)
    assert model.learning is not None
    h = hashlib.sha256(model.payoff.tobytes())
    for g, gl in sorted(model.learning.groups.items()):
        for phase, st in sorted(gl.state.items()):
            for key, arr in sorted(st.items()):
                h.update(f"{g}.{phase}.{key}".encode())
                h.update(arr.tobytes())
    h.update(model.learning.overrides.tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("case", list(CASES))
def test_learning_runs_are_what_they_were(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numba")
    got = {}
    for way in ("numpy", "compiled"):
        with monkeypatch.context() as m:
            _way(m, way)
            got[way] = _digest(case)
    assert got["compiled"] == got["numpy"]
    if case in BEFORE:
        assert got["numpy"] == BEFORE[case]


def test_runs_by_row_is_runs() -> None:
    q_kernel = pytest.importorskip("agents.policies.q_kernel")
    rng = np.random.default_rng(0)
    for trial in range(200):
        n_rows = int(rng.integers(1, 40))
        m = int(rng.integers(0, 300))
        rows = rng.integers(0, n_rows, m)
        if trial % 3 == 0:
            rows[: m // 2] = 0  # a hub: more keys than an insertion sort takes
        low = rng.integers(0, int(rng.integers(1, 20)), m)
        key = (rows.astype(np.int64) << 32) | low
        for want, got in zip(runs(key), q_kernel.runs_by_row(key, rows, n_rows), strict=True):
            assert got.dtype == want.dtype and np.array_equal(got, want), trial


def test_hashed_partner_moves_are_the_sorted_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    for trial in range(50):
        n = int(rng.integers(2, 60))
        m = int(rng.integers(0, 400))
        a, p = rng.integers(0, n, m), rng.integers(0, n, m)
        coop = rng.integers(-1, 2, m).astype(np.int8)
        qa, qp = rng.integers(0, n, 200), rng.integers(0, n, 200)
        got = {}
        for way in ("numpy", "compiled"):
            with monkeypatch.context() as mp:
                _way(mp, way)
                got[way] = learning._move_table(a, p, coop, np.int64(n + 1))(qa, qp)
        assert got["numpy"].dtype == got["compiled"].dtype
        assert np.array_equal(got["numpy"], got["compiled"]), trial
        assert trial or m == 0 or (got["numpy"] >= 0).any()


def _fp_state(pol: Any, rng: np.random.Generator, agents: int, nan: bool) -> dict[str, np.ndarray]:
    st: dict[str, np.ndarray] = pol.init_state(agents, 3, 3)
    st["seen"][:] = rng.integers(1, 6, st["seen"].shape)
    st["u"][:] = rng.choice([0.0, 1.5, 2.0, 7.25], st["u"].shape)  # ties, so several acts are best
    st["tried"][:] = rng.integers(0, 4, st["tried"].shape)
    if nan:
        st["u"][rng.random(st["u"].shape) < 0.1] = np.nan
    return st


@pytest.mark.parametrize(("seed", "nan"), [(0, False), (1, True), (2, False)])
def test_compiled_fictitious_play_equals_numpy(seed: int, nan: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numba")
    pol = make_policy("fictitious_play", {"observe": "partner_last", "epsilon": 0.1})
    agents = 30
    out = {}
    for way in ("numpy", "compiled"):
        rng = np.random.default_rng(seed)
        st = _fp_state(pol, rng, agents, nan)
        prefs = []
        with monkeypatch.context() as m, np.errstate(invalid="ignore"):
            _way(m, way)
            for _ in range(4):
                k = int(rng.integers(1, 4 * agents))
                rows, s = rng.integers(0, agents, k), rng.integers(0, 3, k)
                prefs.append(np.ascontiguousarray(pol.preferences(st, rows, s)))
                pol.learn(st, rows, s, rng.integers(0, 3, k), rng.normal(3.0, 2.0, k),
                          rng.integers(-1, 2, k))
        out[way] = (prefs, st)
    for want, got in zip(out["numpy"][0], out["compiled"][0], strict=True):
        # NaN where numpy has NaN (its sign, 0 / 0's on this machine, no comparison sees), else the same bits.
        assert got.shape == want.shape and np.array_equal(np.isnan(got), np.isnan(want))
        assert got[~np.isnan(got)].tobytes() == want[~np.isnan(want)].tobytes()
    assert any(np.isnan(p).any() for p in out["numpy"][0]) == nan
    for key, arr in out["numpy"][1].items():
        got = out["compiled"][1][key]
        assert got.dtype == arr.dtype and got.tobytes() == arr.tobytes(), key
