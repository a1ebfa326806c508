"""Injection's compiled stretch (``scenarios.injection_kernel``) against stepping.

Differential: each case runs the scenario stepped and fused (the compiled loop wherever it can
play), and compares everything a run reports (``tests.test_fused._same``: series, final metrics,
payoffs, pair memory, ledger and script rows, the stored result), plus the beliefs in the order
heard, the pair table's keys and rows and the generators' states. Each case asserts the loop
really played; events (delegations, shocks, joins, departures) split the stretches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("numba")

from scenarios import injection_kernel
from sim.model import SpecModel
from sim.runs.run import run_model
from tests.test_fused import _same, count_stretches

BUSY = {"environment.invoice_prob": 0.5, "environment.overreach_prob": 0.3, "groups.attackers.count": 6}
EVENTS = [
    {"at": 4, "type": "delegate", "source": "user", "delegate": "treasurer", "level": "user", "scope": ["pay"]},
    {"at": 7, "type": "shock", "set": {"invoice": 2.0, "verify_prob": 0.2, "data_share": 0.9}},
]


def _run(fuse: bool, seed: int, overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    real = SpecModel.__init__

    def build(self: SpecModel, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.may_fast_forward = fuse

    with monkeypatch.context() as m:
        m.setattr(SpecModel, "__init__", build)
        return count_stretches(injection_kernel, lambda: run_model("injection", seed=seed, set=overrides),
                               monkeypatch, "play")


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"steps": 12}, 0),
    ({"steps": 12}, 1),
    ({"steps": 16, "environment.verify_prob": 0.9}, 3),
    ({**BUSY, "steps": 14}, 5),
    ({"steps": 8, "groups.workers.count": 60, "groups.gullible.count": 40, "network.degree": 8,
      "environment.verify_prob": 0.0}, 11),
    ({"steps": 6, "groups.workers.count": 300, "groups.gullible.count": 200, "groups.attackers.count": 40,
      "groups.treasurer.count": 2, "network.degree": 6, **{k: v for k, v in BUSY.items() if "count" not in k}}, 12),
    ({**BUSY, "steps": 12, "events": EVENTS}, 9),
    ({"steps": 5, "groups.workers.count": 900, "groups.gullible.count": 700, "groups.attackers.count": 150,
      "network.degree": 6, "events": EVENTS, **{k: v for k, v in BUSY.items() if "count" not in k}}, 13),
    ({"steps": 10, "groups.treasurer.count": 0, "events": []}, 2),
    ({"steps": 6, "groups.treasurer.count": 0, "groups.attackers.count": 0, "events": []}, 7),  # no order at all
    ({**BUSY, "steps": 12, "events": [*EVENTS, {"at": 9, "type": "join", "group": "workers", "count": 3}]}, 4),
    ({"steps": 12, "events": [{"at": 5, "type": "leave", "to": "gullible", "count": 2}]}, 6),
])
def test_the_compiled_stretch_equals_stepping(overrides: dict[str, Any], seed: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    slow, none = _run(False, seed, overrides, monkeypatch)
    fast, played = _run(True, seed, overrides, monkeypatch)
    assert none == 0
    assert played >= 4
    _same(slow, fast)
    for a, b in zip(slow.pairs.pairs(), fast.pairs.pairs(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(slow.pairs.keys, fast.pairs.keys)
    np.testing.assert_array_equal(slow.pairs.rowof, fast.pairs.rowof)
    for rng in ("rng_env", "rng_detect", "rng_match", "rng_decide"):
        assert getattr(slow, rng).bit_generator.state == getattr(fast, rng).bit_generator.state, rng
    assert list(slow.env.beliefs.credence.items()) == list(fast.env.beliefs.credence.items())
    assert list(slow.env.beliefs.truth.items()) == list(fast.env.beliefs.truth.items())
    np.testing.assert_array_equal(slow.env.tally, fast.env.tally)
    assert slow.log.truncated == fast.log.truncated


def test_a_departure_leaves_the_rest_to_stepping(monkeypatch: pytest.MonkeyPatch) -> None:
    """After agents leave, the loop does not play (it assumes everyone alive)."""
    _, played = _run(True, 6, {"steps": 12, "events": [{"at": 5, "type": "leave", "to": "gullible", "count": 2}]},
                     monkeypatch)
    assert played == 4  # steps 1-4; the departure at 5 and every step after it are stepped


def test_stretches_cut_by_the_record_budget_equal_stepping(monkeypatch: pytest.MonkeyPatch) -> None:
    """A budget of one step's records plays one step a stretch: the same run."""
    overrides = {**BUSY, "steps": 8}
    slow, _ = _run(False, 3, overrides, monkeypatch)
    monkeypatch.setattr(injection_kernel, "RECORD_BUDGET", 1)
    fast, played = _run(True, 3, overrides, monkeypatch)
    assert played == 8
    _same(slow, fast)
    assert list(slow.env.beliefs.credence.items()) == list(fast.env.beliefs.credence.items())


@pytest.mark.parametrize("bound", [0, 60, 150])
def test_a_full_ledger_truncates_as_stepping(bound: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where conflicts and attempts reach the bound on rows, the loop logs them step by step,
    so the same rows are kept and the same counted as truncated."""
    import sim.eventlog

    monkeypatch.setattr(sim.eventlog, "MAX_EVENT_ROWS", bound)
    overrides = {**BUSY, "steps": 10}
    slow, _ = _run(False, 2, overrides, monkeypatch)
    fast, played = _run(True, 2, overrides, monkeypatch)
    assert played >= 4
    _same(slow, fast)
    assert slow.log.truncated == fast.log.truncated > 0


def test_cells_read_from_the_dense_table_equal_stepping(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose keys the process's table holds reads its cells in the loop (no ``cells_of``)."""
    overrides = {"steps": 8}
    slow, _ = _run(False, 1, overrides, monkeypatch)
    _run(True, 1, overrides, monkeypatch)  # the cells of this population, kept for later runs
    calls: list[int] = []
    real = injection_kernel.cells_of
    monkeypatch.setattr(injection_kernel, "cells_of", lambda *a: calls.append(1) or real(*a))
    fast, played = _run(True, 1, overrides, monkeypatch)
    assert played and not calls
    _same(slow, fast)


def test_rows_sorted_by_counting_are_numpys() -> None:
    """``_sort_few`` (the Gini's sort) sorts rows of few distinct values as numpy does, -0.0 and
    0.0 alike, and stops at the first row with more than ``FEW`` values or a NaN, leaving it and
    the rest unsorted (for numpy)."""
    few_values = injection_kernel.FEW
    rng = np.random.default_rng(0)
    width = few_values + 1
    few = rng.integers(-6, 9, (5, width)) * 0.5
    few[1, :7], few[1, 7:9] = -0.0, 0.0
    full = rng.permutation(np.arange(width, dtype=float) % few_values)[None, :]  # exactly FEW values
    many = rng.permutation(np.arange(width, dtype=float))[None, :]
    nan = few[:1].copy()
    nan[0, 3] = np.nan
    cases = [(few, 5), (np.concatenate([few[:2], full, many, few]), 3), (np.concatenate([few[:2], nan, few]), 2),
             (np.zeros((3, 0)), 3)]
    for rows, done in cases:
        got = rows.copy()
        assert injection_kernel._sort_few(got) == done
        np.testing.assert_array_equal(got[:done], np.sort(rows[:done], axis=1))
        np.testing.assert_array_equal(got[done:], rows[done:])
