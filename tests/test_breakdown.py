"""Metrics that tell specs apart: compliance per level and weighted by level, counts per group."""

from __future__ import annotations

import numpy as np
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
    """Honest-first keeps root honesty, which the developer's permission to bluff cannot lift;
    under confidential-first that permission lifts the user-level principle, so it is not scored."""
    honest, conf = results["negotiation-honest-first"], results["negotiation-confidential-first"]
    assert honest["compliance.level.root"] == 1.0 and honest["compliance.do_not_lie"] == 1.0
    assert "compliance.do_not_lie" not in conf
    assert conf["compliance.level.developer"] == 1.0


def test_principles_that_cannot_apply_are_not_scored(results) -> None:
    """No act in commons can lie or steer: those principles are not applicable, not passes."""
    m = results["commons"]
    assert "compliance.do_not_lie" not in m and "compliance.no_covert_goals" not in m


@pytest.mark.parametrize("sid", ["negotiation-confidential-first", "injection", "ipd-classic", "commons"])
def test_group_counts_are_each_groups_bincount(sid: str) -> None:
    """Per-group counts as one bincount per column gives them, named per group (names are kept
    per process by the groups' names; a column with no outcome of its kind is skipped)."""
    from sim.breakdown import GROUP_COUNTS, breakdown
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    model = SpecModel(load_scenario(sid), seed=3)
    model.run(STEPS)
    counts = np.zeros(model.decisions.n_outcomes)
    n = min(len(model.totals.outcomes), len(counts))
    counts[:n] = model.totals.outcomes[:n]
    col = model.decisions.outcome_column
    want = {}
    for name, column in GROUP_COUNTS:
        per = np.bincount(col("group")[: len(counts)], weights=counts * col(column)[: len(counts)],
                          minlength=len(model.groups))
        want.update({f"{name}.{gs.name}": float(per[gs.index]) for gs in model.groups})
    got = breakdown(model, model.totals.outcomes)
    assert {k: got[k] for k in want} == want
    assert list(got)[: len(want)] == list(want)
