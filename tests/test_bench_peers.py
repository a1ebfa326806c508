"""The benchmark peers play the game they claim to, and the harness refuses wrong answers."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from agents.errors import SpecboundError
from bench.game import OPPORTUNIST, RECIPROCAL, GameOutcome
from bench.harness import Mismatch, Result, at_least, at_most, compare, format_table, write_results
from bench.peer_mesa import play_mesa
from bench.peer_numba import play_numba
from bench.peer_numpy import play_numpy
from bench.scaling import fit_exponent

GOLDENS = Path(__file__).parent / "data" / "axelrod_goldens.json"
R_, O_ = RECIPROCAL, OPPORTUNIST


@pytest.mark.parametrize("play", [play_mesa, play_numpy, play_numba], ids=["mesa", "numpy", "numba"])
@pytest.mark.parametrize(
    ("edges", "groups", "steps", "payoffs", "cooperations"),
    [
        # two reciprocals trust each other from the start (0.5 >= 0.5): R every step
        ([(0, 1)], [R_, R_], 3, [9, 9], 6),
        # reciprocal is exploited once (S vs T), then both defect (P, P)
        ([(0, 1)], [R_, O_], 3, [2, 7], 1),
        ([(0, 1)], [O_, O_], 4, [4, 4], 0),
        # a path R-O-R: the opportunist exploits both reciprocals in step 1
        ([(0, 1), (1, 2)], [R_, O_, R_], 2, [1, 12, 1], 2),
        ([(0, 1)], [R_, R_], 0, [0, 0], 0),
        # an isolated agent earns nothing
        ([(0, 1)], [R_, R_, O_], 1, [3, 3, 0], 2),
    ],
)
def test_hand_computed_games(play, edges, groups, steps, payoffs, cooperations) -> None:
    out = play(np.array(edges), np.array(groups), steps)
    assert out.payoffs.tolist() == payoffs
    assert out.cooperations == cooperations


@pytest.mark.parametrize(
    ("n", "k", "steps", "seed"), [(10, 2, 5, 0), (60, 4, 12, 1), (150, 6, 20, 2), (40, 4, 30, 3)]
)
def test_mesa_and_numpy_agree(n: int, k: int, steps: int, seed: int) -> None:
    graph = nx.watts_strogatz_graph(n, k, 0.1, seed=seed)
    edges = np.array(graph.edges())
    groups = np.random.default_rng(seed).integers(0, 2, n)
    mesa_out, numpy_out = play_mesa(edges, groups, steps), play_numpy(edges, groups, steps)
    assert mesa_out.same_as(numpy_out)
    assert play_numba(edges, groups, steps).same_as(numpy_out)
    assert mesa_out.cooperations > 0


@pytest.mark.parametrize(
    ("edges", "groups", "steps", "fragment"),
    [
        ([(0, 0)], [R_], 1, "self-loops"),
        ([(0, 1), (1, 0)], [R_, R_], 1, "appears twice"),
        ([(0, 2)], [R_, R_], 1, "endpoints"),
        ([(0, 1)], [R_, 7], 1, "group code 7"),
        ([(0, 1, 2)], [R_, R_, R_], 1, "shape"),
        ([(0, 1)], [R_, R_], -1, "steps"),
    ],
)
@pytest.mark.parametrize("play", [play_mesa, play_numpy, play_numba], ids=["mesa", "numpy", "numba"])
def test_bad_game_inputs_are_refused(play, edges, groups, steps, fragment) -> None:
    with pytest.raises(SpecboundError, match=fragment) as err:
        play(np.array(edges), np.array(groups), steps)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("sizes", "times", "exponent"),
    [
        ([100, 1000, 10000], [1e-3, 1e-2, 1e-1], 1.0),
        ([10, 100], [1.0, 100.0], 2.0),
        ([1, 2, 4, 8], [3.0, 3.0, 3.0, 3.0], 0.0),
    ],
)
def test_fit_exponent(sizes, times, exponent) -> None:
    assert fit_exponent(np.array(sizes), np.array(times)) == pytest.approx(exponent)


@pytest.mark.parametrize(("sizes", "times"), [([10], [1.0]), ([10, 100], [1.0, 0.0])])
def test_fit_exponent_refuses_degenerate_data(sizes, times) -> None:
    with pytest.raises(ValueError):
        fit_exponent(np.array(sizes), np.array(times))


def test_compare_refuses_to_time_different_answers() -> None:
    calls: list[str] = []

    def ours() -> GameOutcome:
        calls.append("ours")
        return GameOutcome(np.array([1, 2]), 0)

    def peer() -> GameOutcome:
        calls.append("peer")
        return GameOutcome(np.array([1, 3]), 0)

    with pytest.raises(Mismatch):
        compare("x", ours, peer, GameOutcome.same_as, repeat=3)
    assert calls == ["ours", "peer"]  # warm-up only: nothing was timed


def test_compare_times_both_sides_after_the_check() -> None:
    counts = {"ours": 0, "peer": 0}

    def side(name: str):
        def call() -> int:
            counts[name] += 1
            return 42

        return call

    t_ours, t_peer = compare("x", side("ours"), side("peer"), int.__eq__, repeat=3)
    assert counts == {"ours": 4, "peer": 4}
    assert t_ours >= 0 and t_peer >= 0
    compare("x", side("ours"), side("peer"), int.__eq__, repeat=3, peer_repeat=1)
    assert counts == {"ours": 8, "peer": 6}  # a slow peer: warm-up and one timed call


def test_compare_can_alternate_the_sides() -> None:
    calls: list[str] = []

    def side(name: str):
        def call() -> int:
            calls.append(name)
            return 42

        return call

    compare("x", side("ours"), side("peer"), int.__eq__, repeat=3, alternate=True)
    assert calls == ["ours", "peer"] * 4  # the warm-up pair, then three timed pairs in turn
    calls.clear()
    compare("x", side("ours"), side("peer"), int.__eq__, repeat=3, peer_repeat=1, alternate=True)
    assert calls == ["ours", "peer", "ours", "peer", "ours", "ours"]


@pytest.mark.parametrize(
    ("row", "ok", "ratio"),
    [
        (at_least("a", 30.0, 2.0, "p", "u/s", 10.0), True, 15.0),
        (at_least("a", 10.0, 2.0, "p", "u/s", 10.0), False, 5.0),
        (at_least("a", 1.0, 2.0, "p", "u/s", None), True, 0.5),
        (at_most("a", 0.5, 0.6, "s"), True, 1.2),
        (at_most("a", 0.75, 0.6, "s"), False, 0.8),
    ],
)
def test_result_rows(row: Result, ok: bool, ratio: float) -> None:
    assert row.ok is ok
    assert row.ratio == pytest.approx(ratio)


def test_results_file_and_table(tmp_path: Path) -> None:
    rows = [at_least("ipd", 30.0, 2.0, "axelrod", "turns/s", 10.0), at_most("llm", 0.0, 0.6, "s")]
    path = write_results(rows, tmp_path / "results.json")
    data = json.loads(path.read_text())
    keys = {"name", "ours", "peer", "peer_name", "unit", "ratio", "target", "ok"}
    assert all(keys <= set(row) for row in data)
    assert [row["ratio"] for row in data] == [15.0, None]  # infinite ratio written as null
    table = format_table(rows).splitlines()
    assert len(table) == 4 and table[2].startswith("| ipd | 30 | 2 | axelrod")


def test_axelrod_peer_reproduces_the_goldens() -> None:
    pytest.importorskip("axelrod", reason="the bench extra is not installed")
    from bench.peer_axelrod import play_round_robin

    golden = json.loads(GOLDENS.read_text())["tournament"]["totals_distinct_opponents"]
    played = play_round_robin(copies=1, turns=200)
    assert {k: v[0] for k, v in played.by_policy().items()} == golden
    assert played.turns == 66 * 200
