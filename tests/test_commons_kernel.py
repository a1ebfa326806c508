"""The commons fast-forward (scenarios/commons_kernel.py) gives exactly what stepping gives.

Differential: each case runs a scenario fused and stepwise, the stepwise run
with no kernel at all (``Commons.will_fuse`` false: no look-up made at build,
no stretch), and compares everything a run reports (``tests.test_fused._same``:
series, finals, payoffs, events, the clock) plus the resource's state and the
environment's random stream. Each case asserts steps were really fused.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scenarios
from scenarios import commons_kernel, commons_table
from scenarios.commons import Commons, equality
from scenarios.metric_registry import METRICS, Metric
from sim import eventlog
from sim.metrics import gini as gini_of
from sim.model import SpecModel
from sim.runs.run import run_model
from sim.scenario import load_scenario, load_scenario_text
from tests.test_fused import _same, count_stretches

NEWCOMER = (Path(scenarios.__file__).parent / "commons-newcomer.toml").read_text()
COMMONS = (Path(scenarios.__file__).parent / "commons.toml").read_text()


def _run(scenario: Any, fuse: bool, monkeypatch: pytest.MonkeyPatch, seed: int,
         overrides: dict[str, Any] | None = None) -> tuple[Any, int]:
    with monkeypatch.context() as m:
        if not fuse:
            # Stepped throughout: no look-up at build, and no script event fired ahead of its step.
            m.setattr(Commons, "will_fuse", lambda self, model, limit: False)
            m.setattr(SpecModel, "_fast_forward", lambda self, limit: None)
        return count_stretches(commons_kernel, lambda: run_model(scenario, seed=seed, set=overrides), m)


def _starts(scenario: Any, monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any]) -> tuple[Any, list]:
    """A fused run and the first step of each stretch it played."""
    starts: list[int] = []
    real = commons_kernel.fast_forward

    def noting(env: Any, model: Any, limit: int, *joined: Any) -> Any:
        stretch = real(env, model, limit, *joined)
        if stretch is not None:
            starts.append(model.steps + 1)  # the model's clock has not moved yet
        return stretch

    with monkeypatch.context() as m:
        m.setattr(commons_kernel, "fast_forward", noting)
        return run_model(scenario, seed=seed, set=overrides), starts


def _same_commons(slow: Any, fast: Any) -> None:
    _same(slow, fast)
    a, b = slow.env, fast.env
    assert (a.stock, a.collapse_step, a._total_over, a._total_takes) == (
        b.stock, b.collapse_step, b._total_over, b._total_takes)
    np.testing.assert_array_equal(a.over_last, b.over_last)
    np.testing.assert_array_equal(slow.step_payoff, fast.step_payoff)
    assert slow.rng_env.bit_generator.state == fast.rng_env.bit_generator.state


VILLAGE = {"groups.villagers.count": 40, "groups.trawlers.count": 10}


@pytest.mark.parametrize(("ref", "overrides", "seed"), [
    ("commons", {}, 0),
    ("commons", VILLAGE, 1),
    ("commons", {**VILLAGE, "specs.sustainable.principles.sustainable_take.level": "user"}, 2),
    # Deterministic regrowth: no draws at all.
    ("commons", {**VILLAGE, "environment.regrowth_sd": 0.0}, 3),
    # Wild regrowth and greedy trawlers: the resource collapses inside a stretch, so fewer
    # shocks are drawn than the stretch has steps (the stream is put back).
    ("commons", {"groups.villagers.count": 10, "groups.trawlers.count": 30, "groups.trawlers.spec": "empty",
                 "environment.regrowth_sd": 1.0}, 4),
    ("commons", {"groups.villagers.count": 120, "groups.trawlers.count": 3, "environment.initial": 30.0}, 5),
    # The loop multiplies each step's exp(shock) by growth itself: a growth other than 2, an
    # integer one, with and without shocks.
    ("commons", {**VILLAGE, "environment.growth": 1.37, "environment.regrowth_sd": 0.4}, 10),
    ("commons", {**VILLAGE, "environment.growth": 3, "environment.regrowth_sd": 0.0}, 11),
    ("commons-newcomer", {}, 0),
    ("commons-newcomer", {"groups.villagers.count": 60}, 6),
    ("commons-newcomer", {"groups.villagers.count": 60, "groups.villagers.spec": "empty"}, 7),
    ("commons-newcomer", {"groups.villagers.count": 30, "groups.newcomer.spec": "sustainable"}, 8),
    # The newcomer checks principles no villager does: its decider is the join's to make.
    ("commons-newcomer", {"groups.villagers.count": 30, "groups.villagers.spec": "empty",
                          "groups.newcomer.spec": "sustainable"}, 9),
])
def test_commons_fused_equals_stepwise(ref: str, overrides: dict[str, Any], seed: int,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    slow, none = _run(ref, False, monkeypatch, seed, overrides)
    fast, played = _run(ref, True, monkeypatch, seed, overrides)
    assert none == 0
    assert played >= fast.steps // 2
    _same_commons(slow, fast)


@pytest.mark.parametrize("room", [1, 2, 5])
def test_more_payoff_classes_than_room_sort_agents(room: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Past the room for payoff classes the loop sorts the agents for the Gini and equality.
    over = {"groups.villagers.count": 60}
    slow, _ = _run("commons-newcomer", False, monkeypatch, room, over)
    monkeypatch.setattr(commons_table, "CLASS_ROOM", room)
    fast, played = _run("commons-newcomer", True, monkeypatch, room, over)
    assert played >= fast.steps // 2
    _same_commons(slow, fast)


def _paths(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each stretch (each part of a stretch with a join inside) played by agent types
    (True) or agent by agent."""
    paths: list[bool] = []
    real, real_joined = commons_kernel._play_flat, commons_kernel._play_joined

    def noting(*args: Any) -> bool:
        paths.append(bool(real(*args)))
        return paths[-1]

    def noting_parts(*args: Any) -> int:
        played = real_joined(*args)
        paths.extend(bool(played & (1 << part)) for part in range(2))
        return played

    monkeypatch.setattr(commons_kernel, "_play_flat", noting)
    monkeypatch.setattr(commons_kernel, "_play_joined", noting_parts)
    return paths


@pytest.mark.parametrize(("room", "by_types"), [(None, {True}), (1, {False})])
@pytest.mark.parametrize("absorbed", [True, False])
def test_stretches_play_by_agent_types_within_the_room(room: int | None, by_types: set[bool], absorbed: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The differential tests above cover both loops: by types unless the types pass the room;
    # in a stretch with the join inside it or in one stretch on each side of it.
    if room is not None:
        monkeypatch.setattr(commons_table, "CLASS_ROOM", room)
    if not absorbed:
        monkeypatch.setattr(Commons, "absorbs_join", lambda self, model, event, steps: False)
    paths = _paths(monkeypatch)
    slow, _ = _run("commons-newcomer", False, monkeypatch, 6, {"groups.villagers.count": 60})
    fast, _ = _run("commons-newcomer", True, monkeypatch, 6, {"groups.villagers.count": 60})
    assert len(paths) >= 2 and set(paths) == by_types
    _same_commons(slow, fast)


def test_collapse_inside_a_stretch_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, played = _run("commons", True, monkeypatch, 4, {
        "groups.villagers.count": 10, "groups.trawlers.count": 30, "groups.trawlers.spec": "empty",
        "environment.regrowth_sd": 1.0})
    assert played == fast.steps  # one stretch, collapse included
    assert fast.env.collapse_step is not None and fast.env.collapse_step < fast.steps


def test_conflicts_are_logged_from_fused_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, played = _run("commons", True, monkeypatch, 1, VILLAGE)
    assert played == fast.steps
    assert fast.final_metrics()["conflicts"] > 0 and fast.conflict_rows()


def test_a_step_logging_the_step_befores_conflicts_shares_its_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    # The trawlers over-take alike every step: each step's chunk points at the first one's entries,
    # and the rows are those of stepping (the differential tests above compare every row).
    fast, played = _run("commons", True, monkeypatch, 1, VILLAGE)
    chunks = fast.log.chunks
    assert played == fast.steps and len(chunks) > 2
    alike = [(a0, a1) for (_, a0, _, o0), (_, a1, _, o1) in pairwise(chunks)
             if np.array_equal(a0, a1) and np.array_equal(o0, o1)]
    assert alike and all(np.shares_memory(a0, a1) for a0, a1 in alike)


def test_conflict_rows_past_the_cap_are_counted_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    # The log keeps whole steps up to the cap and counts the rest, fused or not.
    monkeypatch.setattr(eventlog, "MAX_EVENT_ROWS", 250)
    slow, _ = _run("commons", False, monkeypatch, 1, VILLAGE)
    fast, played = _run("commons", True, monkeypatch, 1, VILLAGE)
    assert played == fast.steps and fast.log.truncated > 0
    _same_commons(slow, fast)


EVENTS = """
[[events]]
at = 12
type = "shock"
set = { growth = 1.6, regrowth_sd = 0.3 }

[[events]]
at = 35
type = "instruct"
to = "villagers"
source = "user"
text = "take as much as you may"

[[events]]
at = 41
type = "shock"
set = { capacity = 80.0, collapse_below = 0.2 }
"""


def test_shocks_joins_and_instructions_split_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_scenario_text(NEWCOMER + EVENTS, source="commons-newcomer.toml")
    for seed in (0, 1, 2):
        over = {"groups.villagers.count": 50}
        slow, _ = _run(sc, False, monkeypatch, seed, over)
        fast, starts = _starts(sc, monkeypatch, seed, over)
        # Each event fires ahead of its step, which starts the next stretch: every step is fused.
        assert starts == [1, 12, 20, 35, 41]
        _same_commons(slow, fast)


JOIN = """
[[events]]
at = {at}
type = "join"
group = "newcomer"
count = {count}
"""


@pytest.mark.parametrize(("ats", "steps", "seed", "starts"), [
    ((1,), 12, 0, [1]),             # at the first step: fired before the first stretch
    # One step into the run: the first stretch plays it inside (``Commons.absorbs_join``).
    ((2,), 12, 1, [1]),
    ((11, 12), 12, 2, [1, 12]),     # joins on the last two steps: the second starts a one-step stretch
    ((5, 5, 6), 15, 3, [1, 5, 6]),  # two joins at one step (none absorbed), then another right after
    ((7, 30), 30, 4, [1, 30]),      # at the very end
    ((3, 9, 14), 20, 5, [1, 9, 14]),
])
def test_joins_fused_into_the_stretch_equal_stepping(ats: tuple[int, ...], steps: int, seed: int, starts: list[int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The newcomer-free scenario with joins where the test puts them; each join starts a stretch
    # but the first, which the run's first stretch plays inside it where it is alone at its step.
    base = NEWCOMER.split("[[events]]")[0] + "".join(JOIN.format(at=a, count=1 + i % 2) for i, a in enumerate(ats))
    sc = load_scenario_text(base, source="commons-newcomer.toml")
    over = {"groups.villagers.count": 40, "steps": steps}
    slow, none = _run(sc, False, monkeypatch, seed, over)
    fast, played = _starts(sc, monkeypatch, seed, over)
    assert none == 0
    assert played == starts
    assert len(fast.payoff) == 40 + sum(1 + i % 2 for i in range(len(ats)))
    _same_commons(slow, fast)
    with monkeypatch.context() as m:  # every join starting a stretch of its own: the same run
        m.setattr(Commons, "absorbs_join", lambda self, model, event, steps: False)
        apart, played = _starts(sc, monkeypatch, seed, over)
    assert played == sorted({1, *ats})
    _same_commons(slow, apart)


def test_an_event_fired_ahead_of_a_stretch_that_cannot_start_fires_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A leave stops the loop (an agent has left): the event fired ahead, the stretch refused,
    # and its step is stepped without firing the event again.
    leave = NEWCOMER + "\n[[events]]\nat = 14\ntype = \"leave\"\nto = \"villagers\"\ncount = 2\n"
    sc = load_scenario_text(leave, source="commons-newcomer.toml")
    over = {"groups.villagers.count": 40, "steps": 30}
    slow, _ = _run(sc, False, monkeypatch, 3, over)
    fast, starts = _starts(sc, monkeypatch, 3, over)
    assert starts == [1]
    assert len(fast.script_rows()) == len(slow.script_rows()) == 2
    _same_commons(slow, fast)
    with monkeypatch.context() as m:  # the same with every stretch refused after its events fired
        m.setattr(Commons, "will_fuse", lambda self, model, limit: False)
        refused = run_model(sc, seed=3, set=over)
    _same_commons(slow, refused)


def test_a_plugin_metric_steps_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # A per-step metric beyond the engine's may read per-agent records the loop does not keep.
    METRICS.add(Metric("test_richest_fisher", "richest", "payoff", step=lambda view: view.payoff.max(axis=1)))
    try:
        slow, _ = _run("commons", False, monkeypatch, 0, VILLAGE)
        fast, played = _run("commons", True, monkeypatch, 0, VILLAGE)
    finally:
        METRICS.remove("test_richest_fisher")
    assert played == 0
    _same_commons(slow, fast)


def test_a_lookup_made_at_build_changes_no_stepped_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without numba a model that would fuse is built with its look-up (cells for every key its
    # deciders may meet) and then stepped: the extra cells are counted nowhere.
    from scenarios.environment import Environment

    over = {**VILLAGE, "environment.regrowth_sd": 0.5}
    plain, _ = _run("commons", False, monkeypatch, 9, over)
    with monkeypatch.context() as m:
        m.setattr(Commons, "fast_forward", Environment.fast_forward)
        built = run_model("commons", seed=9, set=over)
    assert built.env.lookup is not None and plain.env.lookup is None
    assert built.decisions.n_cells > plain.decisions.n_cells
    _same_commons(plain, built)


def test_a_joins_decider_made_at_build_leaves_the_run_no_cell_to_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    over = {"groups.villagers.count": 30, "steps": 25}
    model = SpecModel(load_scenario("commons-newcomer", over), seed=1)
    ids = model.joiner_deciders(model.group_index("newcomer"))
    cells = model.decisions.n_cells
    model.run()
    assert len(model.payoff) == 31 and model.decider_of[0][-1] == ids[0]  # the join's own decider
    assert model.decisions.n_cells == cells
    with monkeypatch.context() as m:  # the counterfactual: made by the join, its cells come with it
        m.setattr(SpecModel, "joiner_deciders", lambda self, g: None)
        late = SpecModel(load_scenario("commons-newcomer", over), seed=1)
        cells = late.decisions.n_cells
        late.run()
    assert late.decisions.n_cells > cells
    _same_commons(late, model)


def test_a_joins_decider_is_not_made_ahead_where_the_join_would_make_it_otherwise() -> None:
    over = {"groups.villagers.count": 30, "groups.villagers.spec": "empty", "groups.newcomer.spec": "sustainable"}
    model = SpecModel(load_scenario("commons-newcomer", over), seed=0)
    principles = list(model.decisions.principle_ids)
    assert model.joiner_deciders(model.group_index("newcomer")) is None  # it brings principles
    assert model.joiner_deciders(model.group_index("villagers")) is None  # newcomers' parameters drawn
    assert model.decisions.principle_ids == principles


FIRST_SHOCK = """
[[events]]
at = 1
type = "shock"
set = { collapse_below = 0.3, growth = 1.6, regrowth_sd = 0.3 }
"""


def test_a_shock_before_the_first_stretch_reaches_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first stretch's call is made with the model, from the parameters at build; a shock fired
    # ahead of step 1 changes them before that call is used.
    sc = load_scenario_text(COMMONS + FIRST_SHOCK, source="commons.toml")
    slow, _ = _run(sc, False, monkeypatch, 0, VILLAGE)
    fast, starts = _starts(sc, monkeypatch, 0, VILLAGE)
    assert starts == [1]
    _same_commons(slow, fast)


def test_the_stretch_after_a_join_uses_what_the_build_made(monkeypatch: pytest.MonkeyPatch) -> None:
    # The look-up, buffers and records for the newcomer are made with the model; the run makes none.
    made: list[tuple] = []
    real = commons_table.records
    monkeypatch.setattr(commons_table, "records", lambda *a: made.append(a) or real(*a))
    model = SpecModel(load_scenario("commons-newcomer", {"groups.villagers.count": 60}), seed=0)
    spare = model.env.spare
    assert spare is not None and len(made) == 2  # the first stretch's records, and the spare's
    model.run()
    assert len(made) == 2 and model.env.spare is None and model.env.lookup is not None
    assert model.env.scratch.blocks is spare.scratch.blocks and len(model.payoff) == 61


INSTRUCT_FIRST = """
[[events]]
at = 10
type = "instruct"
to = "newcomer"
source = "user"
text = "take as much as you may"
"""


def test_a_spare_for_other_deciders_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # Instructions to the newcomers before they join give them other deciders than the build saw.
    sc = load_scenario_text(NEWCOMER + INSTRUCT_FIRST, source="commons-newcomer.toml")
    over = {"groups.villagers.count": 50, "groups.newcomer.spec": "sustainable"}
    slow, _ = _run(sc, False, monkeypatch, 0, over)
    fast, starts = _starts(sc, monkeypatch, 0, over)
    assert starts == [1, 10, 20]
    _same_commons(slow, fast)


def _types_of(value: np.ndarray, of: np.ndarray, rank: np.ndarray) -> commons_kernel.Types:
    """Agents of ``len(value)`` types, ``of`` each agent's: only the fields the metrics read are real."""
    t = len(value)
    count = np.bincount(of, minlength=t).astype(np.int64)
    ints = np.zeros(t, np.int64)
    return commons_kernel.Types(of, value, ints, ints, count, ints, ints, ints, np.zeros(t), np.zeros(t), rank)


@pytest.mark.parametrize(("types", "low", "groups", "start"), [
    (5, 0.0, 1, "identity"),     # payoffs >= 0: summed unshifted; one group
    (5, -3.0, 3, "shuffled"),    # a negative payoff shifts them all; groups interleaved
    (40, 0.0, 2, "reversed"),    # past the insertion budget: sorted from scratch
    (7, 0.0, 2, "nan"),          # a NaN payoff: sorted from scratch, NaN last
])
def test_metrics_by_type_equal_numpys(types: int, low: float, groups: int, start: str) -> None:
    rng = np.random.default_rng(types)
    value = np.round(rng.uniform(low, 10.0, types), 1)  # rounded: ties between types
    value[1] = value[0]
    if start == "nan":
        value[3] = np.nan
    n = 301
    of = rng.integers(0, types, n).astype(np.int64)
    of[:types] = np.arange(types)  # every type has agents
    rank = {"identity": np.arange(types), "shuffled": rng.permutation(types),
            "reversed": np.argsort(-value, kind="stable"), "nan": np.arange(types)}[start].astype(np.int64)
    group_of = rng.integers(0, groups, n).astype(np.int64)
    sums = np.zeros((3, groups))
    sums[1] = rng.uniform(0.0, 5.0, groups)  # the row's sums so far: added to
    expect = sums.copy()
    payoff = value[of]
    for i in range(n):
        expect[1, group_of[i]] += payoff[i]
    xs, buf, eq = np.empty(n), np.empty(n), np.empty(n)
    ty = _types_of(value, of, rank)
    got = commons_kernel._sorted_by_type(ty, group_of, sums, 1, xs, buf, eq, n)
    np.testing.assert_array_equal(sums, expect)
    _sorted_alike(value, ty.rank, got, payoff)
    # The next step's sort starts from this one's order: payoffs moved a little.
    value += rng.uniform(0.0, 0.5, types)
    got = commons_kernel._sorted_by_type(ty, group_of, sums, 2, xs, buf, eq, n)
    _sorted_alike(value, ty.rank, got, value[of])


def _sorted_alike(value: np.ndarray, rank: np.ndarray, got: tuple[float, float], payoff: np.ndarray) -> None:
    """``rank`` sorts ``value`` as numpy does (NaN last), and (Gini, equality) are numpy's bits
    (equality unless a payoff is NaN: no type holds one, ``commons_kernel._types``)."""
    np.testing.assert_array_equal(value[rank], np.sort(value))
    assert got[0] == gini_of(payoff)
    if not np.isnan(payoff).any():
        assert got[1] == equality(payoff)


@pytest.mark.parametrize(("distinct", "room"), [
    (1, 64),    # everyone alike
    (5, 64),    # few: looked up among those found
    (5, 4),     # past the room: none (the loop sorts agents)
    (40, 64),   # past those looked up: by sorting the payoffs
    (40, 30),   # past both
])
def test_payoff_classes_hold_each_agents_payoff(distinct: int, room: int) -> None:
    rng = np.random.default_rng(distinct)
    n = 200
    payoff = rng.choice(np.arange(distinct, dtype=np.float64) * 0.5 - 1.0, n)
    payoff[-2:] = (0.0, -0.0)  # equal values: one class, whichever comes first
    if distinct > 1:
        payoff[5] = np.nan  # equal to none: a class of its own
    ints = np.zeros(n, np.int64)
    cl = commons_table.Classes(ints.copy(), np.zeros(room), np.zeros(room, np.int64), np.zeros(room),
                               np.zeros(room, np.int64), np.zeros(room, np.int64), np.zeros(1, np.int64), np.zeros(n))
    commons_kernel._classify(payoff, np.arange(n), np.empty(n), np.empty(n), cl)
    size = cl.size[0]
    kinds = len(np.unique(payoff[~np.isnan(payoff)])) + np.isnan(payoff).sum()  # 0.0 and -0.0 are one
    if kinds > room:
        assert size == 0
        return
    assert size == kinds
    value, of = cl.value[:size], cl.of
    np.testing.assert_array_equal(value[of], payoff)  # NaN where NaN, 0.0 == -0.0
    np.testing.assert_array_equal(cl.count[:size], np.bincount(of, minlength=size))
    assert len(set(value[~np.isnan(value)].tolist())) == size - np.isnan(value).sum()


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"groups.villagers.count": 60}, 0),
    ({"groups.villagers.count": 60, "environment.regrowth_sd": 0.0, "groups.newcomer.count": 3}, 1),
    # The resource collapses before the join (greedy villagers, a small stock), or after it.
    ({"groups.villagers.count": 60, "groups.villagers.spec": "empty", "environment.initial": 8.0}, 2),
    ({"groups.villagers.count": 60, "groups.villagers.spec": "empty", "environment.regrowth_sd": 0.9}, 3),
    ({"groups.villagers.count": 1000, "groups.newcomer.spec": "empty"}, 4),
])
def test_a_join_alone_at_its_step_is_played_inside_one_stretch(overrides: dict[str, Any], seed: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # One stretch, one loop call: the newcomers sit out the steps before the join. The call was
    # made with the model (none made by the run), and the run is stepping's.
    made: list[tuple] = []
    real = commons_kernel.ready_call
    monkeypatch.setattr(commons_kernel, "ready_call", lambda *a: made.append(a) or real(*a))
    slow, _ = _run("commons-newcomer", False, monkeypatch, seed, overrides)
    fast, starts = _starts("commons-newcomer", monkeypatch, seed, overrides)
    assert starts == [1] and not made
    assert fast.script_rows() == slow.script_rows()
    n = len(slow.env.over_last)
    if n < len(fast.payoff):
        # Collapsed before the join: stepping never extends the over-takes again (nobody takes);
        # the loop's rows for the newcomers say what stepping's absence does: no past.
        assert slow.env.collapse_step is not None and not fast.env.over_last[n:].any()
        slow.env.over_last = np.concatenate([slow.env.over_last, fast.env.over_last[n:]])
    _same_commons(slow, fast)


def test_a_join_that_would_stop_the_loop_is_not_absorbed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Newcomers who may decide fast make the steps after the join stepped: the join is refused
    # inside the stretch (fired at its step, as before) and the run is stepping's.
    over = {"groups.villagers.count": 60, "groups.newcomer.deliberation": 0.5}
    model = SpecModel(load_scenario("commons-newcomer", over), seed=0)
    spare = model.env.spare
    assert spare is not None and spare.call is None
    assert not model.env.absorbs_join(model, model.script.events[0], model.spec_scenario.steps)
    slow, _ = _run("commons-newcomer", False, monkeypatch, 0, over)
    fast, starts = _starts("commons-newcomer", monkeypatch, 0, over)
    assert starts == [1]  # and the steps from the join on are stepped
    _same_commons(slow, fast)
