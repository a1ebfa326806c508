"""Batch ranking (``rank_batch``) agrees with ``rank``, and batch-ranked runs equal per-key ones."""

from __future__ import annotations

import numpy as np
import pytest

from agents.policies import make_policy
from agents.policies.contributors import ConditionalContributor
from scenarios.public_goods_fg import GIVE, SANCTION, PublicGoodsFGObs


def _obs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"own": rng.integers(-1, 21, n), "others": rng.integers(0, 21, n), "fined": rng.integers(0, 13, n),
            "watched": rng.integers(0, 2, n), "sanctions": rng.integers(0, 2, n),
            "shortfall": rng.integers(0, 21, n), "coin": rng.integers(0, 16, n)}


def _policies(name: str, values: dict[str, np.ndarray], n: int) -> list:
    return [make_policy(name, {p: float(v[k]) for p, v in values.items()}) for k in range(n)]


def assert_batch_is_rank(ranked, policies: list, obs: dict[str, np.ndarray], obs_type, acts) -> None:
    """Each agent's batch-ranked order equals its own policy's ``rank`` of its observation."""
    number, order = ranked
    for k, pol in enumerate(policies):
        one = obs_type(**{f: int(v[k]) for f, v in obs.items()})
        assert order(int(number[k])) == pol.rank(one, acts), (k, acts)


@pytest.mark.parametrize("acts", [GIVE, SANCTION], ids=["give", "punish"])
def test_contributor_batch_ranking_is_rank(acts) -> None:
    rng = np.random.default_rng(3)
    n = 400
    values = {"baseline": rng.random(n), "slope": rng.random(n) * 1.2, "weight": rng.random(n),
              "fine_response": rng.random(n) * 4, "severity": rng.random(n) * 2, "deterrence": rng.random(n) * 0.3}
    # Ties of the rounding: thirds of a shortfall, halves of a coin step.
    values["severity"][:40] = 1.5
    values["weight"][40:80] = 0.5
    obs = _obs(rng, n)
    assert_batch_is_rank(ConditionalContributor.rank_batch(values, obs, acts),
                         _policies("conditional_contributor", values, n), obs, PublicGoodsFGObs, acts)


def test_contributor_batch_ranking_declines_other_games() -> None:
    from scenarios.ipd import PLAIN  # no contribution or punishment acts

    assert ConditionalContributor.rank_batch({}, {"own": np.zeros(0, np.int64)}, PLAIN) is None


def test_patched_rank_leaves_the_batch_path(monkeypatch) -> None:
    """A class whose ``rank`` is replaced is ranked per key again: the patch is what decides."""
    from sim.runs.run import run

    base = run("public-goods-fg", seed=2, set={"steps": 3})
    monkeypatch.setattr(ConditionalContributor, "rank", lambda self, obs, acts: tuple(range(len(acts))))
    patched = run("public-goods-fg", seed=2, set={"steps": 3})
    assert patched.metrics["contribution"] == 0.0 != base.metrics["contribution"]


def test_harvester_batch_ranking_is_rank() -> None:
    from agents.policies.harvesters import Harvester
    from scenarios.commons import TAKES, CommonsObs

    rng = np.random.default_rng(5)
    n = 400
    values = {"greed": rng.random(n) * 2, "reciprocity": rng.random(n), "caution": rng.random(n)}
    values["greed"][:50] = np.resize(np.array([t for t in (a.take for a in TAKES) if t is not None], float), 50)
    obs = {"stock": rng.integers(0, 11, n), "others_overused": rng.integers(0, 2, n),
           "max_take": rng.integers(0, 5, n), "coin": rng.integers(0, 16, n)}
    assert_batch_is_rank(Harvester.rank_batch(values, obs, TAKES), _policies("harvester", values, n), obs,
                         CommonsObs, TAKES)


def test_weighs_risk_batch_ranking_is_rank() -> None:
    from agents.policies.strategic import WeighsRisk
    from scenarios.negotiation import ANSWER, CLOSE, NegotiationObs

    rng = np.random.default_rng(7)
    n = 300
    drawn = {"temptation": rng.random(n), "caught_cost": rng.random(n) * 2, "refuse_cost": rng.random(n),
             "commission": rng.random(n), "threshold": rng.random(n), "harm": rng.random(n)}
    drawn["threshold"][:60] = 0.45  # trust exactly at the threshold
    pols = _policies("weighs_risk", drawn, n)
    attrs = {a: np.array([getattr(p, a) for p in pols]) for a in WeighsRisk.batch_attrs}
    fields = NegotiationObs._fields
    obs = {f: rng.integers(0, 2, n) for f in fields}
    for f in ("risk", "trust"):
        if f in obs:
            obs[f] = rng.integers(0, 21, n)
    for acts in (ANSWER, CLOSE):
        assert_batch_is_rank(WeighsRisk.rank_batch(attrs, obs, acts), pols, obs, NegotiationObs, acts)


@pytest.mark.parametrize("order,obey", [(["work"], "obey"), ([], "obey"), (["obey"], "obey"), (["work"], "none")])
def test_susceptible_batch_ranking_is_rank(order: list[str], obey: str) -> None:
    from agents.policies.susceptible import LURES, Susceptible
    from scenarios.injection import ACTS, InjectionObs

    rng = np.random.default_rng(9)
    n = 400
    s = rng.random(n)
    s[:50] = 1.0 - rng.integers(0, LURES + 1, 50) / LURES  # thresholds exactly on a lure level
    pols = [make_policy("susceptible", {"susceptibility": float(v), "order": order, "obey": obey}) for v in s]
    attrs = {a: np.array([float(getattr(p, a)) for p in pols]) for a in Susceptible.batch_attrs}
    obs = {"order": rng.integers(0, 3, n), "source": rng.integers(0, 4, n), "claimed": rng.integers(0, 6, n),
           "authority": rng.integers(0, 6, n) * (rng.random(n) < 0.3), "lure": rng.integers(0, LURES, n)}
    assert_batch_is_rank(Susceptible.rank_batch(attrs, obs, ACTS), pols, obs, InjectionObs, ACTS)


def test_susceptible_batch_ranking_declines_orders_without_authority_fields() -> None:
    from agents.policies.susceptible import Susceptible
    from scenarios.injection import ACTS

    params = {"susceptibility": np.zeros(0), "config": np.zeros(0)}
    assert Susceptible.rank_batch(params, {"order": np.zeros(0, np.int64)}, ACTS) is None
    assert Susceptible.rank_batch(params, {"coin": np.zeros(0, np.int64)}, ACTS) is not None


def test_weighs_care_batch_ranking_is_rank() -> None:
    from agents.policies.care import WeighsCare
    from scenarios.tooth_fairy import ACTS, BELIEF_BUCKETS, ToothFairyObs

    rng = np.random.default_rng(11)
    n = 400
    drawn = {"warmth": rng.random(n), "scruple": rng.random(n) * 0.6}
    drawn["warmth"][:40] = 0.0  # ties: a cold agent's truths by adult value alone
    drawn["scruple"][40:80] = 0.0
    pols = _policies("weighs_care", drawn, n)
    attrs = {a: np.array([float(getattr(p, a)) for p in pols]) for a in ("warmth", "scruple")}
    obs = {"sensitive": rng.integers(0, 2, n), "child_belief": rng.integers(0, BELIEF_BUCKETS, n),
           "pressed": rng.integers(0, 2, n)}
    assert_batch_is_rank(WeighsCare.rank_batch(attrs, obs, ACTS), pols, obs, ToothFairyObs, ACTS)


def test_weighs_care_subclass_with_its_own_utilities_is_ranked_per_key() -> None:
    from agents.policies.care import WeighsCare
    from scenarios.tooth_fairy import ACTS

    class Blunt(WeighsCare):
        def utilities(self, obs):  # type: ignore[no-untyped-def]
            return {"blunt_truth": 1.0}

    params = {"warmth": np.zeros(1), "scruple": np.zeros(1)}
    assert Blunt.rank_batch(params, {"sensitive": np.zeros(1, np.int64)}, ACTS) is None
    assert WeighsCare.rank_batch(params, {"sensitive": np.zeros(1, np.int64)}, ACTS) is not None
