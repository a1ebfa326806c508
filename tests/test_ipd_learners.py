"""Q-learners in the IPD fast-forward (scenarios/ipd_learners.py) give exactly what stepping gives.

Differential: each case runs ``ipd-q-learning`` fused and stepwise and compares
everything a run reports (``tests.test_fused._same``) plus the learners' own
state: Q-values, the decisions waiting for their next state, and the learners'
random stream. Each case asserts that steps were really fused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import ipd_kernel
from scenarios.environment import Environment
from scenarios.ipd import IPD, plays_learners
from scenarios.metric_registry import METRICS, Metric
from sim.runs.run import run_model
from sim.scenario import load_scenario, load_scenario_text
from tests.test_fused import FAST_FORWARD, _same, count_stretches

SPEC = "groups.learners.spec"
PARAMS = load_scenario("ipd-q-learning").groups[0].params


def _params(**changes: Any) -> dict[str, Any]:
    return {"groups.learners.params": {**dict(PARAMS), **changes}}


def _both(overrides: dict[str, Any], seed: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, int]:
    runs = []
    for fuse in (False, True):
        monkeypatch.setattr(IPD, "fast_forward", FAST_FORWARD if fuse else Environment.fast_forward)
        runs.append(count_stretches(ipd_kernel, lambda: run_model("ipd-q-learning", seed=seed, set=overrides),
                                    monkeypatch))
    (slow, none), (fast, played) = runs
    assert none == 0
    return slow, fast, played


def _same_learning(a: Any, b: Any) -> None:
    la, lb = a.learning, b.learning
    assert la.rng.bit_generator.state == lb.rng.bit_generator.state
    for g, gl in la.groups.items():
        for phase, st in gl.state.items():
            other = lb.groups[g].state[phase]
            assert list(st) == list(other)
            for key, arr in st.items():
                np.testing.assert_array_equal(arr, other[key], err_msg=key)
    np.testing.assert_array_equal(la.overrides, lb.overrides)
    assert la.overridden == lb.overridden


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"steps": 30}, 0),
    ({"steps": 30, SPEC: "never-defect-first"}, 1),
    ({"steps": 30, **_params(gamma=0.0)}, 2),
    ({"steps": 30, SPEC: "never-defect-first", **_params(gamma=0.0, epsilon=0.3)}, 3),
    ({"steps": 25, SPEC: "never-defect-first", "network.degree": 3, "groups.learners.count": 60}, 4),
    ({"steps": 40, SPEC: "never-defect-first", **_params(observe="partner_last,trust", rate=0.3)}, 5),
    ({"steps": 60, "groups.learners.count": 400}, 6),
    ({"steps": 30, SPEC: "never-defect-first", **_params(observe="", gamma=0.0)}, 8),  # a bandit: one state
])
def test_q_learners_fused_equal_stepwise(overrides: dict[str, Any], seed: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    slow, fast, played = _both(overrides, seed, monkeypatch)
    assert played >= fast.steps - 1
    _same(slow, fast)
    _same_learning(slow, fast)
    if overrides.get(SPEC):
        assert fast.final_metrics()["overrides"] > 0  # the spec did set favourites aside


def test_rewiring_and_a_plugin_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rewiring steps are generic and leave decisions waiting on old partners (the next stretch
    # waits for a generic step to resolve them); a plugin metric makes the loop keep records.
    METRICS.add(Metric("test_richest", "richest", "payoff", step=lambda view: view.payoff.max(axis=1)))
    try:
        # Myopic learners learn to defect, so trust falls and ties are cut.
        over = {"steps": 40, "network.degree": 4, "groups.learners.count": 50, **_params(gamma=0.0),
                "network.rewire": {"every": 6, "below": 0.6}}
        slow, fast, played = _both(over, 7, monkeypatch)
    finally:
        METRICS.remove("test_richest")
    assert played > fast.steps // 2
    assert fast.totals.counted.get("rewired", 0) > 0  # partners did change
    _same(slow, fast)
    _same_learning(slow, fast)


MIXED = """
[scenario]
id = "q-mixed"
environment = "ipd"
steps = 30

[network]
kind = "random_regular"
degree = 3

[groups.learners]
count = 40
policy = "q_learning"
spec = "never-defect-first"
params = { observe = "my_last,partner_last,trust", gamma = 0.9, epsilon = 0.2 }

[groups.tft]
count = 20
policy = "tit_for_tat"
spec = "empty"
"""


def test_learners_among_fixed_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows of fixed policies take the resolver's act; only the learners draw.
    sc = load_scenario_text(MIXED, source="q-mixed.toml")
    runs = []
    for fuse in (False, True):
        monkeypatch.setattr(IPD, "fast_forward", FAST_FORWARD if fuse else Environment.fast_forward)
        runs.append(count_stretches(ipd_kernel, lambda: run_model(sc, seed=3), monkeypatch))
    (slow, none), (fast, played) = runs
    assert none == 0 and played >= fast.steps - 1
    _same(slow, fast)
    _same_learning(slow, fast)


def test_what_the_kernel_leaves_to_stepping() -> None:
    from sim.model import SpecModel

    def model(**changes: Any) -> Any:
        return SpecModel(load_scenario("ipd-q-learning", {"steps": 3, **_params(**changes)}), seed=0)

    assert plays_learners(model())
    assert not plays_learners(model(temperature=1.0))  # softmax: numpy's exp
    assert not plays_learners(model(decay=0.99))       # annealing: numpy's power
    assert model().env.can_fast_forward(model())
    promising = SpecModel(load_scenario("ipd-q-learning", {"environment.promises": True}), seed=0)
    assert not promising.env.can_fast_forward(promising)  # detection draws would interleave
