"""The spatial-pd fast-forward (scenarios/spatial_kernel.py) against stepping one at a time.

Each case runs a scenario twice from one seed, once with fast-forwarding off
(``model.may_fast_forward = False``: the generic step, ``model.decide`` and
``sim.evolution``) and once on, and asks for the same run: series, final
metrics, payoffs, traits, deciders, link memory, events and Mesa's clock.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scenarios  # noqa: F401  (registers the environments)
from agents.acts import Act
from agents.checks import check
from scenarios import spatial_kernel
from sim.model import SpecModel
from sim.network import Network
from sim.scenario import load_scenario
from tests.test_fused import count_warms


@check("test_kernel_defects")
def _defects(obs: Any, act: Act) -> bool | None:
    """Defect (a rule that fights never_defects_first, so decisions log conflicts)."""
    return None if act.cooperative is None else not act.cooperative


def _pair(over: dict[str, Any], seed: int, ref: str | Path = "spatial-pd") -> tuple[SpecModel, SpecModel]:
    got = []
    for fuse in (False, True):
        model = SpecModel(load_scenario(ref, over), seed)
        model.may_fast_forward = fuse
        model.run()
        got.append(model)
    return got[0], got[1]


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def _assert_same_run(step: SpecModel, fused: SpecModel) -> None:
    assert list(step.series) == list(fused.series)
    assert [k for k in step.series if not _same(step.series[k], fused.series[k])] == []
    fa, fb = step.final_metrics(), fused.final_metrics()
    assert sorted(fa) == sorted(fb)
    assert [k for k in fa if not _same(fa[k], fb[k])] == []
    assert np.array_equal(step.payoff, fused.payoff)
    assert np.array_equal(step.decider_of[0], fused.decider_of[0])
    assert np.array_equal(step.env._last, fused.env._last)
    assert step.script_rows() == fused.script_rows()
    assert step.conflict_rows() == fused.conflict_rows()
    assert (step.steps, step.time) == (fused.steps, fused.time)
    if step.evolution is not None:
        assert np.array_equal(step.evolution.traits, fused.evolution.traits)
        assert step.evolution.fixed == fused.evolution.fixed
        assert _same(step.evolution.fixation_step, fused.evolution.fixation_step)
        assert step.evolution._deciders == fused.evolution._deciders  # the types met, recorded
    def made(model: SpecModel) -> list[tuple[Any, ...]]:
        return [(repr(d.binding), type(d.policy), d.phase, d.group, d.bid) for d in model.decisions.deciders]

    assert made(step) == made(fused)  # the same deciders, made in the same order


def _board(coop: int, defect: int, bound: int = 0, **more: Any) -> dict[str, Any]:
    return {"groups.cooperators.count": coop, "groups.defectors.count": defect,
            "groups.bound.count": bound, "steps": 40, **more}


CASES = {
    # b in each of Nowak and May's regimes; fixation, new types and every > 1 on the way.
    "cooperators dominate": _board(90, 10, **{"environment.T": 1.6}),
    "chaos": _board(90, 10, **{"environment.T": 1.9}),
    "collapse (fixation)": _board(80, 20, **{"environment.T": 2.1}),
    "bound minority": _board(60, 15, 25, **{"environment.T": 1.85}),
    "imitation every 3 steps": _board(80, 20, 21, **{"environment.T": 1.85, "evolution.every": 3,
                                                   "groups.cooperators.count": 100, "groups.defectors.count": 23}),
    "no self-play, four neighbours": _board(90, 10, **{"network.self_play": False, "network.degree": 4}),
    "specs evolve": _board(60, 15, 25, **{"evolution.evolve": ["policy", "spec"]}),
}


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_fused_run_equals_stepping(case: str, seed: int) -> None:
    _assert_same_run(*_pair(CASES[case], seed))


def test_no_evolution_and_conflicts(tmp_path: Path) -> None:
    # A spec whose rules fight (defect vs never defect first) logs conflicts: those steps are
    # played the generic way, the rest in the loop; no [evolution] table at all.
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "torn.toml").write_text(
        '[spec]\nid = "torn"\nversion = "1"\n\n'
        '[[principles]]\nid = "nice"\nlevel = "root"\ntext = "Never defect first."\ncheck = "never_defects_first"\n\n'
        '[[principles]]\nid = "tough"\nlevel = "developer"\ntext = "Defect."\ncheck = "test_kernel_defects"\n')
    text = (Path(spatial_kernel.__file__).parent / "spatial-pd.toml").read_text()
    text = text.replace("[scenario]\n", '[scenario]\nspec_dirs = ["specs"]\n', 1)
    text = text.split("[evolution]")[0] + "[groups.cooperators]\ncount = 60\npolicy = \"cooperator\"\n" \
        "spec = \"empty\"\n\n[groups.defectors]\ncount = 20\npolicy = \"defector\"\nspec = \"empty\"\n\n" \
        "[groups.bound]\ncount = 20\npolicy = \"defector\"\nspec = \"torn\"\n"
    path = tmp_path / "torn.toml"
    path.write_text(text)
    step, fused = _pair({"steps": 30}, 1, path)
    assert step.final_metrics()["conflicts"] > 0
    _assert_same_run(step, fused)


def _stretches(model: SpecModel, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    played: list[int] = []
    real = spatial_kernel.fast_forward

    def counting(env: Any, m: Any, limit: int) -> Any:
        got = real(env, m, limit)
        played.append(0 if got is None else got.steps)
        return got

    monkeypatch.setattr(spatial_kernel, "fast_forward", counting)
    model.run()
    return played


def test_the_shipped_scenario_runs_in_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    model = SpecModel(load_scenario("spatial-pd", _board(70, 10, 20)), 0)
    assert spatial_kernel.unsupported(model.env, model) is None
    assert sum(_stretches(model, monkeypatch)) == 40


@pytest.mark.parametrize(("over", "why"), [
    ({"evolution.rule": "fermi"}, "update rule"),
    ({"evolution.update": "asynchronous"}, "asynchronous"),
    ({"evolution.mutation": 0.01}, "mutation"),
    ({"evolution.revise": 0.5}, "partial revision"),
    ({"groups.defectors.deliberation": 0.5}, "resolver's alone"),
    ({"groups.defectors.error_rate": 0.1}, "resolver's alone"),
])
def test_what_the_loop_leaves_to_the_generic_step(over: dict[str, Any], why: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model = SpecModel(load_scenario("spatial-pd", _board(90, 10, **over)), 0)
    assert why in (spatial_kernel.unsupported(model.env, model) or "")
    assert set(_stretches(model, monkeypatch)) <= {0}
    assert model.steps == 40


@pytest.mark.parametrize("net", [
    {"kind": "lattice", "degree": 8, "self_play": True, "shuffle": True},
    {"kind": "lattice", "degree": 4},
])
def test_a_lattice_kept_as_arrays_has_the_graph_edges(net: dict[str, Any]) -> None:
    # The networkx graph is built only when asked for; the edges are the same either way.
    alive = np.ones(49, dtype=bool)
    arrays = Network(net, 49, np.random.default_rng(3), False)
    graph = Network(net, 49, np.random.default_rng(3), False)
    assert graph.graph.graph["cells"] is graph.cells
    assert np.array_equal(arrays.edges(alive), graph.edges(alive))


@pytest.mark.parametrize("side", [3, 4, 7])
@pytest.mark.parametrize("net", [
    {"network.degree": 8, "network.self_play": True, "network.shuffle": True},
    {"network.degree": 8, "network.self_play": False, "network.shuffle": False},
    {"network.degree": 4, "network.self_play": True, "network.shuffle": False},
    {"network.degree": 4, "network.self_play": False, "network.shuffle": True},
])
def test_a_board_laid_out_by_arithmetic_equals_the_sorted_edges(side: int, net: dict[str, Any]) -> None:
    # The slots a built lattice gets from its cells are those made from the sorted edge list,
    # and so are imitation's neighbours by position.
    n = side * side
    model = SpecModel(load_scenario("spatial-pd", _board(n - n // 4, n // 4, **net)), 2)
    assert model.network.board() is not None
    board = spatial_kernel._layout(model.env, model)
    board_nbr = model.env._slot_nbr
    model.env._slots = None
    model.network.board = lambda: None  # type: ignore[method-assign]
    edges = spatial_kernel._layout(model.env, model)
    evolving = spatial_kernel._evolving(model, model.env, edges, np.zeros(n, np.int64))
    for name in spatial_kernel.Layout._fields:
        a, b = getattr(board, name), getattr(edges, name)
        assert type(a) is type(b) and getattr(a, "dtype", None) == getattr(b, "dtype", None), name
        assert np.array_equal(a, b), name
    assert board_nbr is not None and board_nbr.dtype == evolving.nbr.dtype
    assert np.array_equal(board_nbr, evolving.nbr)


def test_a_board_changed_or_made_a_graph_is_laid_out_from_its_edges() -> None:
    model = SpecModel(load_scenario("spatial-pd", _board(20, 5)), 0)
    assert model.network.board() is not None
    model.network.graph  # noqa: B018  (asking for the graph: it may then be changed)
    assert model.network.board() is None
    small = SpecModel(load_scenario("spatial-pd", _board(3, 1)), 0)
    assert small.network.board() is None  # a side of 2 folds neighbours onto one another


def test_a_run_started_from_a_kept_table_equals_stepping(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first fused run keeps its starting population's table; the second starts from it
    # (cells for keys it may never meet, counted nowhere) and must still equal stepping.
    from sim.cell_memo import TABLES

    # The stepped run goes first, before anything is kept: a model is warmed at build
    # (``spatial_kernel.prepare``), before it is told not to fuse.
    TABLES.clear()
    over = _board(60, 15, 25, **{"environment.T": 1.85})
    step = SpecModel(load_scenario("spatial-pd", over), 6)
    step.may_fast_forward = False
    step.run()
    SpecModel(load_scenario("spatial-pd", over), 5).run()
    warmed = count_warms(monkeypatch)
    fused = SpecModel(load_scenario("spatial-pd", over), 6)
    assert warmed == [True]  # the fused run did start from the kept table, restored at build
    fused.run()
    _assert_same_run(step, fused)


@pytest.mark.parametrize("case", ["bound minority", "specs evolve"])
def test_a_cold_fused_run_makes_the_stepped_runs_cells(case: str) -> None:
    # Fills skip the keys of deciders whose nine look-ups all have cells: the table's cells,
    # their acts and outcome rows must still be those stepping makes, in the same order.
    from sim.cell_memo import TABLES

    tables = []
    for fuse in (False, True):
        TABLES.clear()
        model = SpecModel(load_scenario("spatial-pd", CASES[case]), 7)
        model.may_fast_forward = fuse
        model.run()
        t = model.decisions
        tables.append((t.n_cells, t.n_outcomes, len(t.deciders), t.full[:t.n_cells].tolist(),
                       t.base[:t.n_cells].tolist()))
    assert tables[0] == tables[1]


def test_a_model_built_after_a_kernel_run_starts_from_state_gathered_at_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # This module loaded the kernel, so a board's first stretch is made at build: its state by
    # position and, from the table the stepped run's population left, its look-ups and records.
    over = CASES["chaos"]  # no conflicts: the run is one stretch
    step, _ = _pair(over, 4)
    built = SpecModel(load_scenario("spatial-pd", over), 4)
    assert built.env._ready is not None
    _, lookup, books = built.env._ready[2]
    assert lookup is not None and books is not None
    assert built.env._scratch is not None
    made: list[str] = []
    for name in ("_start", "_gather", "_decisions", "_books"):
        real = getattr(spatial_kernel, name)
        monkeypatch.setattr(spatial_kernel, name, lambda *a, _real=real, _name=name: made.append(_name) or _real(*a))
    built.run()
    assert made == []  # nothing gathered or made again in the run
    assert built.env._ready is None  # used once
    _assert_same_run(step, built)


def test_records_for_another_number_of_steps_are_made_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The records made at build are for the scenario's steps; a shorter run keeps the state made
    # at build and makes its records for the steps it plays.
    over = CASES["chaos"]
    _pair(over, 4)
    made: list[int] = []
    real = spatial_kernel._books
    monkeypatch.setattr(spatial_kernel, "_books", lambda *a: made.append(a[2]) or real(*a))
    got = []
    for fuse in (False, True):
        model = SpecModel(load_scenario("spatial-pd", over), 4)
        model.may_fast_forward = fuse
        model.run(7)
        got.append(model)
    assert made == [over["steps"], over["steps"], 7]  # two builds, then the fused run's own
    _assert_same_run(*got)


def _changed_after_build(change: Callable[[SpecModel], None]) -> list[SpecModel]:
    """The chaos board stepped and fused, each ``change``d between build and run."""
    got = []
    for fuse in (False, True):
        model = SpecModel(load_scenario("spatial-pd", CASES["chaos"]), 2)
        change(model)
        model.may_fast_forward = fuse
        model.run()
        got.append(model)
    _assert_same_run(*got)
    return got


def test_state_changed_after_build_is_gathered_again() -> None:
    # The kept state is compared with the model's arrays: a payoff changed between build and
    # run is played from, as stepping plays from it (a stale copy would leave the +1.5 out).
    def raise_payoff(model: SpecModel) -> None:
        model.payoff += 1.5

    got = _changed_after_build(raise_payoff)
    assert got[1].payoff.min() >= 1.5


def test_decisions_made_random_after_build_are_left_to_the_generic_step(monkeypatch: pytest.MonkeyPatch) -> None:
    # The start made at build was checked against ``unsupported`` then; slips allowed after build
    # (deterministic decisions no longer) must not be played from it.
    calls: list[int] = []
    real = spatial_kernel._play
    monkeypatch.setattr(spatial_kernel, "_play", lambda *a: calls.append(1) or real(*a))

    def slips(model: SpecModel) -> None:
        model.err[:] = 0.2
        model._note_rates(model.delib, model.err)

    _changed_after_build(slips)
    assert calls == []


@pytest.mark.parametrize("case", ["bound minority", "specs evolve"])
def test_gini_rows_wait_across_stops_and_chunks(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Gini of a summarised stretch is taken when its rows' buffer is full or the stretch
    # ends, not after each call of the loop: with a buffer of 3 steps, calls that stop for new
    # types write after the rows that wait, and every step's Gini must still be stepping's.
    n = sum(v for k, v in CASES[case].items() if k.endswith(".count"))
    monkeypatch.setattr(spatial_kernel, "CHUNK_BYTES", 3 * 8 * n)
    calls: list[int] = []
    real = spatial_kernel._play

    def counting(*args: Any) -> Any:
        calls.append(args[1] - args[0])
        return real(*args)

    monkeypatch.setattr(spatial_kernel, "_play", counting)
    step, fused = _pair(CASES[case], 0)
    assert len(calls) > 40 // 3 and any(c < 3 for c in calls[:-1])  # stops and full buffers both happened
    _assert_same_run(step, fused)


def test_types_whose_deciders_exist_are_played_without_a_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cooperators that imitate a defector decide as the defectors' group does (same spec, same
    # policy): the loop gives them that decider itself and records the type after the call, so no
    # call stops for a new type; the types recorded and the deciders are stepping's (_assert_same_run).
    why: list[int] = []
    real = spatial_kernel._play

    def stops(*args: Any) -> Any:
        got = real(*args)
        why.append(int(args[-1][0]))
        return got

    monkeypatch.setattr(spatial_kernel, "_play", stops)
    step, fused = _pair(CASES["chaos"], 0)
    assert why and spatial_kernel.NEW_TYPE not in why
    assert len(fused.evolution._deciders) > 2  # types were made after the start
    _assert_same_run(step, fused)


def test_imitation_state_made_at_build_is_used_while_current(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first stretch's imitation state (type counts, deciders per type) is made at build;
    # the run uses it as long as the traits it was made from still hold.
    over = CASES["chaos"]
    made: list[int] = []
    real = spatial_kernel._new_evolving

    def counting(*args: Any) -> Any:
        made.append(1)
        return real(*args)

    monkeypatch.setattr(spatial_kernel, "_new_evolving", counting)
    built = SpecModel(load_scenario("spatial-pd", over), 4)
    assert built.env._ready is not None and made == [1]
    built.run()
    assert made == [1]  # nothing made again in the run
    step, fused = _pair(over, 4)
    _assert_same_run(step, fused)


def test_traits_changed_after_build_are_gathered_again() -> None:
    # Traits changed between build and run (deciders left as they were: no new type to give the
    # change away): the state made at build is stale and the run must imitate from the model's
    # traits, as stepping does.
    def copy_traits(model: SpecModel) -> None:
        evo = model.evolution
        assert evo is not None
        col = evo.columns[0]
        evo.traits[:7, col] = evo.traits[-1, col]

    _changed_after_build(copy_traits)
