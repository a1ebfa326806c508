"""Injection stretches (steps played back to back, booked at once) against stepping.

Differential: each case runs the scenario with fast-forwarding allowed and not, and compares
everything a run reports (``tests.test_fused._same``: series, final metrics, payoffs, pair
memory, ledger and script rows, the stored result), plus injection's beliefs in the order
heard, the pair table's layout and the generators' states. Each case asserts steps were
really played as stretches; events (delegations, shocks, joins, departures) split them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import stepped_stretch
from scenarios.injection import Injection
from sim.model import SpecModel
from sim.runs.run import run_model
from sim.scenario import load_scenario
from tests.test_fused import _same, count_warms

BUSY = {"environment.invoice_prob": 0.5, "environment.overreach_prob": 0.3, "groups.attackers.count": 6}
SHOCKS = [
    {"at": 4, "type": "delegate", "source": "user", "delegate": "treasurer", "level": "user", "scope": ["pay"]},
    {"at": 7, "type": "shock", "set": {"invoice": 2.0, "verify_prob": 0.2, "data_share": 0.9}},
]


def _run(scenario: str, fuse: bool, monkeypatch: pytest.MonkeyPatch, seed: int,
         overrides: dict[str, Any]) -> tuple[Any, int]:
    real = SpecModel.__init__

    def build(self: SpecModel, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.may_fast_forward = fuse

    played = [0]
    play = stepped_stretch.play

    def counted(model: Any, k: int, step: Any, **kw: Any) -> Any:
        played[0] += k
        return play(model, k, step, **kw)

    with monkeypatch.context() as m:
        m.setattr(SpecModel, "__init__", build)
        m.setattr(stepped_stretch, "play", counted)
        # The compiled stretch (tests/test_injection_kernel.py) plays wherever numba is loaded.
        m.setattr(Injection, "_compiled", lambda self, model, limit: False)
        return run_model(scenario, seed=seed, set=overrides), played[0]


def _compare(scenario: str, monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any]) -> Any:
    slow, none = _run(scenario, False, monkeypatch, seed, overrides)
    fast, played = _run(scenario, True, monkeypatch, seed, overrides)
    assert none == 0
    assert played >= fast.steps // 2
    _same(slow, fast)
    for a, b in zip(slow.pairs.pairs(), fast.pairs.pairs(), strict=True):
        np.testing.assert_array_equal(a, b)
    for rng in ("rng_env", "rng_detect", "rng_match", "rng_decide"):
        assert getattr(slow, rng).bit_generator.state == getattr(fast, rng).bit_generator.state, rng
    return slow, fast


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"steps": 12}, 0),
    ({"steps": 16, "environment.verify_prob": 0.9}, 3),
    ({**BUSY, "steps": 14}, 5),
    ({"steps": 8, "groups.workers.count": 60, "groups.gullible.count": 40, "network.degree": 8,
      "environment.verify_prob": 0.0}, 11),
    ({**BUSY, "steps": 12, "events": SHOCKS}, 9),
    ({"steps": 10, "groups.treasurer.count": 0, "events": []}, 2),
    # Newcomers and departures between stretches (departures: the rest is stepped).
    ({**BUSY, "steps": 12, "events": [*SHOCKS, {"at": 9, "type": "join", "group": "workers", "count": 3}]}, 4),
    ({"steps": 12, "events": [{"at": 5, "type": "leave", "to": "gullible", "count": 2}]}, 6),
])
def test_injection_stretches_equal_steps(overrides: dict[str, Any], seed: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    slow, fast = _compare("injection", monkeypatch, seed, overrides)
    assert list(slow.env.beliefs.credence.items()) == list(fast.env.beliefs.credence.items())
    assert list(slow.env.beliefs.truth.items()) == list(fast.env.beliefs.truth.items())
    assert slow.env.beliefs.credence


def test_a_learner_or_rewiring_is_stepped() -> None:
    """What happens between an engine's steps (learning, rewiring) keeps a run stepping."""
    model = SpecModel(load_scenario("injection", {"network.rewire": {"every": 2, "below": 0.4}}), seed=0)
    assert stepped_stretch.unsteppable(model) == "rewiring may cut ties after a step"
    assert model.env.fast_forward(model, 5) is None
    assert stepped_stretch.unsteppable(SpecModel(load_scenario("injection"), seed=0)) is None


@pytest.mark.parametrize(("scenario", "overrides", "seed"), [
    ("injection", {**BUSY, "steps": 14}, 5), ("injection", {**BUSY, "steps": 14}, 8),
    ("tooth-fairy", {"steps": 14, "environment.child_share": 0.6}, 2),
])
def test_a_table_kept_by_an_earlier_run_changes_nothing(scenario: str, overrides: dict[str, Any], seed: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Injection's stretches and tooth-fairy's steps keep the decision table for later runs of
    the population (a sweep's, a bench's), which start from it at build: a cold stepped run
    and a warm one (fused where it can be) report the same."""
    from sim.cell_memo import TABLES

    TABLES.clear()
    cold, _ = _run(scenario, False, monkeypatch, seed, overrides)
    TABLES.clear()
    _run(scenario, True, monkeypatch, seed, {**overrides, "steps": 6})  # keeps a smaller table
    warmed = count_warms(monkeypatch)
    warm_run, played = _run(scenario, True, monkeypatch, seed, overrides)
    assert warmed == [True] and (scenario != "injection" or played >= warm_run.steps // 2)
    _same(cold, warm_run)
    TABLES.clear()
