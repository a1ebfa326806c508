"""Heterogeneous populations: policy parameters drawn per agent, validated at load time."""

from __future__ import annotations

import numpy as np
import pytest

from agents.errors import ScenarioError
from sim.model import SpecModel
from sim.population import draw_population, parse_draw
from sim.scenario import load_scenario

KEY = "groups.sellers.params.threshold"


@pytest.mark.parametrize(("value", "message"), [
    ({"dist": "gamma"}, "unknown distribution 'gamma'; allowed: beta, normal, uniform"),
    ({"dist": "beta", "a": 2}, "dist 'beta' needs 'b'"),
    ({"dist": "beta", "a": 0, "b": 2}, "beta needs a > 0 and b > 0"),
    ({"dist": "uniform", "low": 1, "high": 0}, "uniform needs high >= low"),
    ({"dist": "normal", "mean": 0.5, "sd": -1}, "sd must not be negative"),
    ({"dist": "normal", "mean": 0.5, "sd": 0.1, "lo": 0}, "unknown key 'lo' for dist 'normal'"),
    ({"dist": "uniform", "low": "a", "high": 1}, "low must be a number"),
])
def test_bad_distributions_are_refused_at_load_time(value, message) -> None:
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(")) as err:
        load_scenario("negotiation-honest-first", {KEY: value})
    assert KEY in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("value", "lo", "hi", "mean"), [
    ({"dist": "beta", "a": 2, "b": 5}, 0.0, 1.0, 2 / 7),
    ({"dist": "uniform", "low": 0.2, "high": 0.6}, 0.2, 0.6, 0.4),
    ({"dist": "normal", "mean": 0.5, "sd": 0.5, "low": 0.3, "high": 0.9}, 0.3, 0.9, None),
])
def test_draws_stay_in_their_support(value, lo, hi, mean) -> None:
    draw = parse_draw(value, "x")
    x = draw.sample(np.random.default_rng(0), 4000)
    assert lo <= x.min() and x.max() <= hi
    if mean is not None:
        assert abs(x.mean() - mean) < 0.02


def test_agents_with_equal_draws_share_a_policy() -> None:
    sets, idx = draw_population({"threshold": {"dist": "uniform", "low": 0, "high": 1}, "order": ["a"]},
                                5000, np.random.default_rng(1), "x")
    assert len(sets) <= 101  # two decimals
    assert all(s["order"] == ["a"] for s in sets)
    assert idx.max() == len(sets) - 1


def test_the_population_is_seeded_and_varies_by_seed() -> None:
    sc = load_scenario("negotiation-honest-first", {KEY: {"dist": "beta", "a": 2, "b": 5}})
    a, b, c = SpecModel(sc, seed=1), SpecModel(sc, seed=1), SpecModel(sc, seed=2)
    thr = [[a.policy_of(i).threshold for i in range(a.n)] for a in (a, b, c)]
    assert thr[0] == thr[1] != thr[2]
    assert len(set(thr[0][8:])) > 1  # sellers differ from one another
    assert set(thr[0][:8]) == {0.45}  # buyers' threshold is one value, as written


def test_plain_groups_draw_nothing() -> None:
    """No distribution, no population stream: every other random stream is as before."""
    m = SpecModel(load_scenario("ipd-classic"), seed=1)
    assert m._rng_pop is None and not m.variant_of.any()


def test_an_empty_heterogeneous_group_draws_nothing() -> None:
    sc = load_scenario("negotiation-honest-first", {KEY: {"dist": "beta", "a": 2, "b": 5}, "groups.sellers.count": 0})
    m = SpecModel(sc, seed=1)
    m.run(2)
    assert m.n == 8
