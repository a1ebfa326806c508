"""The plain Mesa peers of ``bench/every_scenario.py`` play the games they claim to."""

from __future__ import annotations

import numpy as np
import pytest

from bench.peer_mesa_games import Commons, IpdGame, SpatialPD
from bench.peer_spatial import play_spatial

PD = (3.0, 0.0, 5.0, 1.0)


@pytest.mark.parametrize(
    ("kinds", "steps", "payoffs"),
    [
        (["tit_for_tat", "defector"], 3, [2.0, 7.0]),  # S then P, P; T then P, P
        (["cooperator", "cooperator"], 4, [12.0, 12.0]),
        (["alternator", "cooperator"], 4, [16.0, 6.0]),  # C D C D against C: R T R T
        (["grudger", "suspicious_tit_for_tat"], 3, [6.0, 6.0]),  # C D D / D C D: S T P / T S P
        (["win_stay_lose_shift", "defector"], 4, [2.0, 12.0]),  # C D C D: S P S P
    ],
)
def test_ipd_hand_computed(kinds: list[str], steps: int, payoffs: list[float]) -> None:
    game = IpdGame(kinds, np.array([[0, 1]]), PD).play(steps)
    assert game.payoffs().tolist() == payoffs
    assert game.decisions == [2] * steps


def test_ipd_matches_specbound_round_robin() -> None:
    """Every classic strategy, every pair, 20 rounds: the same totals as specbound's ipd-classic."""
    from sim.runs.run import run_model

    model = run_model("ipd-classic", seed=0, set={"steps": 20})
    kinds = [model.spec_scenario.groups[g].policy for g in model.group_of.tolist()]
    game = IpdGame(kinds, model.edges, PD).play(20)
    assert np.array_equal(np.rint(game.payoffs()), np.rint(model.payoff))


def test_spatial_matches_numpy_kernel() -> None:
    board = np.random.default_rng(3).random((12, 12)) > 0.2
    want, _ = play_spatial(board, 1.85, 6)
    assert np.array_equal(SpatialPD(board, 1.85).play(6).board(), want)


def test_commons_newcomer_joins_on_its_step() -> None:
    game = Commons(["conditional"] * 3, 100.0, 2.0, 0.0, 0.05, joins=[(2, "greedy", 1)]).play(3)
    assert game.decisions == [3, 4, 4]


def test_injection_peer_does_the_work_specbound_does() -> None:
    """The Mesa injection model observes every worker pair specbound observes, hears the
    delegate's invoices and overreaches as well as attacks, and checks some claims."""
    from bench.every_scenario import PLANS, _Start, overrides
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    model = SpecModel(load_scenario("injection", overrides("injection", 300, 3, False)), seed=0)
    lay = model.env.kernel_layout(model)
    game = PLANS["injection"].peer(_Start(model, model.edges.copy()))
    assert 2 * len(game.colleagues) == int((lay.watch >= 0).sum()) > 0
    game.play(3)
    heard = {key for h in game.heard.values() for key in h}
    treasurer = game.treasurer.idx
    assert {(treasurer, "pay"), (treasurer, "transfer"), (-1, "transfer")} <= heard
    assert any(s not in (treasurer, -1) for s, _ in heard)  # an attacker's message
    checked = sum(p.kept.get(treasurer, 0.0) + p.broken.get(treasurer, 0.0) for p in game.workers)
    assert 0 < checked < sum(1 for h in game.heard.values() for s, _ in h if s == treasurer) * 3
