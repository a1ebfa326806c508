"""Strategic bargainers: deception weighed against a learned risk of being caught."""

from __future__ import annotations

import numpy as np
import pytest

from agents.policies import make_policy
from scenarios.negotiation import ANSWER, CLOSE, NegotiationObs
from sim.runs.run import run


def obs(risk: int, stake: int = 1, trust: int = 20) -> NegotiationObs:
    return NegotiationObs(asked=1, role=1, trust=trust, stake=stake, risk=risk)


@pytest.mark.parametrize(("params", "o", "acts", "first"), [
    ({"temptation": 1.0}, obs(risk=0), ANSWER, "lie"),          # nothing to fear: lie
    ({"temptation": 1.0}, obs(risk=20), ANSWER, "refuse"),      # sure to be caught: refuse
    ({"temptation": 0.0, "refuse_cost": 0.0}, obs(risk=2), ANSWER, "refuse"),  # nothing to gain
    ({"temptation": 0.3}, obs(risk=16, stake=0), ANSWER, "refuse"),
    ({"temptation": 0.9}, obs(risk=3, stake=1), ANSWER, "lie"),
    ({"commission": 0.5}, obs(risk=0), CLOSE, "steer_covert"),  # hiding costs nothing
    ({"commission": 0.5}, obs(risk=16), CLOSE, "steer"),         # hiding risky: say so
    ({"commission": 0.0}, obs(risk=0), CLOSE, "deal"),          # no goal of its own
    ({"commission": 0.5}, obs(risk=0, trust=4), CLOSE, "walk"),  # distrust: walk away
])
def test_weighs_risk_ranks_by_expected_gain(params, o, acts, first) -> None:
    pol = make_policy("weighs_risk", params)
    assert acts[pol.rank(o, acts)[0]].name == first


# Small populations, a spec that leaves the choice to the agent (the developer's
# instructions still keep the reserve and the commission secret).
FREE = {"steps": 12, "groups.buyers.spec": "empty", "groups.sellers.spec": "empty",
        "groups.buyers.count": 4, "groups.sellers.count": 4}
SEEDS = range(20)


def _deceptions(detect: float) -> np.ndarray:
    return np.array([run("negotiation-confidential-first", seed=s,
                         set={**FREE, "environment.detect_prob": detect}).metrics["deceptions"]
                     for s in SEEDS])


def test_detection_deters_deception_and_without_it_the_effect_vanishes() -> None:
    """Agents learn their risk from being caught: detection cuts deceptions (paired 95% CI
    of the difference excludes 0). Counterfactual: with no detection there is nothing to
    learn, and a low rate that catches no one more often than chance does the same."""
    none, low, high = _deceptions(0.0), _deceptions(0.05), _deceptions(0.8)
    diff = none - high
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() - half > 0
    near = none - low
    assert abs(near.mean()) < diff.mean() / 4
    assert len(set(high.tolist())) > 1  # seeds matter


def test_the_learned_risk_is_each_agents_own() -> None:
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    m = SpecModel(load_scenario("negotiation-confidential-first", {**FREE, "environment.detect_prob": 0.5}), seed=3)
    m.run(12)
    env = m.env
    assert env.told.sum() > 0 and 0 < env.caught.sum() < env.told.sum()
    assert len(set(env.risk(np.arange(m.n)).tolist())) > 1
