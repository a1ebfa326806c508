"""Commons with random regrowth: seeds matter; without noise GovSim's arithmetic holds exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.runs.run import run

SEEDS = range(20)
DET = {"environment.regrowth_sd": 0.0, "groups.villagers.params": {}}
SUSTAINABLE = {"groups.villagers.policy": "sustainable", "groups.villagers.spec": "empty",
               "groups.trawlers.policy": "sustainable", "groups.trawlers.spec": "empty"}
GREEDY = {"groups.villagers.policy": "greedy", "groups.villagers.spec": "empty",
          "groups.trawlers.policy": "greedy", "groups.trawlers.spec": "empty"}


@pytest.mark.parametrize(("population", "survival", "collapse_step", "harvest"), [
    # Everyone takes its share: half of 100 each step, doubled back; 20 steps x 50.
    (SUSTAINABLE, 1.0, None, 1000.0),
    # Everyone takes 3x: demand 1.5 x the stock, all of it goes in step 1.
    (GREEDY, 0.0, 1, 100.0),
])
def test_without_noise_govsim_arithmetic_is_the_same_for_every_seed(population, survival, collapse_step,
                                                                     harvest) -> None:
    for seed in range(3):
        m = run("commons", seed=seed, set={**DET, **population, "steps": 20}).metrics
        assert m["survival"] == survival and m["harvest"] == pytest.approx(harvest)
        assert (math.isnan(m["collapse_step"]) if collapse_step is None else m["collapse_step"] == collapse_step)


@pytest.mark.parametrize("sid", ["commons", "commons-newcomer"])
def test_with_noise_two_seeds_differ(sid: str) -> None:
    a, b = (run(sid, seed=s).metrics for s in (0, 1))
    assert a["harvest"] != b["harvest"] and a["welfare"] != b["welfare"]


def _collapse_steps(sd: float, clones: bool = False) -> np.ndarray:
    govsim = {"groups.villagers.policy": "conditional", "groups.villagers.params": {}} if clones else {}
    return np.array([run("commons-newcomer", seed=s, set={"steps": 40, "environment.regrowth_sd": sd, **govsim})
                     .metrics["collapse_step"] for s in SEEDS])


def test_greedy_newcomer_collapses_the_commons_at_a_step_the_seed_moves() -> None:
    """Without noise, among villagers all alike, it collapses at step 25 in every seed (worked out
    in test_env_commons); with noise and villagers drawn per agent, at steps that differ."""
    assert set(_collapse_steps(0.0, clones=True).tolist()) == {25.0}
    noisy = _collapse_steps(0.1)
    assert not np.isnan(noisy).any() and len(set(noisy.tolist())) > 1
    assert 22 <= noisy.mean() <= 28


def test_the_cap_above_the_developer_keeps_the_commons_alive() -> None:
    """README finding, with noise: survival with the cap at system level minus at user level,
    over 20 paired seeds; the interval excludes 0 (it is 1 in every seed here).
    Counterfactual: without the developer's wish for the biggest catch (trawlers on the plain
    sustainable spec) the cap's level is irrelevant."""
    def survival(level: str, seeds: range = SEEDS, **extra: str) -> np.ndarray:
        return np.array([run("commons", seed=s, set={
            "steps": 30, "specs.sustainable.principles.sustainable_take.level": level, **extra}).metrics["survival"]
            for s in seeds])

    diff = survival("system") - survival("user")
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() - half > 0 or (diff == 1.0).all()
    modest = {"groups.trawlers.spec": "sustainable"}
    assert np.all(survival("system", range(5), **modest) == survival("user", range(5), **modest))
