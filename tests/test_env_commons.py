"""The ``commons`` environment: harvest arithmetic, collapse, survival, newcomers, metrics.

Every expected number below is worked out by hand from the rules in
scenarios/commons.py: with doubling, the sustainable share of each of n
agents is stock / (2 n); takes beyond the stock are scaled down in
proportion; what is left regrows x2 up to the capacity (100), unless it fell
below 5% of capacity, which is a collapse.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.checks import evaluate
from agents.errors import ScenarioError
from scenarios.commons import TAKES, CommonsObs, equality, harvest
from sim.runs.run import run
from sim.scenario import load_scenario
from sim.triggers import Trigger

# GovSim's arithmetic: regrowth without noise and villagers all alike, conditional cooperators
# (the shipped scenarios make regrowth random and draw each villager's appetite).
DET = {"environment.regrowth_sd": 0.0, "groups.villagers.policy": "conditional", "groups.villagers.params": {}}
# Five agents of one group, all greedy: the spec decides how much they may take.
GREEDY = {**DET, "groups.villagers.policy": "greedy", "groups.trawlers.count": 0}


@pytest.mark.parametrize(("stock", "multiples", "growth", "expected"), [
    (100.0, [1, 1, 1, 1, 1], 2.0, [10, 10, 10, 10, 10]),       # share 100/10 each
    (100.0, [3, 3, 3, 3, 3], 2.0, [20, 20, 20, 20, 20]),       # demand 150 > 100: scaled by 2/3
    (100.0, [1, 1, 1, 3, 3], 2.0, [10, 10, 10, 30, 30]),       # demand 90 fits
    (100.0, [0, 0, 0, 0, 2], 2.0, [0, 0, 0, 0, 20]),
    (50.0, [1.5, 1.5], 2.0, [18.75, 18.75]),                   # share 50/4 = 12.5
    (60.0, [2, 2, 2], 2.0, [20, 20, 20]),                      # demand exactly the stock
    (90.0, [1, 1, 1], 3.0, [20, 20, 20]),                      # growth 3: share 90 x 2/3 / 3
    (100.0, [0.5, 1], 2.0, [12.5, 25]),                        # share 100/4
])
def test_harvest_table(stock, multiples, growth, expected):
    got = harvest(stock, np.array(multiples, dtype=float), growth)
    assert got == pytest.approx(expected)
    assert got.sum() <= stock + 1e-9


@pytest.mark.parametrize(("payoffs", "expected"), [
    ([5, 5, 5], 1.0),
    ([0, 0, 1], 1.0 / 3.0),    # Gini 2/3
    ([1, 3], 0.75),            # Gini = |1-3| x 2 / (2 x 2^2 x 2) = 1/4
    ([0, 0, 0], 1.0),          # nothing earned: nobody is ahead
    ([0, 0, 0, 4], 0.25),      # Gini 3/4
])
def test_equality_table(payoffs, expected):
    assert equality(np.array(payoffs, dtype=float)) == pytest.approx(expected)


@pytest.mark.parametrize(("overrides", "collapse_step"), [
    # Greedy with no spec takes 3x: demand 1.5 x stock, the whole stock goes in step 1.
    ({"groups.villagers.spec": "empty"}, 1),
    # Capped at 2x: demand = stock, left 0 < 5 -> step 1.
    ({"specs.sustainable.principles.sustainable_take.params.share": 2.0}, 1),
    # Capped at 1.5x: each step leaves 1/4, regrown to 1/2 of the stock:
    # left 25 -> 50, 12.5 -> 25, 6.25 -> 12.5, then 3.125 < 5: collapse in step 4.
    ({"specs.sustainable.principles.sustainable_take.params.share": 1.5}, 4),
    # Same, threshold 10% of capacity: 6.25 < 10 already in step 3.
    ({"specs.sustainable.principles.sustainable_take.params.share": 1.5,
      "environment.collapse_below": 0.1}, 3),
    # Growth 3: the sustainable total is 2/3 of the stock; 1.5x of it is all of it -> step 1.
    ({"specs.sustainable.principles.sustainable_take.params.share": 1.5, "environment.growth": 3.0}, 1),
    # Capped at the sustainable share (1x): half is taken, half doubles back; never collapses.
    ({}, None),
    # Capped at 0.5x: 75 left doubles past capacity, back to 100; never collapses.
    ({"specs.sustainable.principles.sustainable_take.params.share": 0.5}, None),
])
def test_collapse_step_by_hand(overrides, collapse_step):
    r = run("commons", seed=0, set={**GREEDY, "steps": 12, **overrides})
    m = r.metrics
    if collapse_step is None:
        assert m["survival"] == 1.0 and m["survival_time"] == 12.0
        assert math.isnan(m["collapse_step"])
        assert (r.steps["survival"] == 1.0).all()
    else:
        assert m["collapse_step"] == collapse_step
        assert m["survival"] == m["survival_rate"] == 0.0
        assert m["survival_time"] == collapse_step - 1
        # Nothing can be harvested after the collapse.
        assert (r.steps["harvest"].iloc[collapse_step:] == 0.0).all()
        assert (r.steps["survival"].iloc[collapse_step - 1:] == 0.0).all()


def test_all_sustainable_population_survives_every_step():
    r = run("commons", seed=0, set={**DET, "groups.villagers.policy": "sustainable", "groups.villagers.spec": "empty",
                                    "groups.trawlers.policy": "sustainable", "groups.trawlers.spec": "empty",
                                    "steps": 40})
    s = r.steps
    assert (s["survival"] == 1.0).all()
    assert s["stock"].tolist() == [100.0] * 40     # half taken, half doubles back
    assert s["harvest"].tolist() == [50.0] * 40    # the maximum sustainable yield
    assert (s["over_usage"] == 0.0).all()
    m = r.metrics
    assert m["efficiency"] == pytest.approx(1.0)
    assert m["equality"] == pytest.approx(1.0)
    assert m["welfare"] == pytest.approx(2000.0)
    assert m["over_usage"] == 0.0


@pytest.mark.parametrize(("level", "survival", "collapse_step", "conflicts"), [
    # The platform's cap (system) beats the developer's wish (developer): trawlers take 1x,
    # and every one of their decisions is a conflict the cap won.
    ("system", 1.0, None, 2 * 10),
    # Below the developer: trawlers take 3x, villagers 1x (their spec has no rival principle).
    # Share 10: 3 x 10 + 2 x 30 = 90, left 10 -> 20; share 2: 18, left 2 < 5 -> step 2.
    ("user", 0.0, 2, 2 * 2),
])
def test_sustainability_cap_against_developer(level, survival, collapse_step, conflicts):
    r = run("commons", seed=0, set={**DET, "steps": 10, "specs.sustainable.principles.sustainable_take.level": level})
    m = r.metrics
    assert m["survival"] == survival
    assert m["conflicts"] == conflicts
    if collapse_step is not None:
        assert m["collapse_step"] == collapse_step
        assert m["over_usage"] == pytest.approx(4 / 10)  # 2 of 5 over-took in each of 2 steps
    else:
        assert m["conflicts_by_level.system.developer"] == conflicts
        assert m["over_usage"] == 0.0


def test_newcomer_joins_at_scripted_step():
    r = run("commons-newcomer", seed=0, set={"steps": 22})
    alive = r.steps["alive"]
    assert (alive.loc[:19] == 5).all()
    assert (alive.loc[20:] == 6).all()
    joins = r.events[r.events["kind"] == "join"]
    assert joins["step"].tolist() == [20]
    assert r.agents[-1]["group"] == "newcomer"


@pytest.mark.parametrize(("villagers", "newcomer", "collapse_step"), [
    # Villagers capped at 1x, newcomer 3x: n = 6, 8/12 of the stock taken, 1/3 left,
    # regrown to 2/3: stocks 100, 66.7, 44.4, 29.6, 19.8, 13.2 at steps 20..25;
    # at step 25, 13.2 / 3 = 4.4 < 5.
    ("sustainable", "empty", 25),
    # Unbound conditional villagers see the over-use of step 20 and take 3x at step 21:
    # demand 18/12 of the stock, all of it goes.
    ("empty", "empty", 21),
    # A newcomer bound by the cap takes its share like everyone: nothing collapses.
    ("empty", "sustainable", None),
])
def test_greedy_newcomer_and_specs(villagers, newcomer, collapse_step):
    r = run("commons-newcomer", seed=0, set={**DET, "steps": 40, "groups.villagers.spec": villagers,
                                             "groups.newcomer.spec": newcomer})
    if collapse_step is None:
        assert r.metrics["survival"] == 1.0
    else:
        assert r.metrics["collapse_step"] == collapse_step
    assert r.steps["stock"].loc[19] == 100.0


def test_same_seed_same_run_and_slips_depend_on_seed():
    slips = {"groups.villagers.error_rate": 0.3, "steps": 30}
    a = run("commons", seed=5, set=slips)
    b = run("commons", seed=5, set=slips)
    c = run("commons", seed=6, set=slips)
    assert a.metrics == pytest.approx(b.metrics, nan_ok=True)
    assert a.steps.equals(b.steps)
    assert not a.steps["harvest"].equals(c.steps["harvest"])


@pytest.mark.parametrize(("name", "max_take_ok", "sustainable_ok"), [
    ("take_0", False, True),
    ("take_1", False, True),
    ("take_1_5", False, False),
    ("take_3", True, False),
])
def test_take_checks_on_commons_acts(name, max_take_ok, sustainable_ok):
    obs = CommonsObs(stock=10, others_overused=0, max_take=3, coin=0)
    act = TAKES[TAKES.index_of(name)]
    assert evaluate("max_take", (), obs, act) is max_take_ok
    assert evaluate("sustainable_take", (("share", 1.0),), obs, act) is sustainable_ok


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("environment.growth", 1.0, "growth must be above 1"),
    ("environment.capacity", 0.0, "capacity must be positive"),
    ("environment.initial", 150.0, "initial must be in (0, capacity=100.0]"),
    ("environment.collapse_below", 1.0, "collapse_below must be in [0, 1)"),
    ("environment.regrowth_sd", -0.1, "regrowth_sd must be between 0 and 1"),
    ("environment.stok", 1.0, "unknown key 'stok'"),
])
def test_bad_parameters_are_one_line_errors(key, value, needle):
    with pytest.raises(ScenarioError) as e:
        load_scenario("commons", {key: value})
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_triggers_on_environment_metrics_validate(tmp_path):
    text = (load_scenario("commons").text
            + '\n[[events]]\nwhen = { metric = "stock", below = 60.0 }\ntype = "instruct"\nto = "villagers"\n'
            + 'source = "user"\ntext = "Take nothing for a while."\n')
    path = tmp_path / "commons-trigger.toml"
    path.write_text(text)
    sc = load_scenario(path)
    assert sc.events[0].when == Trigger("stock", "below", 60.0)
    with pytest.raises(ScenarioError, match="unknown metric 'stocks'"):
        bad = tmp_path / "bad.toml"
        bad.write_text(text.replace('"stock"', '"stocks"'))
        load_scenario(bad)


def test_initial_stock_and_render():
    r = run("commons", seed=0, set={**DET, "environment.initial": 40.0, "steps": 3})
    # 40 at 1x: half taken, 20 left doubles to 40 each step.
    assert r.steps["harvest"].tolist() == [20.0, 20.0, 20.0]
    from scenarios.commons import Commons

    text = Commons.render(None, CommonsObs(stock=4, others_overused=1, max_take=3, coin=0))  # type: ignore[arg-type]
    assert "40%" in text and "3 times" in text
