"""Pair classes (scenarios/ipd_classes.py): a stretch played once per (decider, decider) class
gives exactly what the per-row loop gives, and stops where it stops."""

from __future__ import annotations

from typing import Any

import pytest

from scenarios import ipd_classes
from scenarios.ipd import IPD
from sim.runs.run import run_model
from tests.test_fused import FAST_FORWARD, _copies, _retaliating, _same, _text, retaliate_check  # noqa: F401
from tests.test_readset_runs import wary  # noqa: F401  (fixture: a spec whose check reads trust)


def _both(scenario: Any, monkeypatch: pytest.MonkeyPatch, seed: int = 1,
          overrides: dict[str, Any] | None = None) -> tuple[Any, Any, int]:
    """The run by classes and by rows; how many stretches went by classes."""
    monkeypatch.setattr(IPD, "fast_forward", FAST_FORWARD)  # `wary` steps one at a time
    calls = [0]
    real = ipd_classes.play_classes

    def counting(*args: Any) -> int:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(ipd_classes, "play_classes", counting)
    by_class = run_model(scenario, seed=seed, set=overrides)
    monkeypatch.setattr(ipd_classes, "MAX_CLASS_SHARE", 0.0)
    by_row = run_model(scenario, seed=seed, set=overrides)
    return by_class, by_row, calls[0]


@pytest.mark.parametrize("overrides", [
    {**_copies(3), "steps": 60},
    {**_copies(5), "steps": 25, "environment.R": 2.5, "environment.T": 4.25, "environment.P": 0.75},
    {**_copies(2), "steps": 30, "groups.grudger.count": 7},
])
def test_classes_equal_rows(overrides: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    by_class, by_row, calls = _both("ipd-classic", monkeypatch, overrides=overrides)
    assert calls > 0
    _same(by_row, by_class)


def test_one_agent_per_strategy_plays_by_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # 66 pairs of 66 kinds: nothing to share, the per-row loop plays.
    _, _, calls = _both("ipd-classic", monkeypatch, overrides={"steps": 10})
    assert calls == 0


def test_keys_found_mid_stretch_by_classes(wary: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    sc = wary({**_copies(3), "steps": 60})
    by_class, by_row, calls = _both(sc, monkeypatch, seed=2)
    assert calls > 1  # new keys: the stretch was resumed after the table grew
    _same(by_row, by_class)


@pytest.mark.usefixtures("retaliate_check")
def test_conflicts_stop_classes_where_rows_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    from sim.scenario import load_scenario_text

    sc = load_scenario_text(_text(_retaliating(), steps=30), source="fused-case.toml")
    by_class, by_row, calls = _both(sc, monkeypatch, seed=3)
    assert calls > 0 and by_row.final_metrics()["conflicts"] > 0
    _same(by_row, by_class)
