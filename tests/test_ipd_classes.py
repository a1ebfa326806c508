"""Pair classes (scenarios/ipd_classes.py) give exactly what the per-row IPD loop gives.

Each case runs a scenario fused twice, from fresh cell memos: once with stretches played
by pair classes, once with every pair row decided by the per-row loop. Everything a run
reports must be equal (``tests.test_fused._same``), and the case asserts that classes
really played (and, where it matters, that they stood for more than one row each).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import ipd_classes, ipd_kernel
from sim import decisions
from sim.cell_memo import CellMemo, TableMemo
from sim.scenario import load_scenario_text
from tests.test_fused import _copies, _retaliating, _run, _same, _text, retaliate_check  # noqa: F401
from tests.test_readset_runs import wary  # noqa: F401  (fixture: a spec whose check reads trust)


def _both(scenario: Any, monkeypatch: pytest.MonkeyPatch, seed: int = 3,
          overrides: dict[str, Any] | None = None) -> tuple[Any, Any, list[int]]:
    """(per-row run, class run, rows per representative of each class stretch)."""
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    real = ipd_kernel._classes
    monkeypatch.setattr(ipd_kernel, "_classes", lambda *a: None)
    rows, _ = _run(scenario, True, monkeypatch, seed, overrides)
    monkeypatch.setattr(ipd_kernel, "_classes", real)
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    spread: list[int] = []
    real_pairs = ipd_classes.pair_classes

    def counting(*args: Any) -> Any:
        got = real_pairs(*args)
        if got is not None:
            spread.append(int(got.mult.max()))
        return got

    monkeypatch.setattr(ipd_classes, "pair_classes", counting)
    classes, played = _run(scenario, True, monkeypatch, seed, overrides)
    assert played > 0
    return rows, classes, spread


@pytest.mark.parametrize(("overrides", "seed", "widest"), [
    ({}, 0, 1),  # twelve strategies: every pair its own class
    ({**_copies(3), "steps": 80}, 5, 3),
    ({**_copies(4), "environment.R": 2.5, "environment.T": 4.25, "environment.P": 0.75, "steps": 50}, 1, 4),
])
def test_classic_by_classes_equals_by_rows(overrides, seed, widest, monkeypatch):
    rows, classes, spread = _both("ipd-classic", monkeypatch, seed, overrides)
    assert spread and max(spread) >= widest
    _same(rows, classes)


def test_keys_met_mid_stretch_fill_the_same_cells(wary, monkeypatch):  # noqa: F811
    # Trust drifts through the buckets the `wary` check reads: fills inside class stretches.
    rows, classes, spread = _both(wary(_copies(3)), monkeypatch, 2)
    assert spread
    _same(rows, classes)
    assert rows.decisions.n_cells == classes.decisions.n_cells
    np.testing.assert_array_equal(rows.decisions.full[: rows.decisions.n_cells],
                                  classes.decisions.full[: classes.decisions.n_cells])


@pytest.mark.usefixtures("retaliate_check")
def test_conflicts_end_a_class_stretch(monkeypatch):
    sc = load_scenario_text(_text(_retaliating(), steps=30), source="fused-case.toml")
    rows, classes, spread = _both(sc, monkeypatch, 4)
    assert spread
    assert rows.final_metrics()["conflicts"] > 0
    _same(rows, classes)


@pytest.mark.parametrize("extra", ['[environment]\npromises = true\n'])
def test_promises_are_played_by_rows(extra, monkeypatch):
    # A broken promise is detected per row by a draw: no classes.
    sc = load_scenario_text(_text(extra, steps=20), source="fused-case.toml")
    _, _, spread = _both(sc, monkeypatch, 1)
    assert spread == []
