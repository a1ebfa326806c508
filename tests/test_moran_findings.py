"""moran-ipd over 40 seeds: selection decides which strategy fixes; without it each fixes at 1/4.

Eight agents (two each of tit for tat, grudger, cooperator and defector) run
to fixation. Under selection (intensity 0.2) cooperators, exploited by
defectors, seldom take over; the counterfactual, neutral selection
(intensity 0), gives each strategy its initial share, 1/4, as the neutral
Moran process must: every Wilson interval contains it.
"""

from __future__ import annotations

import functools

import pytest

from sim.evolution import wilson_interval
from sim.model import SpecModel
from sim.scenario import load_scenario
from tests.test_moran_axelrod import newcombe

STRATEGIES = ("tit_for_tat", "grudger", "cooperator", "defector")
RUNS = 40
#: 99% intervals: four strategies are checked at once; the seeds are fixed, so the test is deterministic.
Z = 2.576


@functools.cache
def fixations(selection: float) -> dict[str, int]:
    """How often each strategy took over in RUNS seeded runs, each stepped until one did."""
    sc = load_scenario("moran-ipd", {"evolution.selection": selection,
                                     **{f"groups.{g}.count": 2 for g in STRATEGIES}})
    counts = dict.fromkeys(STRATEGIES, 0)
    for seed in range(RUNS):
        model = SpecModel(sc, seed=seed)
        while model.evolution.fixed is None and model.steps < 5000:
            model.step()
        assert model.evolution.fixed is not None, seed
        counts[model.evolution.fixed] += 1
    return counts


@pytest.mark.slow
def test_selection_keeps_cooperators_from_taking_over() -> None:
    low, high = newcombe(fixations(0.2)["cooperator"], RUNS, fixations(0.0)["cooperator"], RUNS)
    assert high < 0, (fixations(0.2), fixations(0.0), (low, high))


def test_without_selection_each_strategy_fixes_at_its_share() -> None:
    for strategy, k in fixations(0.0).items():
        low, high = wilson_interval(k, RUNS, Z)
        assert low <= 1 / len(STRATEGIES) <= high, (strategy, fixations(0.0))
