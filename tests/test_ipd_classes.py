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

from scenarios import ipd_agents, ipd_classes, ipd_kernel
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


@pytest.mark.parametrize("profiles", [0.25, 1.0])
def test_keys_met_mid_stretch_fill_the_same_cells(wary, profiles, monkeypatch):  # noqa: F811
    # Trust drifts through the buckets the `wary` check reads: fills inside class stretches
    # (with agents booked by profile too: the loop returns, writes back, and resumes).
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", profiles)
    rows, classes, spread = _both(wary(_copies(3)), monkeypatch, 2)
    assert spread
    _same(rows, classes)
    assert rows.decisions.n_cells == classes.decisions.n_cells
    np.testing.assert_array_equal(rows.decisions.full[: rows.decisions.n_cells],
                                  classes.decisions.full[: classes.decisions.n_cells])


@pytest.mark.usefixtures("retaliate_check")
@pytest.mark.parametrize("profiles", [0.25, 1.0])
def test_conflicts_end_a_class_stretch(profiles, monkeypatch):
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", profiles)
    sc = load_scenario_text(_text(_retaliating(), steps=30), source="fused-case.toml")
    rows, classes, spread = _both(sc, monkeypatch, 4)
    assert spread
    assert rows.final_metrics()["conflicts"] > 0
    _same(rows, classes)


#: trust-network as the kernel plays it (promises as act labels), rewiring off, small.
NETWORK = {"scenario.environment": "ipd", "groups.reciprocal.policy": "reciprocal",
           "groups.reciprocal.params": {"threshold": 0.5}, "network.rewire.below": 0.0,
           "groups.reciprocal.count": 60, "groups.opportunists.count": 20, "steps": 30}


@pytest.mark.parametrize(("overrides", "seed", "profiles"), [
    # The bench game: nobody may break a promise, so classes play every step.
    ({**NETWORK, "environment.detect_prob": 1.0}, 0, 1.0),
    ({**NETWORK, "environment.R": 2.5, "environment.T": 4.25, "environment.P": 0.75}, 2, 1.0),
    ({**NETWORK, "network.kind": "random_regular", "network.degree": 3}, 3, 1.0),
    # Agents booked one by one (too many profiles allowed to be worth it).
    ({**NETWORK, "environment.detect_prob": 1.0}, 1, 0.0),
    # Opportunists may promise and betray: the first betrayal hands the stretch to the rows.
    ({**NETWORK, "groups.opportunists.spec": "empty", "environment.detect_prob": 0.5}, 4, 1.0),
])
def test_network_by_classes_equals_by_rows(overrides, seed, profiles, monkeypatch):
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", profiles)
    booked: list[bool] = []
    real = ipd_agents.agent_classes

    def spy(*args: Any) -> Any:
        got = real(*args)
        booked.append(got is not None)
        return got

    monkeypatch.setattr(ipd_agents, "agent_classes", spy)
    rows, classes, spread = _both("trust-network", monkeypatch, seed, overrides)
    assert spread and max(spread) > 1
    assert any(booked) == (profiles > 0)
    _same(rows, classes)
    stepwise, _ = _run("trust-network", False, monkeypatch, seed, overrides)
    _same(stepwise, classes)
    if overrides.get("groups.opportunists.spec") == "empty":
        assert classes.final_metrics()["deceptions"] > 0


def test_later_stretches_are_classes_when_pairs_played_alike(monkeypatch):
    # A second run() starts a stretch mid-game (as the scaling bench does): pairs of the same
    # deciders have played alike, so classes still hold; results equal the per-row loop's.
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", 1.0)
    real_classes, real_pairs, real_resume = ipd_kernel._classes, ipd_classes.pair_classes, ipd_classes.resume
    models = []
    for by_class in (False, True):
        monkeypatch.setattr(decisions, "MEMO", CellMemo())
        monkeypatch.setattr(decisions, "TABLES", TableMemo())
        monkeypatch.setattr(ipd_kernel, "_classes", real_classes if by_class else (lambda *a: None))
        fast, _ = _run("trust-network", True, monkeypatch, 5, {**NETWORK, "steps": 2})
        made: list[Any] = []

        def spy(*args: Any, made: list[Any] = made) -> Any:
            made.append(real_pairs(*args))
            return made[-1]

        def resumed(*args: Any, made: list[Any] = made) -> Any:
            got = real_resume(*args)  # the classes the first run() left (nothing read the rows since)
            if got is not None:
                made.append(got)
            return got

        monkeypatch.setattr(ipd_classes, "pair_classes", spy)
        monkeypatch.setattr(ipd_classes, "resume", resumed)
        fast.run(12)
        monkeypatch.setattr(ipd_classes, "pair_classes", real_pairs)
        monkeypatch.setattr(ipd_classes, "resume", real_resume)
        assert fast.steps == 14
        assert bool(made and made[-1] is not None) == by_class
        models.append(fast)
    _same(*models)


def test_classes_need_each_rows_memory_to_be_its_representatives():
    e = 4
    dec = np.array([0, 0, 1, 1, 1, 1, 0, 0])  # edges: (0,1), (0,1), (1,0), (1,0)
    cols = {name: np.zeros(2 * e, np.int64 if name == "turns" else np.float64) for name in ipd_classes.COLUMNS}
    got = ipd_classes.pair_classes(cols, dec, e)
    assert got is not None and got.mult.tolist() == [2, 2, 2, 2]
    cols["kept"][[0, 1]] = 3.0  # both rows of class 0 alike: still classes
    assert ipd_classes.pair_classes(cols, dec, e) is not None
    cols["kept"][1] = 2.0  # row 1 apart from its representative, row 0
    assert ipd_classes.pair_classes(cols, dec, e) is None


def test_agents_of_one_profile_must_start_alike(monkeypatch):
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", 1.0)
    of_row = np.array([0, 0, 1, 1])  # two edges of one class: rows (0,1), (2,3), then (1,0), (3,2)
    agent = np.array([0, 2, 1, 3])
    partner = np.array([1, 3, 0, 2])
    state = tuple(np.zeros(4) for _ in range(4))
    got = ipd_agents.agent_classes(of_row, agent, partner, 4, state, np.zeros(4, np.int64))
    assert got is not None and got.members.tolist() == [2, 2]
    state[0][2] = 1.0  # agent 2 has earned more than agent 0 before the stretch
    assert ipd_agents.agent_classes(of_row, agent, partner, 4, state, np.zeros(4, np.int64)) is None
