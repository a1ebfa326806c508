"""Public goods: neighbourhood payoffs by hand, the sanction check, pledges under specs."""

from __future__ import annotations

import numpy as np
import pytest

from agents.chain import Binding
from scenarios.public_goods import (
    GIVE,
    SANCTION,
    PublicGoodsObs,
    neighbourhood_payoffs,
    punishes_breakers,
)
from sim.runs.run import run

LINE = np.array([[0, 1], [1, 2]])  # 0 - 1 - 2: groups {0,1}, {0,1,2}, {1,2}
ALIVE = np.ones(3, dtype=bool)


@pytest.mark.parametrize("x,expected", [
    # r=3, cost=1. Nobody gives: nothing.
    ((0, 0, 0), (0.0, 0.0, 0.0)),
    # All give: shares 3*2/2=3, 3*3/3=3, 3; agent 0 is in 2 groups (6 - 2), agent 1 in 3 (9 - 3).
    ((1, 1, 1), (4.0, 6.0, 4.0)),
    # Only the centre gives: shares 1.5, 1, 1.5; it pays 3.
    ((0, 1, 0), (2.5, 1.0, 2.5)),
    # Only agent 0 gives: shares 1.5 ({0,1}), 1 ({0,1,2}), 0; it pays 2.
    ((1, 0, 0), (0.5, 2.5, 1.0)),
])
def test_neighbourhood_payoffs(x: tuple, expected: tuple) -> None:
    got = neighbourhood_payoffs(np.array(x, dtype=float), LINE, 3.0, 1.0, ALIVE)
    assert got.tolist() == pytest.approx(list(expected))


def test_isolated_agent_plays_alone() -> None:
    got = neighbourhood_payoffs(np.array([1.0]), np.zeros((0, 2), dtype=int), 3.0, 1.0, np.ones(1, dtype=bool))
    assert got.tolist() == pytest.approx([2.0])


@pytest.mark.parametrize("broke,act,expected", [
    (1, "punish", True), (1, "spare", False), (0, "spare", None),
])
def test_punishes_breakers(broke: int, act: str, expected: bool | None) -> None:
    assert punishes_breakers(PublicGoodsObs(10, 0, broke), SANCTION[SANCTION.index_of(act)]) is expected


FREE_RIDE = tuple(GIVE.index_of(n) for n in ("pledge_defect", "defect", "contribute", "pledge_contribute"))


@pytest.mark.parametrize("spec,chosen", [
    ("empty", "pledge_defect"),      # unbound: pledge and keep the money
    ("platform", "defect"),          # a pledge is a promise: free-ride openly
    ("pledge-keeper", "contribute"),  # contributing by default; no pledge needed
])
def test_free_rider_under_spec(library, spec: str, chosen: str) -> None:
    d = Binding(library.get(spec)).decide(PublicGoodsObs(20, 0, 0), GIVE, FREE_RIDE)
    assert GIVE[d.act].name == chosen


@pytest.mark.parametrize("sanctions", [False, True])
def test_sanctions_phase(sanctions: bool) -> None:
    m = run("public-goods", seed=1, set={"steps": 4, "environment.sanctions": sanctions}).metrics
    assert (m.get("punishments", 0.0) > 0) is sanctions
    assert m["pledges_broken"] > 0  # the unbound breakers
    assert 0.0 < m["contribution_rate"] < 1.0


# The shipped breakers learn (Roth-Erev); the counterfactual gives them the old fixed order.
FIXED_BREAKERS = {"groups.breakers.policy": "prefers",
                  "groups.breakers.params": {"order": ["pledge_defect", "defect", "contribute", "pledge_contribute"]}}


def _sanction_effect(extra: dict) -> np.ndarray:
    """Pledges broken without sanctions minus with, per seed (20 paired seeds, 15 steps)."""
    def broken(sanctions: bool) -> np.ndarray:
        return np.array([run("public-goods", seed=s, set={"steps": 15, "environment.sanctions": sanctions, **extra})
                         .metrics["pledges_broken"] for s in range(20)])
    return broken(False) - broken(True)


def test_learning_breakers_respond_to_fines_and_fixed_ones_do_not() -> None:
    """Fined breakers learn to stop breaking pledges (95% interval of the paired difference
    excludes 0); breakers who cannot learn break as many with sanctions as without."""
    learned = _sanction_effect({})
    half = 1.96 * learned.std(ddof=1) / np.sqrt(len(learned))
    assert learned.mean() - half > 0
    assert (_sanction_effect(FIXED_BREAKERS) == 0).all()


def test_contributions_rise_with_r_through_learning() -> None:
    """README finding: contribution_rate rises with r (paired over 20 seeds, r = 5 against 1.5):
    Roth-Erev breakers learn that giving pays more when the pot multiplies more. Counterfactual:
    breakers who cannot learn give the same at any r."""
    def rate(r: float, extra: dict, seeds: range = range(20)) -> np.ndarray:
        return np.array([run("public-goods", seed=s, set={"steps": 15, "environment.r": r, **extra})
                         .metrics["contribution_rate"] for s in seeds])

    diff = rate(5.0, {}) - rate(1.5, {})
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() - half > 0
    assert (rate(5.0, FIXED_BREAKERS, range(5)) == rate(1.5, FIXED_BREAKERS, range(5))).all()
