"""Decision cells remembered across runs (``sim.cell_memo``): a run is the same whether its cells
came from the memo or were computed, and a decider that changed never reuses old cells."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from agents.acts import Act
from agents.checks import CHECKS, check
from agents.policies import POLICIES, make_policy
from sim import decisions
from sim.cell_memo import CellMemo, CellRecord, TableMemo, policy_signature, signature
from sim.decisions import DecisionTable
from sim.runs.run import run
from tests.same_runs import RULE_BASED, assert_same_result


@pytest.fixture
def memo(monkeypatch: pytest.MonkeyPatch) -> Iterator[CellMemo]:
    """A fresh process memo, and a count of the rememberable cells computed (not copied from the memo)."""
    fresh = CellMemo()
    monkeypatch.setattr(decisions, "MEMO", fresh)
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    computed = [0]
    real = DecisionTable._new_cell

    def counting(self: DecisionTable, phase: int, decider: int, obs: Any) -> int:
        if self._signature(decider) is not None:  # language models' cells are never remembered
            computed[0] += 1
        return real(self, phase, decider, obs)

    monkeypatch.setattr(DecisionTable, "_new_cell", counting)
    fresh.computed = computed  # type: ignore[attr-defined]
    yield fresh


@pytest.mark.parametrize("scenario", RULE_BASED)
def test_a_run_from_remembered_cells_equals_a_cold_run(scenario: str, memo: CellMemo) -> None:
    cold = run(scenario, seed=2, steps=12)
    assert len(memo) > 0 or memo.computed[0] == 0  # type: ignore[attr-defined]
    warm = run(scenario, seed=2, steps=12)
    assert_same_result(cold, warm)


def test_a_warm_round_robin_computes_no_cell(memo: CellMemo) -> None:
    run("ipd-classic", seed=0, steps=30)
    first = memo.computed[0]  # type: ignore[attr-defined]
    assert first > 0
    run("ipd-classic", seed=5, steps=30, set={"groups.grudger.count": 3})
    assert memo.computed[0] == first  # type: ignore[attr-defined]


def test_a_restored_tables_kept_read_mask_is_its_own(memo: CellMemo) -> None:
    """``read_mask`` keeps its answer with a restored state; it must stay the mask of the cells
    the table holds (a thawed table that computed a cell reading a new field asks afresh)."""
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    sc = load_scenario("ipd-classic")  # long enough for the kernel, which keeps the table
    SpecModel(sc, seed=0).run()
    model = SpecModel(sc, seed=0)
    assert model.decisions.warm()
    first = model.decisions.read_mask()
    assert first.any()  # else zeroing the kept mask below could not be told from it
    kept = model.decisions.read_mask()  # from the state's keep
    assert (first == kept).all() and first is not kept
    shared = model.decisions._shared
    assert shared is not None and "read_mask" in shared["derived"]
    _, mask = shared["derived"]["read_mask"]
    mask[:] = 0  # a kept mask the table's read-sets disagree with would now be served
    assert not model.decisions.read_mask().any()
    shared["derived"].pop("read_mask")
    assert (model.decisions.read_mask() == first).all()


@pytest.mark.parametrize(("before", "then"), [
    (("trust-network", 1), ("ipd-classic", 3)),
    (("ipd-classic", 3), ("trust-network", 1)),
    (("negotiation-honest-first", 0), ("negotiation-confidential-first", 0)),
    (("commons", 4), ("commons-newcomer", 4)),
])
def test_cells_left_by_another_scenario_change_nothing(before: tuple[str, int], then: tuple[str, int],
                                                       memo: CellMemo, monkeypatch: pytest.MonkeyPatch) -> None:
    run(before[0], seed=before[1], steps=10)
    warm = run(then[0], seed=then[1], steps=10)
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    cold = run(then[0], seed=then[1], steps=10)
    assert_same_result(cold, warm)


@pytest.mark.parametrize(("first", "then"), [
    ({"steps": 200}, {"steps": 7}),                                   # a table with cells never met
    ({"steps": 40}, {"steps": 120}),                                  # a table that must grow
    ({"steps": 50, "environment.T": 6.0}, {"steps": 50}),             # payoffs are not in cells
    ({"steps": 30, "network.kind": "random_regular", "network.degree": 4}, {"steps": 30}),
])
def test_a_run_from_a_remembered_table_equals_a_cold_run(first: dict[str, Any], then: dict[str, Any],
                                                         memo: CellMemo,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sim import cell_memo

    assert not len(decisions.TABLES)
    run("ipd-classic", seed=1, set=first)
    assert len(decisions.TABLES) == 1
    warmed = [0]
    real = DecisionTable.warm

    def counting(self: DecisionTable) -> bool:
        got = real(self)
        warmed[0] += got
        return got

    monkeypatch.setattr(DecisionTable, "warm", counting)
    warm = run("ipd-classic", seed=4, set=then)
    assert warmed[0] == 1
    monkeypatch.setattr(decisions, "MEMO", cell_memo.CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    cold = run("ipd-classic", seed=4, set=then)
    assert_same_result(cold, warm)


def _injection(delegated: tuple[str, ...] = ("workers", "gullible")) -> Any:
    """The shipped injection scenario (delegations at step 10) with the events to ``delegated`` only."""
    import dataclasses

    from sim.scenario import load_scenario

    sc = load_scenario("injection", {"steps": 16})
    return dataclasses.replace(sc, events=tuple(ev for ev in sc.events if ev.to in delegated))


def test_a_table_kept_past_a_delegation_serves_the_next_run(memo: CellMemo,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The deciders a scripted delegation adds come with the state an earlier run left: the next
    run of the population misses no key after the delegation either, and its result is the cold one's."""
    from sim.model import SpecModel

    sc = _injection()
    cold = SpecModel(sc, seed=3)
    cold.run()
    before = len(cold.decisions.deciders)
    model = SpecModel(sc, seed=3)  # restored at build (``Injection.setup``)
    assert model.decisions._shared is not None
    assert model.decisions._ahead is not None and len(model.decisions.deciders) < before
    model.run()
    assert model.decisions._shared is not None  # still the kept state: no key was missing
    assert model.decisions._ahead is None and len(model.decisions.deciders) == before
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    assert_same_result(run(sc, seed=3), run(sc, seed=3))  # the same, cold then warm, through sim.run


def test_a_table_kept_past_other_deciders_keeps_only_its_population(memo: CellMemo,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that adds other deciders than the kept state's (another group delegated first)
    drops the state's entries for them and computes its own: its result is the cold one's."""
    from sim.model import SpecModel

    run(_injection(), seed=3)
    other = _injection(("gullible",))
    model = SpecModel(other, seed=3)
    table = model.decisions
    built = len(table.deciders)
    assert table._shared is not None and table._ahead is not None
    model.run()
    assert table._ahead is None and table._shared is None
    warm = run(other, seed=3)
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    cold_model = SpecModel(other, seed=3)
    cold_model.run()
    # The added deciders' entries are the keys this run met, with this run's acts (the kept
    # run's gullible deciders stood where its workers' had: none of theirs may be served).
    start = built * table.codec.space
    mine, theirs = table.dense(0)[start:], cold_model.decisions.dense(0)[start:]
    keys = np.flatnonzero(theirs)
    assert len(keys) and (np.flatnonzero(mine[: len(theirs)]) == keys).all() and not mine[len(theirs):].any()
    assert (table._cells.arr["full"][mine[keys] - 1] == cold_model.decisions._cells.arr["full"][theirs[keys] - 1]).all()
    assert_same_result(run(other, seed=3), warm)


def test_the_table_memo_drops_the_oldest_population() -> None:
    tables = TableMemo(limit=2)
    for k in range(3):
        tables.put(k, {"n_cells": k})
    assert len(tables) == 2 and tables.get(0) is None and tables.get(2) == {"n_cells": 2}


def _decider(policy: str = "tit_for_tat") -> tuple[Any, Any, Any, Any]:
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    model = SpecModel(load_scenario("ipd-classic"), seed=0)
    d = model.decisions.deciders[0]
    return d.binding, make_policy(policy), model.decisions.phases[0], model.decisions.codec


def test_signatures_tell_deciders_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    binding, pol, acts, codec = _decider()
    same = signature(binding, make_policy("tit_for_tat"), acts, codec)
    assert signature(binding, pol, acts, codec) == same
    assert signature(binding, make_policy("grudger"), acts, codec) != same
    # A ranking replaced on the class (a test's monkeypatch) is another decider.
    cls = POLICIES["tit_for_tat"]
    monkeypatch.setattr(cls, "rank", lambda self, obs, acts: (1, 0))
    assert signature(binding, pol, acts, codec) != same


def test_a_check_registered_anew_is_another_decider() -> None:
    from agents.chain import Binding
    from agents.spec import SpecLibrary

    _, pol, acts, codec = _decider()
    text = ('[spec]\nid = "memo-case"\nversion = "1"\n\n[[principles]]\nid = "p"\nlevel = "root"\n'
            'text = "t"\ncheck = "memo_case_check"\n')

    @check("memo_case_check")
    def first(obs: Any, act: Act) -> bool | None:
        return True

    try:
        spec = SpecLibrary(shipped=False).load_text(text, "memo-case.toml")
        before = signature(Binding(spec), pol, acts, codec)
        assert signature(Binding(spec), pol, acts, codec) == before
        del CHECKS["memo_case_check"]

        @check("memo_case_check")
        def second(obs: Any, act: Act) -> bool | None:
            return False

        assert signature(Binding(spec), pol, acts, codec) != before
    finally:
        CHECKS.pop("memo_case_check", None)


class _Unplain:
    """A policy object whose attributes are not plain values: never remembered."""

    def __init__(self) -> None:
        self.table = {"C": 1}


def test_policies_with_unplain_state_have_no_signature() -> None:
    assert policy_signature(_Unplain()) is None
    assert policy_signature(object()) is None  # no __dict__
    assert policy_signature(make_policy("tit_for_tat")) is not None


def test_the_memo_starts_afresh_when_full() -> None:
    memo = CellMemo(limit=2)
    rec = CellRecord(0, 0, 1, (), ())
    for k in range(3):
        memo.remember(("sig", k), (), rec)
    assert len(memo) == 1
    assert memo.lookup(("sig", 2), ()) is rec and memo.lookup(("sig", 0), ()) is None


@pytest.mark.parametrize("case", ["same", "first", "middle", "past"])
def test_deciders_added_keep_the_kept_entries_up_to_the_first_that_differs(memo: CellMemo, case: str) -> None:
    """``decider_ids_of`` checks the deciders it adds against a kept state (``_keep_ahead``): all
    its entries kept where all match (or the call adds more than the state holds), none of the
    added deciders' where the first differs, the first half's where one in the middle does."""
    import copy

    from sim.model import SpecModel

    sc = _injection()
    cold = SpecModel(sc, seed=3)
    cold.run()
    w, g = cold.group_index("workers"), cold.group_index("gullible")
    binding = {x: cold.binding_of(int(np.flatnonzero(cold.group_of == x)[0])) for x in (w, g)}
    model = SpecModel(sc, seed=3)
    table = model.decisions
    assert table._ahead is not None
    pols = list(model._variants[w])
    if case == "first":
        pols = pols[1:] + pols[:1]
    elif case == "middle":
        pols[len(pols) // 2] = other = copy.copy(pols[len(pols) // 2])
        other.susceptibility = 0.999
    table.decider_ids_of(binding[w], pols, w)
    more = list(model._variants[g])
    if case == "past":
        more += [copy.copy(p) for p in more]  # more deciders than the state's run added
    table.decider_ids_of(binding[g], more, g)
    built = len(cold.decisions.deciders) - len(cold._variants[w]) - len(cold._variants[g])
    half = len(cold._variants[w]) // 2
    assert table._ahead is None
    assert (built in table._sigs) == (case != "first")
    assert (built + half in table._sigs) == (case in ("same", "past"))
    # Dropped entries are gone from the look-up: from the first decider that differs on.
    dropped = {"same": None, "past": None, "first": built, "middle": built + half}[case]
    space = table.codec.space
    if dropped is None:
        assert table._luts[0][built * space:].any()  # the added deciders' kept entries serve
    else:
        assert not table._luts[0][dropped * space:].any() and not table.marks
        assert all(d < dropped for d in table._read_sets)
    assert (built + half - 1 in table._sigs) == (case != "first")
    assert (len(table._sigs) == len(table.deciders)) == (case == "same")
