"""public-goods-fg: Fehr and Gächter's (2000) decay without punishment and rise with it.

The arithmetic (payoffs, groups, the contributor's rule) is checked by hand;
the findings statistically over 20 seeds of a small population (8 agents,
two groups of four), each with a counterfactual that removes its mechanism.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.errors import ScenarioError
from agents.policies import make_policy
from scenarios.public_goods_fg import (
    GIVE,
    SANCTION,
    PublicGoodsFGObs,
    draw_groups,
    group_payoffs,
    no_antisocial_punishment,
    no_peer_fines,
)
from sim.runs.run import run
from sim.scenario import load_scenario

SEEDS = range(20)
# Six conditional cooperators and two free riders: two groups of four.
SMALL = {"groups.cooperators.count": 6, "groups.free_riders.count": 2}
# No adaptation: every agent gives its first-round contribution for ever.
FIXED = {f"groups.{g}.params.{p}": 0.0 for g in ("cooperators", "free_riders") for p in ("weight", "fine_response")}


def obs(own: int = -1, others: int = 0, fined: int = 0, watched: int = 0, sanctions: int = 0,
        shortfall: int = 0, coin: int = 0) -> PublicGoodsFGObs:
    return PublicGoodsFGObs(own, others, fined, watched, sanctions, shortfall, coin)


@pytest.mark.parametrize(("give", "group", "expected"), [
    # F&G: 20 - c + 0.4 x the group's pot.
    ((0, 0, 0, 0), (0, 0, 0, 0), (20, 20, 20, 20)),
    ((20, 20, 20, 20), (0, 0, 0, 0), (32, 32, 32, 32)),     # 0.4 x 80
    ((20, 0, 0, 0), (0, 0, 0, 0), (8, 28, 28, 28)),         # the lone giver loses 12
    ((10, 10, 0, 0), (0, 0, 1, 1), (18, 18, 20, 20)),       # two groups of two
])
def test_group_payoffs_by_hand(give, group, expected) -> None:
    got = group_payoffs(np.array(give, dtype=float), np.array(group), 20.0, 0.4)
    assert got.tolist() == pytest.approx(list(expected))


@pytest.mark.parametrize(("n", "size", "groups"), [(8, 4, 2), (10, 4, 3), (4, 4, 1)])
def test_draw_groups_partitions(n: int, size: int, groups: int) -> None:
    g = draw_groups(n, size, np.random.default_rng(0))
    counts = np.bincount(g)
    assert len(counts) == groups and counts.max() == size and counts.sum() == n


@pytest.mark.parametrize(("params", "o", "gives"), [
    ({"baseline": 0.5}, obs(), 10),                                  # first round: the baseline
    ({"baseline": 0.5, "deterrence": 0.2}, obs(sanctions=1), 14),    # punishment looms
    ({"weight": 1.0, "slope": 0.5}, obs(own=10, others=10), 5),      # half of what others gave
    ({"weight": 0.5, "slope": 1.0}, obs(own=10, others=16), 13),     # half-way to the others
    ({"weight": 0.5, "slope": 0.5}, obs(own=10, others=10, watched=1), 10),  # punishers about: hold
    ({"weight": 0.0, "fine_response": 2.0}, obs(own=4, fined=3), 10),  # 3 points: +6
    ({"weight": 0.0, "fine_response": 0.0}, obs(own=7, others=20, fined=5), 7),  # fixed: no change
    ({"weight": 1.0, "slope": 0.5}, obs(own=0, others=5, coin=0), 3),   # 2.5: coin 0 rounds up
    ({"weight": 1.0, "slope": 0.5}, obs(own=0, others=5, coin=15), 2),  # coin 15 rounds down
])
def test_contributor_gives(params, o, gives) -> None:
    pol = make_policy("conditional_contributor", params)
    assert GIVE[pol.rank(o, GIVE)[0]].gives * 20 == gives


@pytest.mark.parametrize(("severity", "shortfall", "act"), [
    (1.0, 0, "spare"), (1.0, 1, "spare"), (1.0, 2, "punish_1"), (1.0, 6, "punish_2"), (1.5, 8, "punish_4"),
    (3.0, 20, "punish_4"), (0.0, 20, "spare"),
])
def test_contributor_punishes_shortfall(severity, shortfall, act) -> None:
    pol = make_policy("conditional_contributor", {"severity": severity})
    assert SANCTION[pol.rank(obs(shortfall=shortfall), SANCTION)[0]].name == act


@pytest.mark.parametrize(("shortfall", "act", "antisocial_ok", "fines_ok"), [
    (0, "spare", True, True), (0, "punish_1", False, False), (3, "punish_2", True, False),
])
def test_punishment_checks(shortfall, act, antisocial_ok, fines_ok) -> None:
    a = SANCTION[SANCTION.index_of(act)]
    assert no_antisocial_punishment(obs(shortfall=shortfall), a) is antisocial_ok
    assert no_peer_fines(obs(shortfall=shortfall), a) is fines_ok
    assert no_peer_fines(obs(), GIVE[3]) is None  # contribution decisions: not applicable


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("environment.design", "mixed", "design must be one of partner, stranger"),
    ("environment.mpcr", 1.0, "mpcr must be between 0 and 1"),
    ("environment.group_size", 1, "group_size must be at least 2"),
    ("environment.fine", -1.0, "fine must not be negative"),
    ("groups.cooperators.params.weight", 1.5, "weight must be between 0 and 1"),
])
def test_bad_input_is_one_line(key, value, needle) -> None:
    with pytest.raises(Exception) as e:
        load_scenario("public-goods-fg", {key: value})
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ScenarioError) or "policy" in str(e.value)


def _runs(**overrides: object) -> tuple[np.ndarray, np.ndarray]:
    """First- and last-round contribution (share of the endowment) per seed."""
    ms = [run("public-goods-fg", seed=s, set={**SMALL, **overrides}).metrics for s in SEEDS]
    return np.array([m["contribution.first"] for m in ms]), np.array([m["contribution.last"] for m in ms])


def _ci(x: np.ndarray) -> tuple[float, float]:
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


@pytest.fixture(scope="module")
def finds() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "none": _runs(**{"environment.punishment": False}),
        "punish": _runs(**{"environment.punishment": True}),
        "none_fixed": _runs(**{"environment.punishment": False}, **FIXED),
        "punish_fixed": _runs(**{"environment.punishment": True}, **FIXED),
        "forbidden": _runs(**{"environment.punishment": True, "groups.cooperators.spec": "no-fines",
                              "groups.free_riders.spec": "no-fines"}),
    }


def test_contributions_decay_without_punishment_and_not_when_fixed(finds) -> None:
    first, last = finds["none"]
    assert _ci(last - first)[1] < 0                     # decay: the interval excludes no change
    assert last.mean() < 0.25           # towards F&G's 10-20% of the endowment
    fixed = finds["none_fixed"][1] - finds["none_fixed"][0]
    assert abs(fixed.mean()) < abs((last - first).mean()) / 5  # no adaptation: no decay


def test_punishment_raises_contributions_and_not_when_fixed(finds) -> None:
    diff = finds["punish"][1] - finds["none"][1]   # last round, paired seeds
    low, _ = _ci(diff)
    assert low > 0
    rise = finds["punish"][1] - finds["punish"][0]
    assert _ci(rise)[0] > 0             # with punishment contributions rise over the rounds
    fixed_rise = finds["punish_fixed"][1] - finds["punish_fixed"][0]
    assert abs(fixed_rise.mean()) < rise.mean() / 5  # agents who do not adapt do not rise


def test_a_spec_that_forbids_fines_undoes_punishment(finds) -> None:
    """Same game, punishment phase on, but every fine overridden: contributions decay again."""
    first, last = finds["forbidden"]
    assert _ci(last - first)[1] < 0
    assert _ci(finds["punish"][1] - last)[0] > 0


def test_seeds_matter(finds) -> None:
    for _, last in finds.values():
        assert len(set(last.tolist())) > 1
    a = run("public-goods-fg", seed=0, set=SMALL).metrics
    b = run("public-goods-fg", seed=1, set=SMALL).metrics
    assert a != b


def test_punishment_costs_one_to_three() -> None:
    r = run("public-goods-fg", seed=3, set=SMALL)
    m = r.metrics
    assert m["punishment_points"] > 0
    assert m["fines"] == 3 * m["punishment_points"]
    off = run("public-goods-fg", seed=3, set={**SMALL, "environment.punishment": False}).metrics
    assert off.get("punishment_points", 0.0) == 0.0
