"""The README's commons and commons-newcomer findings: 95% intervals over 20 seeds, counterfactuals.

Villagers are drawn per agent (greed, reciprocity, caution) and regrowth is
random, so the fate of the fishery varies by seed; GovSim's deterministic
arithmetic is checked by hand in tests/test_env_commons.py and
tests/test_commons_noise.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from agents.errors import SpecboundError
from agents.policies import make_policy
from scenarios.commons import TAKES, CommonsObs
from tests.findings import SEEDS, arm, excludes_zero

FEW = SEEDS[:5]
BOUND, FREE = ("groups.villagers.spec", "sustainable"), ("groups.villagers.spec", "empty")


@pytest.mark.parametrize(("params", "stock", "overused", "take"), [
    ({"greed": 1.0}, 10, 0, "take_1"),
    ({"greed": 0.6}, 10, 0, "take_half"),                               # the nearest multiple
    ({"greed": 1.3}, 10, 0, "take_1_5"),
    ({"greed": 1.25}, 10, 0, "take_1"),                                 # a tie: the smaller
    ({"greed": 1.0, "reciprocity": 0.5}, 10, 1, "take_2"),              # half-way to the most (3)
    ({"greed": 1.0, "reciprocity": 1.0}, 10, 1, "take_3"),              # GovSim's conditional cooperator
    ({"greed": 1.0, "reciprocity": 1.0}, 10, 0, "take_1"),              # nobody over-used: nothing to follow
    ({"greed": 2.0, "caution": 0.5}, 4, 0, "take_1"),                   # the stock is low: its share at most
    ({"greed": 2.0, "caution": 0.5}, 5, 0, "take_2"),
    ({"greed": 0.4, "caution": 0.5}, 2, 0, "take_half"),                # restraint never raises a take
])
def test_harvester_takes(params: dict, stock: int, overused: int, take: str) -> None:
    pol = make_policy("harvester", params)
    assert TAKES[pol.rank(CommonsObs(stock, overused, 3, 0), TAKES)[0]].name == take


@pytest.mark.parametrize(("params", "needle"), [
    ({"greed": -0.5}, "greed must not be negative"),
    ({"reciprocity": 1.5}, "reciprocity must be between 0 and 1"),
    ({"caution": -0.1}, "caution must be between 0 and 1"),
])
def test_harvester_refuses_bad_parameters(params: dict, needle: str) -> None:
    with pytest.raises(SpecboundError, match=needle):
        make_policy("harvester", params)


def test_unbound_villagers_of_differing_greed_collapse_the_commons() -> None:
    """The greedy among unbound villagers over-fish, the touchy follow, and in some seeds the
    stock collapses; bound by the sustainable cap, it survives every seed. Counterfactual:
    villagers who want no more than their share and follow nobody are the same either way."""
    base = (("steps", 30),)
    diff = arm("commons", (*base, BOUND))["survival_time"] - arm("commons", (*base, FREE))["survival_time"]
    assert excludes_zero(diff) and diff.mean() > 0
    assert 0 < arm("commons", (*base, FREE))["survival"].mean() < 1   # it depends on who was drawn
    modest = (*base, ("groups.villagers.params.greed", 1.0), ("groups.villagers.params.reciprocity", 0.0))
    same = arm("commons", (*modest, BOUND), FEW)["survival_time"] - arm("commons", (*modest, FREE), FEW)["survival_time"]
    assert np.all(same == 0)


def test_unbound_villagers_follow_the_greedy_newcomer_down() -> None:
    """The newcomer over-fishes from step 20; villagers bound to their share cannot follow, unbound
    ones follow by their own reciprocity and the stock collapses sooner. Counterfactual: villagers
    who follow nobody (reciprocity 0) collapse it at the same step whatever their spec."""
    base = (("steps", 40),)
    step = "survival_time"  # the step before the collapse (the run's length if none)
    diff = arm("commons-newcomer", (*base, BOUND))[step] - arm("commons-newcomer", (*base, FREE))[step]
    assert excludes_zero(diff) and diff.mean() > 0
    aloof = (*base, ("groups.villagers.params.reciprocity", 0.0))
    same = arm("commons-newcomer", (*aloof, BOUND), FEW)[step] - arm("commons-newcomer", (*aloof, FREE), FEW)[step]
    assert np.all(same == 0)
