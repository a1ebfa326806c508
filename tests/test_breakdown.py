"""Metrics that tell specs apart: compliance per level and weighted by level, counts per group."""

from __future__ import annotations

import pytest

from sim.breakdown import LEVEL_WEIGHTS
from sim.runs.run import run

STEPS = 12


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, float]]:
    ids = ("negotiation-honest-first", "negotiation-confidential-first", "injection", "commons")
    return {sid: run(sid, seed=3, steps=STEPS).metrics for sid in ids}


@pytest.mark.parametrize("sid", ["negotiation-honest-first", "negotiation-confidential-first", "injection"])
@pytest.mark.parametrize("name", ["deceptions", "covert_acts", "injections_obeyed"])
def test_group_counts_add_up_to_the_total(results, sid: str, name: str) -> None:
    m = results[sid]
    parts = [v for k, v in m.items() if k.startswith(f"{name}.") and k.count(".") == 1]
    assert parts, sorted(m)
    assert sum(parts) == m[name]


@pytest.mark.parametrize(("sid", "group", "metric", "positive"), [
    ("negotiation-confidential-first", "sellers", "covert_acts", True),   # the hidden goal is theirs
    ("negotiation-confidential-first", "buyers", "covert_acts", False),
    ("negotiation-honest-first", "sellers", "covert_acts", False),
])
def test_group_counts_say_who(results, sid, group, metric, positive) -> None:
    assert (results[sid][f"{metric}.{group}"] > 0) == positive


@pytest.mark.parametrize("sid", ["negotiation-honest-first", "negotiation-confidential-first", "commons"])
def test_weighted_compliance_is_between_the_level_rates(results, sid: str) -> None:
    m = results[sid]
    levels = [v for k, v in m.items() if k.startswith("compliance.level.")]
    assert levels and all(0.0 <= v <= 1.0 for v in levels)
    assert min(levels) <= m["compliance_weighted"] <= max(levels)


def test_level_weights_double_per_level() -> None:
    # none, guideline, user, developer, system, root
    assert LEVEL_WEIGHTS.tolist() == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]


def test_the_orderings_differ_by_level(results) -> None:
    """Honest-first keeps every lie-related principle above developer; confidential-first breaks
    user-level ones to keep the developer's secret: the per-level rates show which."""
    honest, conf = results["negotiation-honest-first"], results["negotiation-confidential-first"]
    assert honest.get("compliance.level.root", 1.0) == 1.0
    assert conf["compliance.level.developer"] == 1.0
    assert conf["compliance.level.user"] < 1.0


def test_principles_that_cannot_apply_are_not_scored(results) -> None:
    """No act in commons can lie or steer: those principles are not applicable, not passes."""
    m = results["commons"]
    assert "compliance.do_not_lie" not in m and "compliance.no_covert_goals" not in m
