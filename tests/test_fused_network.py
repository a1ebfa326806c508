"""The IPD fast-forward on trust-network: promises, detected lies, rewiring, summarised metrics.

Differential: each case runs the scenario fused and stepwise (the generic
path) and compares everything a run reports (``tests.test_fused._same``):
series, final metrics, payoffs, pair memory, events, Mesa's clock. Each case
also asserts steps were really fused. Small populations, several seeds: fast tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import kernel_sums
from scenarios.ipd import IPD
from scenarios.metric_registry import METRICS, Metric
from tests.test_fused import _run, _same

#: trust-network as the kernel plays it: ``ipd``'s promises as act labels (the shipped scenario
#: sends them as messages, ``ipd-talk``, a step the kernel does not mirror) and one reciprocal.
IPD_GAME = {"scenario.environment": "ipd", "groups.reciprocal.policy": "reciprocal",
            "groups.reciprocal.params": {"threshold": 0.5}}
#: trust-network with fixed ties and every broken promise seen (the bench game), small.
BENCH = {**IPD_GAME, "environment.detect_prob": 1.0, "network.rewire.below": 0.0,
         "groups.reciprocal.count": 24, "groups.opportunists.count": 8, "steps": 40}
#: Opportunists without the platform spec: they promise and betray, so detection draws happen.
BETRAY = {**IPD_GAME, "groups.opportunists.spec": "empty", "groups.reciprocal.count": 20,
          "groups.opportunists.count": 10, "network.rewire.below": 0.0, "steps": 40}


@pytest.mark.parametrize(("overrides", "seed"), [
    (BENCH, 0), (BENCH, 7),
    (BETRAY, 1), ({**BETRAY, "environment.detect_prob": 0.5}, 2),
    ({**BETRAY, "environment.detect_prob": 0.3, "environment.lie_penalty": 0.75}, 3),
    # The shipped network: rewiring every 5 steps is played by the generic step, the rest fused.
    ({**IPD_GAME, "steps": 30}, 4),
    ({**IPD_GAME, "steps": 30, "groups.opportunists.spec": "empty", "network.rewire.every": 3}, 5),
])
def test_trust_network_fused_equals_stepwise(overrides: dict[str, Any], seed: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    slow, none = _run("trust-network", False, monkeypatch, seed, overrides)
    fast, played = _run("trust-network", True, monkeypatch, seed, overrides)
    assert none == 0
    assert played >= fast.steps // 3
    _same(slow, fast)


def test_betrayals_are_detected_in_fused_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, played = _run("trust-network", True, monkeypatch, 1, {**BETRAY, "environment.detect_prob": 0.5})
    assert played > 0
    assert fast.final_metrics()["deceptions"] > 0


def test_rewiring_steps_are_left_to_the_generic_step(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = IPD.fast_forward

    def spy(self: IPD, model: Any, limit: int) -> Any:
        stretch = real(self, model, limit)
        if stretch is not None:
            seen.extend(range(model.steps + 1, model.steps + stretch.steps + 1))
        return stretch

    monkeypatch.setattr(IPD, "fast_forward", spy)
    from sim.runs.run import run_model

    run_model("trust-network", seed=0, set={**IPD_GAME, "steps": 21, "network.rewire.every": 5})
    assert seen and not [s for s in seen if s % 5 == 0]


def test_a_plugin_metric_gets_full_records(monkeypatch: pytest.MonkeyPatch) -> None:
    # A per-step metric beyond the engine's may read any array: the loop then keeps records.
    def richest(view: Any) -> np.ndarray:
        return view.payoff.max(axis=1)

    METRICS.add(Metric("test_richest", "richest", "payoff", step=richest))
    try:
        slow, _ = _run("trust-network", False, monkeypatch, 0, BENCH)
        fast, played = _run("trust-network", True, monkeypatch, 0, BENCH)
        assert not fast.summarisable
        assert played > 0
        _same(slow, fast)
    finally:
        METRICS.remove("test_richest")


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 255, 1000, 4097, 100_003])
def test_pairwise_sum_rounds_as_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.random(n) * 10.0 ** rng.integers(-3, 9, n)
    assert kernel_sums.total(a, n) == a.sum()


@pytest.mark.parametrize("n", [0, 1, 7, 9, 128, 129, 1000, 4097, 100_003])
def test_pairwise_sum_through_codes_rounds_as_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    table = rng.random(37) * 10.0 ** rng.integers(-3, 9, 37)
    code = rng.integers(0, len(table), n).astype(np.int32)
    assert kernel_sums.total_at(table, code, n) == table[code].sum()


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 255, 1000, 4097, 100_003])
def test_three_sums_in_one_walk_round_as_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    table = rng.random(37) * 10.0 ** rng.integers(-3, 9, 37)
    code = rng.integers(0, len(table), n).astype(np.int64)
    b, c = (rng.random(n + 3) * 10.0 ** rng.integers(-3, 9, n + 3) for _ in range(2))  # longer than n
    got = kernel_sums.totals3(table, code, b, c, n)
    assert got == (table[code].sum(), b[:n].sum(), c[:n].sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_step_equals_gini_rows(seed: int) -> None:
    from sim.metrics import gini_rows

    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 50, 3000).astype(float) * rng.random(3000)
    order = rng.permutation(len(x))  # any order in: the step sorts what it needs
    got = kernel_sums.gini_step(x, order, np.empty(len(x)), np.empty(len(x)))
    assert got == gini_rows(x[None, :])[0]
    assert np.all(np.diff(x[order]) >= 0)
