"""Dense decision tables made with room for the deciders declared joins bring (sim/decisions.py).

A join's newcomer is a new decider; without room its first look-up doubled the dense table
(a full copy, ~3-5 MB in commons-newcomer at 10^3 agents). With the room reserved at build the
table is the same array before and after the join, and the run's results are those of a
table made without room.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.model import SpecModel
from sim.scenario import load_scenario
from tests.test_fused import _same

OVER = {"groups.villagers.count": 200, "steps": 25}


def _run(reserve: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[bool]]:
    with monkeypatch.context() as m:
        # The join's decider not made at build (as for newcomers whose parameters are drawn):
        # its first look-up is the join's, in the room reserved for it.
        m.setattr(SpecModel, "joiner_deciders", lambda self, g: None)
        model = SpecModel(load_scenario("commons-newcomer", OVER), seed=2)
    if not reserve:
        model.decisions.reserve = 0
        model.decisions._luts = [None for _ in model.decisions._luts]  # made again without room
        model.decisions.cells(0, model.decider_of[0][:1], model.decider_of[0][:1] * 0)
    before = model.decisions.dense(0)
    model.run(19)
    assert model.decisions.dense(0) is before
    model.run()  # the join at step 20, then the rest
    return model, [model.decisions.dense(0) is before]


def test_a_join_fills_the_room_made_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    roomy, kept = _run(True, monkeypatch)
    assert roomy.decisions.reserve == 1
    assert kept == [True]
    tight, kept = _run(False, monkeypatch)
    assert kept == [False]  # the counterfactual: without room the join grows (copies) the table
    _same(tight, roomy)
