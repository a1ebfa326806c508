"""A summarised stretch booked as one block (sim/summary_book.py) books what the general path books.

Differential, per stretch: every stretch that opts in is booked both ways from the same
model state (series, totals, last metrics saved and put back in between), and the two
bookings must agree bit for bit (NaN included) in the columns' names and order, the run
totals and the last step's metrics. Runs cover joins (new groups, new outcomes after the
first stretch), conflicts by level, collapse, principles that never apply in a stretch,
and a second stretch appended to a first.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from scenarios import commons_kernel
from scenarios.stretch import Stretch
from sim import collect, summary_book
from sim.runs.run import run_model
from sim.series import Series


def _state(model: Any) -> tuple[dict[str, np.ndarray], Any, dict[str, float]]:
    """What a booking writes, detached from the model: series as arrays, totals, last metrics."""
    series = {name: np.array(values, dtype=np.float64) for name, values in model.series.items()}
    return series, copy.deepcopy(model.totals), dict(model.last_metrics)


def _bits(x: Any) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def _same_state(a: Any, b: Any) -> None:
    (sa, ta, la), (sb, tb, lb) = a, b
    assert list(sa) == list(sb)
    for name in sa:
        assert _bits(sa[name]) == _bits(sb[name]), name
    assert list(la) == list(lb)
    assert _bits(list(la.values())) == _bits(list(lb.values()))
    assert list(ta.counted) == list(tb.counted)
    assert _bits(list(ta.counted.values())) == _bits(list(tb.counted.values()))
    for field in ("applied", "held", "levels", "outcomes"):
        assert _bits(getattr(ta, field)) == _bits(getattr(tb, field)), field
    assert _bits([ta.welfare, ta.baseline, ta.optimum]) == _bits([tb.welfare, tb.baseline, tb.optimum])


def _both_ways(monkeypatch: pytest.MonkeyPatch, compiled: bool = True, idle_first: bool = False) -> list[int]:
    """Book every opted-in stretch the general way, then (state put back) as one block; compare.
    Returns the steps booked as blocks. ``compiled``: the block's numbers from the compiled
    kernel (numba is loaded by the scenarios' kernels), else from their numpy twin. ``idle_first``:
    no decision counted at a stretch's first step (principles then first apply after it)."""
    real = collect.book_stretch
    booked: list[int] = []
    numbers = summary_book._compiled if compiled else summary_book._numbers
    used: list[int] = []

    def counted(*args: Any) -> Any:
        used.append(1)
        return numbers(*args)

    monkeypatch.setattr(summary_book, "_compiled" if compiled else "_numbers", counted)
    if not compiled:
        monkeypatch.setattr(summary_book, "worth_loading", lambda name, work: None)

    def both(model: Any, rec: Stretch) -> None:
        if not rec.one_block:
            real(model, rec)
            return
        if idle_first:
            rec.arrays.counts[0] = 0
        saved_series = copy.deepcopy(model.series)
        saved = copy.deepcopy(model.totals), dict(model.last_metrics)
        rec.one_block = False
        real(model, rec)
        general = _state(model)
        model.series, (model.totals, model.last_metrics) = saved_series, saved
        rec.one_block = True
        before = len(used)
        assert summary_book.book(model, rec)
        assert len(used) == before + 1  # the block's numbers came the way asked for
        booked.append(rec.steps)
        _same_state(general, _state(model))

    monkeypatch.setattr(collect, "book_stretch", both)
    # A stretch with a join inside it: each part compared (``test_a_join_inside_books_as_its_parts``).
    monkeypatch.setattr(summary_book, "book_joined", lambda model, rec: False)
    return booked


VILLAGE = {"groups.villagers.count": 40, "groups.trawlers.count": 10}
TRUST_1000 = {"groups.reciprocal.count": 750, "groups.opportunists.count": 250}


@pytest.mark.parametrize(("ref", "overrides", "seed"), [
    ("commons", {}, 0),
    ("commons", VILLAGE, 1),
    # Trawlers bound by no spec: conflicts logged, principles that apply to some acts only.
    ("commons", {**VILLAGE, "groups.trawlers.spec": "empty"}, 2),
    ("commons", {**VILLAGE, "specs.sustainable.principles.sustainable_take.level": "user"}, 3),
    # Collapse inside a stretch (then nothing is taken: ratios with nothing applicable).
    ("commons", {"groups.villagers.count": 10, "groups.trawlers.count": 30, "groups.trawlers.spec": "empty",
                 "environment.regrowth_sd": 1.0}, 4),
    ("commons", {**VILLAGE, "steps": 40}, 5),
    # A join: a new group's payoff column, a new decider's outcomes after the first stretch.
    ("commons-newcomer", {}, 0),
    ("commons-newcomer", {"groups.villagers.count": 60}, 6),
    ("commons-newcomer", {"groups.villagers.count": 60, "groups.villagers.spec": "empty"}, 7),
    ("commons-newcomer", {"groups.villagers.count": 30, "groups.newcomer.spec": "sustainable"}, 8),
    # Each step's own welfare bounds (Stretch.bounds: drawn children), at two sizes and seeds.
    ("tooth-fairy", {}, 0),
    ("tooth-fairy", {"groups.careful.count": 400, "groups.unbound.count": 100, "steps": 12}, 9),
    # An evolving population (Stretch.evolved: shares and fixation imitated inside the stretch).
    ("spatial-pd", {}, 0),
    ("spatial-pd", {"steps": 30}, 10),
    # Pairwise: trust_mean and trust_calibration from the loop; no rewiring, or a cut at every
    # step (the ``rewired`` counter then has no absent step).
    ("trust-game", {"network.rewire.below": 0.0}, 0),
    ("trust-game", {"network.rewire.below": 0.0, "environment.promises": False, "steps": 12}, 11),
    ("trust-game", {"network.rewire.every": 1, "network.rewire.below": 0.6, "steps": 8}, 12),
    ("trust-game", {**TRUST_1000, "network.rewire.below": 0.0, "steps": 10}, 13),
    # Partial rewiring: ``rewired`` NaN at the steps that cut no tie (a sparse counter).
    ("trust-game", {**TRUST_1000, "steps": 10}, 0),
    ("trust-game", {}, 14),
    ("trust-game", {"network.rewire.every": 3, "steps": 20}, 15),
])
@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "numpy"])
def test_block_booking_equals_general(ref: str, overrides: dict[str, Any], seed: int, compiled: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    booked = _both_ways(monkeypatch, compiled)
    model = run_model(ref, seed=seed, set=overrides)
    assert sum(booked) >= model.steps // 2


def test_whole_runs_equal(monkeypatch: pytest.MonkeyPatch) -> None:
    # A run booked in blocks against one booked the general way from start to end.
    from tests.test_fused import _same

    over = {"groups.villagers.count": 60, "groups.villagers.spec": "empty"}
    fast = run_model("commons-newcomer", seed=3, set=over)
    with monkeypatch.context() as m:
        m.setattr(summary_book, "book", lambda model, rec, *before: False)
        slow = run_model("commons-newcomer", seed=3, set=over)
    _same(slow, fast)
    assert isinstance(fast.series, Series)


def test_shared_names_take_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # An environment column named like an engine metric: the block cannot place it, so the
    # stretch is booked the general way (the counterfactual: without the clash it is a block).
    calls: list[bool] = []
    real_ff = commons_kernel.fast_forward
    real_book = summary_book.book

    def renamed(env: Any, model: Any, limit: int) -> Any:
        rec = real_ff(env, model, limit)
        if rec is not None and clash:
            rec.env_metrics["welfare"] = rec.env_metrics.pop("harvest")
        return rec

    def counted(model: Any, rec: Any) -> bool:
        calls.append(real_book(model, rec))
        return calls[-1]

    monkeypatch.setattr(commons_kernel, "fast_forward", renamed)
    monkeypatch.setattr(summary_book, "book", counted)
    for clash in (True, False):
        calls.clear()
        run_model("commons", seed=0, set=VILLAGE)
        assert calls and all(c is not clash for c in calls)


def test_kernel_reads_the_count_matrix_columns() -> None:
    # The compiled kernel reads the count matrix by column numbers frozen into its machine code.
    from sim import metrics, summary_kernel

    named = {"decisions": summary_kernel._DECISIONS, "conflicts": summary_kernel._CONFLICTS,
             "cooperative_moves": summary_kernel._COOPERATIVE, "moves": summary_kernel._MOVES,
             "served_injection": summary_kernel._SERVED}
    assert {name: metrics.DECISION_SUMS.index(name) for name in named} == named
    at = summary_kernel._CONFLICTS
    assert metrics.DECISION_SUMS[at:at + 4] == summary_book.COUNTED


@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "numpy"])
def test_principles_first_applied_after_the_first_step(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Their compliance columns join the series after the others (``extend_series``' order for
    # sparse names), in a run's first booking too: the block must hand that to the general way.
    firsts: list[bool] = []
    real = summary_book._series

    def series(model: Any, names: list[str], block: np.ndarray, first: bool) -> None:
        firsts.append(first)
        real(model, names, block, first)

    monkeypatch.setattr(summary_book, "_series", series)
    booked = _both_ways(monkeypatch, compiled, idle_first=True)
    run_model("commons", seed=1, set=VILLAGE)
    assert booked and False in firsts


def test_plans_kept_across_models_only_for_equal_contents(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new model's first stretch takes the plan an earlier model made from equal outcomes,
    # principles, conflicts and groups; one whose outcomes differ makes its own, and books as the
    # general path does (each model has a table of its own: only contents can tell them alike).
    summary_book._PLANS.clear()
    over = {"groups.villagers.count": 30}
    first = run_model("commons-newcomer", seed=0, set=over)
    again = run_model("commons-newcomer", seed=0, set=over)
    assert again.decisions is not first.decisions
    assert again._summary_plan.layout is first._summary_plan.layout
    booked = _both_ways(monkeypatch)
    other = run_model("commons-newcomer", seed=0, set={**over, "groups.villagers.spec": "empty"})
    assert booked
    assert other._summary_plan.layout is not first._summary_plan.layout
    assert other._summary_plan.table is other.decisions


class _NoContents(dict):  # type: ignore[type-arg]
    """A plans memo that must not be asked: the plan came by the arrays' identity."""

    def get(self, key: Any, default: Any = None) -> Any:
        raise AssertionError("plan looked up by contents")


def test_plans_of_a_kept_state_found_by_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tables restored from one kept state share its count matrix and conflict rows: a later
    # model's plan is the earlier one's without hashing the matrix's bytes (~0.1 ms for a
    # thousand outcomes), and books as the general path does.
    over = {"groups.cooperators.count": 60, "groups.free_riders.count": 20}
    run_model("public-goods-fg", seed=0, set=over)
    first = run_model("public-goods-fg", seed=0, set=over)
    assert first._summary_plan.layout is not None
    monkeypatch.setattr(summary_book, "_PLANS", _NoContents())
    booked = _both_ways(monkeypatch)
    again = run_model("public-goods-fg", seed=0, set=over)
    assert booked
    assert again.decisions is not first.decisions
    assert again._summary_plan.layout is first._summary_plan.layout
    assert again._summary_plan.table is again.decisions


def test_plans_by_identity_need_the_same_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    # A model whose count matrix is another array (here: one count changed) is not given the plan
    # filed under the kept state's arrays, though everything else about it is alike.
    over = {"groups.cooperators.count": 60, "groups.free_riders.count": 20}
    real = summary_book.book
    stretches: list[tuple[Any, Stretch]] = []

    def book(model: Any, rec: Stretch) -> bool:
        stretches.append((model, rec))
        return real(model, rec)

    monkeypatch.setattr(summary_book, "book", book)
    run_model("public-goods-fg", seed=0, set=over)
    run_model("public-goods-fg", seed=0, set=over)
    model, rec = stretches[-1]
    kept = model.__dict__.pop("_summary_plan")
    assert summary_book._plan(model, rec).layout is kept.layout  # the same arrays: the same plan
    table = model.decisions
    n = table.n_outcomes
    other = table.count_matrix(n).copy()
    other[0, 0] += 1.0
    monkeypatch.setattr(table, "count_matrix", lambda _n: other)
    del model.__dict__["_summary_plan"]
    assert summary_book._plan(model, rec).layout is not kept.layout


@pytest.mark.parametrize(("overrides", "seed"), [
    ({}, 0),
    ({"groups.villagers.count": 60}, 1),
    ({"groups.villagers.count": 60, "groups.villagers.spec": "empty", "environment.initial": 8.0}, 2),
    ({"groups.villagers.count": 60, "groups.newcomer.count": 3, "environment.regrowth_sd": 0.0}, 3),
    # The newcomers focal: the focal payoff's divisor changes at the join.
    ({"groups.villagers.count": 40, "groups.newcomer.focal": True}, 4),
    ({"groups.villagers.count": 1000}, 5),
])
@pytest.mark.parametrize("compiled", [True, False], ids=["kernel", "numpy"])
def test_a_join_inside_books_as_its_parts(overrides: dict[str, Any], seed: int, compiled: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # One block for the stretch with the join inside it, against its two parts booked apart.
    if not compiled:
        monkeypatch.setattr(summary_book, "worth_loading", lambda name, work: None)
    calls: list[bool] = []
    real = summary_book.book_joined

    def noting(model: Any, rec: Stretch) -> bool:
        calls.append(real(model, rec))
        return calls[-1]

    with monkeypatch.context() as m:
        m.setattr(summary_book, "book_joined", lambda model, rec: False)
        apart = run_model("commons-newcomer", seed=seed, set=overrides)
    monkeypatch.setattr(summary_book, "book_joined", noting)
    whole = run_model("commons-newcomer", seed=seed, set=overrides)
    assert calls == [True]
    _same_state(_state(apart), _state(whole))
    assert list(apart.series) == list(whole.series)
    assert list(apart.last_metrics) == list(whole.last_metrics)
