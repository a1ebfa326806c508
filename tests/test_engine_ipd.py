"""The ipd environment and the classic strategies against axelrod 4.13.0's own numbers.

The goldens in tests/data/axelrod_goldens.json were computed with axelrod 4.13.0
by tools/axelrod_goldens.py; the library itself is not a dependency.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.model import SpecModel
from sim.runs.run import run
from sim.scenario import load_scenario_text

GOLD = json.loads((Path(__file__).parent / "data" / "axelrod_goldens.json").read_text())
NAMES = sorted(GOLD["strategies"])


def duel_text(a: str, b: str, steps: int, extra: str = "") -> str:
    return f"""
[scenario]
id = "duel"
environment = "ipd"
steps = {steps}
[network]
kind = "complete"
[groups.first]
count = 1
policy = "{a}"
spec = "empty"
[groups.second]
count = 1
policy = "{b}"
spec = "empty"
{extra}
"""


def duel(a: str, b: str, turns: int) -> tuple[tuple[float, float], tuple[str, str]]:
    model = SpecModel(load_scenario_text(duel_text(a, b, turns)), seed=0)
    moves: tuple[list[str], list[str]] = ([], [])
    for _ in range(turns):
        model.step()
        for side, (i, j) in enumerate(((0, 1), (1, 0))):
            row = model.pairs.index(np.array([i]), np.array([j]))[0]
            moves[side].append("C" if model.pairs["last"][row] == 1 else "D")
    return (model.payoff[0], model.payoff[1]), ("".join(moves[0]), "".join(moves[1]))


@pytest.mark.parametrize(
    ("a", "b", "turns", "expected"),
    [
        ("tit_for_tat", "defector", 10, (9, 14)),
        ("tit_for_tat", "alternator", 10, (23, 28)),
        ("cooperator", "defector", 200, (0, 1000)),
        ("win_stay_lose_shift", "alternator", 200, (450, 450)),
    ],
)
def test_issue_goldens(a: str, b: str, turns: int, expected: tuple[int, int]) -> None:
    assert duel(a, b, turns)[0] == expected


@pytest.mark.parametrize("a", NAMES)
def test_versus_every_opponent_matches_axelrod(a: str) -> None:
    for b in NAMES:
        gold = GOLD["matches"][a][b]
        scores, moves = duel(a, b, 10)
        assert scores == tuple(gold["score_10"]), (a, b)
        assert moves == tuple(gold["moves_10"]), (a, b)
        assert duel(a, b, 200)[0] == tuple(gold["score_200"]), (a, b)


def test_ipd_classic_tournament_totals_equal_axelrod() -> None:
    result = run("ipd-classic", seed=3)
    totals = {a["group"]: a["payoff"] for a in result.agents}
    assert totals == GOLD["tournament"]["totals_distinct_opponents"]


@pytest.mark.parametrize(
    ("moves", "payoffs"),
    [  # (first, second) cooperates? -> hand-computed R, S, T, P = 3, 0, 5, 1 (and 4, 0, 7, 2)
        (("cooperator", "cooperator"), (3, 3)),
        (("cooperator", "defector"), (0, 5)),
        (("defector", "cooperator"), (5, 0)),
        (("defector", "defector"), (1, 1)),
    ],
)
def test_payoff_table(moves: tuple[str, str], payoffs: tuple[int, int]) -> None:
    assert duel(*moves, 1)[0] == payoffs
    text = duel_text(*moves, 1, "[environment]\nR = 4\nS = 0\nT = 7\nP = 2\n")
    model = SpecModel(load_scenario_text(text), seed=0)
    model.step()
    table = {(3, 3): (4, 4), (0, 5): (0, 7), (5, 0): (7, 0), (1, 1): (2, 2)}
    assert tuple(model.payoff) == table[payoffs]


def test_noise_flips_moves_reproducibly() -> None:
    text = duel_text("cooperator", "cooperator", 400, "[environment]\nnoise = 0.1\n")
    a = SpecModel(load_scenario_text(text), seed=5)
    b = SpecModel(load_scenario_text(text), seed=5)
    a.run()
    b.run()
    assert tuple(a.payoff) == tuple(b.payoff)
    # Two cooperators score 3 per round without noise; 10% noise must cost them.
    assert a.payoff.sum() < 2 * 3 * 400
    assert a.payoff.sum() > 2 * 3 * 400 * 0.6


def test_random_policy_is_seeded_and_near_its_rate() -> None:
    text = duel_text("random", "cooperator", 1000)
    runs = [SpecModel(load_scenario_text(text), seed=s) for s in (1, 1, 2)]
    for m in runs:
        m.run()
    assert runs[0].payoff[0] == runs[1].payoff[0]
    assert runs[0].payoff[0] != runs[2].payoff[0]
    coop = runs[0].totals.counted["cooperative_moves"] - 1000  # the cooperator's 1000
    assert 440 < coop < 560


def test_promises_keep_opportunists_honest_under_platform() -> None:
    base = {"groups.reciprocal.count": 16, "groups.opportunists.count": 4, "steps": 30}
    bound = run("trust-network", seed=2, set=base)
    free = run("trust-network", seed=2, set={**base, "groups.opportunists.spec": "empty"})
    assert bound.metrics["deceptions"] == 0
    assert free.metrics["deceptions"] > 0
    # Detected betrayals cost more trust than open defection.
    assert free.metrics["trust_mean"] < bound.metrics["trust_mean"]
