"""The spatial-pd fast-forward's other paths against stepping one at a time.

tests/test_spatial_kernel.py plays the shipped board, where every agent has nine
games, groups are agent ranges and only the engine's metrics are collected. Here
each row forces one of the loop's other paths: per-agent records instead of a
summarised stretch, and payoffs summed game by game for agents with more games than the table of sums covers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import scenarios  # noqa: F401  (registers the environments)
from scenarios import spatial_kernel
from sim.model import SpecModel
from sim.scenario import load_scenario


def _run(over: dict[str, Any], fuse: bool) -> SpecModel:
    model = SpecModel(load_scenario("spatial-pd", over), 2)
    model.may_fast_forward = fuse
    model.run()
    return model


BOARD = {"groups.cooperators.count": 70, "groups.defectors.count": 10, "groups.bound.count": 20,
         "steps": 25, "environment.T": 1.85}
CASES = {
    "per-agent records": (BOARD, True),
    "more games than the table of sums": ({**BOARD, "network.kind": "random_regular", "network.degree": 14,
                                           "network.self_play": False}, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_fused_run_equals_stepping_on_other_paths(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    over, records = CASES[case]
    if records:  # as when a plugin metric reads the per-agent arrays
        monkeypatch.setattr(SpecModel, "summarisable", property(lambda self: False))
    step, fused = _run(over, False), _run(over, True)
    assert spatial_kernel.unsupported(fused.env, fused) is None
    assert list(step.series) == list(fused.series)
    for name, col in step.series.items():
        assert np.array_equal(np.asarray(col, float), np.asarray(fused.series[name], float), equal_nan=True), name
    assert np.array_equal(step.payoff, fused.payoff)
    assert step.evolution is not None and fused.evolution is not None
    assert np.array_equal(step.evolution.traits, fused.evolution.traits)
    assert np.array_equal(step.env._last, fused.env._last)


@pytest.mark.parametrize("touch", [False, True])
def test_state_left_by_position_is_reused_only_while_the_model_holds_it(touch: bool) -> None:
    # Runs in parts: a stretch starts from what the last one left by position, unless the
    # model's arrays were changed in between (then it gathers them again).
    models = []
    for fuse in (False, True):
        model = SpecModel(load_scenario("spatial-pd", BOARD), 2)
        model.may_fast_forward = fuse
        for part in range(3):
            model.run(5)
            if touch and part == 1:
                model.payoff[::7] += 1.0
                model.decider_of[0][:3] = model.decider_of[0][3:6]
        models.append(model)
    step, fused = models
    assert fused.env._kept  # what the last stretch left
    for name, col in step.series.items():
        assert np.array_equal(np.asarray(col, float), np.asarray(fused.series[name], float), equal_nan=True), name
    assert np.array_equal(step.payoff, fused.payoff)
    assert np.array_equal(step.decider_of[0], fused.decider_of[0])
