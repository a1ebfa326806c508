"""Replayed class stretches (``scenarios.ipd_replays``) give exactly what playing them gives.

Each case fills the process memos with one run, then runs again (the replay, if the inputs
match) and compares with the same run from fresh memos: every reported value must be equal
(``tests.test_cell_memo._same``). The cases count replays, so a replay that never happens
(or happens where an input differs) fails them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import ipd_replays
from sim import decisions
from sim.cell_memo import CellMemo, TableMemo
from sim.runs.run import run
from tests.same_runs import assert_same_result
from tests.test_fused import _copies


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fresh process memos; the returned list counts replays made, then replays kept."""
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    counts = [0, 0]
    real_replay, real_keep = ipd_replays.replay, ipd_replays.keep

    def replay(*args: Any) -> Any:
        got = real_replay(*args)
        counts[0] += got is not None
        return got

    def keep(*args: Any) -> None:
        counts[1] += 1
        real_keep(*args)

    monkeypatch.setattr(ipd_replays, "replay", replay)
    monkeypatch.setattr(ipd_replays, "keep", keep)
    return counts


def _cold(monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any]) -> Any:
    with monkeypatch.context() as m:
        m.setattr(decisions, "MEMO", CellMemo())
        m.setattr(decisions, "TABLES", TableMemo())
        return run("ipd-classic", seed=seed, set=overrides)


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"steps": 200}, 0),
    ({**_copies(3), "steps": 80}, 5),
    ({"environment.R": 2.5, "environment.T": 4.25, "environment.P": 0.75, "steps": 50}, 1),
    ({**_copies(2), "network.kind": "random_regular", "network.degree": 4, "steps": 60}, 2),
])
def test_a_replayed_stretch_equals_a_played_one(overrides, seed, replays, monkeypatch):
    run("ipd-classic", seed=seed + 1, set=overrides)  # cold: its table is kept, no stretch is
    assert replays == [0, 0]
    run("ipd-classic", seed=seed, set=overrides)  # warm: plays and keeps its stretch (graphs are seeded)
    assert replays == [0, 1]
    warm = run("ipd-classic", seed=seed, set=overrides)
    assert replays == [1, 1]
    assert_same_result(_cold(monkeypatch, seed, overrides), warm)


@pytest.mark.parametrize("change", [
    {"environment.T": 6.0},            # payoffs: not in the cells, in the key
    {"steps": 120},                    # another length
    {"groups.grudger.count": 2},       # another population: another table
    {"network.kind": "random_regular", "network.degree": 4},  # other pairs
])
def test_a_stretch_with_another_input_is_played(change, replays, monkeypatch):
    base = {"steps": 150}
    for seed in (0, 1):
        run("ipd-classic", seed=seed, set=base)
    assert replays == [0, 1]
    then = {**base, **change}
    got = run("ipd-classic", seed=3, set=then)
    assert replays[0] == 0
    assert_same_result(_cold(monkeypatch, 3, then), got)


def test_a_table_with_cells_of_its_own_keeps_nothing(replays):
    run("ipd-classic", seed=0, steps=40)
    model_table = decisions.DecisionTable
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    model = SpecModel(load_scenario("ipd-classic", {"steps": 40}), 0)
    table = model.decisions
    assert isinstance(table, model_table)
    assert table.warm()
    assert table.shared_memo(ipd_replays.NAME) == {}
    codes = np.arange(1, dtype=np.int64)
    table._thaw(0, None)  # what computing a cell of its own does first
    table.cells(0, np.zeros(1, np.int64), codes)
    assert table.shared_memo(ipd_replays.NAME) is None


def test_a_key_reads_views_that_are_not_contiguous_as_their_values() -> None:
    """Arrays are joined as they are; a strided view is copied first: the same key either way."""
    from scenarios.ipd_kernel import _read_by_loop
    from sim.runs.run import run_model

    model = run_model("ipd-classic", seed=0, set={"steps": 5})
    agents, _ = model.edge_agents()
    dec = model.decider_of[0][agents]
    read, scalars = _read_by_loop(model.env, model.decisions.read_mask())
    key = ipd_replays.key_of(model, 5, 40, len(model.groups), dec, read, scalars)
    strided = np.repeat(dec, 2)[::2]
    assert not strided.flags.c_contiguous
    assert ipd_replays.key_of(model, 5, 40, len(model.groups), strided, read, scalars) == key
    assert ipd_replays.key_of(model, 5, 40, len(model.groups), dec[::-1].copy(), read, scalars) != key
    assert ipd_replays.key_of(model, 6, 40, len(model.groups), dec, read, scalars) != key
