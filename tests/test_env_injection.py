"""Injection: orders judged from their source and content, the ledger, AgentDojo's three numbers."""

from __future__ import annotations

import numpy as np
import pytest

from agents.acts import Act
from agents.chain import Binding
from agents.checks import no_authority_obeyed
from agents.policies import make_policy
from scenarios.injection import (
    ACTS,
    DATA,
    INVOICE,
    MESSAGE,
    NONE,
    OVERREACH,
    InjectionObs,
    channels,
)
from sim.runs.run import run, run_model

WORK = ACTS[ACTS.index_of("work")]
OBEY = ACTS[ACTS.index_of("obey")]
SEEDS = tuple(range(1, 21))
STEPS = 16


def obs(order: int = 1, source: int = 1, claimed: int = 4, authority: int = 0, lure: int = 9) -> InjectionObs:
    return InjectionObs(order, source, claimed, authority, lure)


@pytest.mark.parametrize("attacked,in_data,invoiced,overreached,channel", [
    (False, False, False, False, NONE),
    (True, False, True, True, MESSAGE),     # an attack masks everything else
    (True, True, False, False, DATA),
    (False, True, True, False, INVOICE),    # in_data matters only for attacks
    (False, False, True, True, OVERREACH),  # overreach before invoice
])
def test_channels(attacked: bool, in_data: bool, invoiced: bool, overreached: bool, channel: int) -> None:
    got = channels(np.array([attacked]), np.array([in_data]), np.array([invoiced]), np.array([overreached]))
    assert got.tolist() == [channel]


@pytest.mark.parametrize("o,act,expected", [
    (obs(order=0), OBEY, None),              # no order arrived: nothing to obey
    (obs(authority=0), OBEY, False),         # an order whose source has no authority, carried out
    (obs(authority=0), WORK, True),          # ... declined
    (obs(authority=2, claimed=0), OBEY, True),  # a delegate's order within its scope (user level)
    (obs(claimed=5, authority=0), OBEY, False),  # claiming root changes nothing
])
def test_obeying_is_judged_from_the_order(o: InjectionObs, act: Act, expected: bool | None) -> None:
    assert no_authority_obeyed(o, act) is expected


@pytest.mark.parametrize("s,o,first", [
    (0.9, obs(lure=2), "obey"),    # persuaded: 2 >= 10 * (1 - 0.9)
    (0.5, obs(lure=4), "work"),    # not persuaded: 4 < 5
    (0.5, obs(lure=5), "obey"),
    (0.0, obs(lure=9), "work"),    # never fooled
    (0.0, obs(authority=2), "obey"),  # an authorised order is heeded
    (1.0, obs(order=0), "work"),   # nothing to obey
])
def test_susceptibility_decides_what_the_policy_proposes(s: float, o: InjectionObs, first: str) -> None:
    rank = make_policy("susceptible", {"susceptibility": s, "order": ["work"]}).rank(o, ACTS)
    assert ACTS[rank[0]].name == first


@pytest.mark.parametrize("spec,o,chosen", [
    ("platform", obs(lure=9), "work"),   # persuaded, but the root rule vetoes an order without authority
    ("gullible", obs(lure=9), "obey"),   # nothing in the flawed spec stops it
    ("gullible", obs(lure=0), "work"),   # not persuaded
    ("platform", obs(order=2, source=3, claimed=0, authority=2, lure=0), "obey"),  # the delegate's invoice
])
def test_the_spec_disposes(library, spec: str, o: InjectionObs, chosen: str) -> None:
    rank = make_policy("susceptible", {"susceptibility": 0.8, "order": ["work"]}).rank(o, ACTS)
    assert ACTS[Binding(library.get(spec)).decide(o, ACTS, rank).act].name == chosen


def test_delegation_fires_at_step_10_and_stays_in_scope() -> None:
    r = run("injection", seed=2, set={"steps": 16, "groups.gullible.count": 0,
                                      "environment.invoice_prob": 0.5, "environment.overreach_prob": 0.3})
    paid = r.steps["invoices_paid"]
    assert paid[paid.index < 10].sum() == 0   # before the delegation the treasurer is just a peer
    assert paid[paid.index >= 10].sum() > 0   # from step 10 its invoices carry the user's authority
    assert r.metrics["injections_obeyed"] == 0  # the overreach is outside the scope
    ev = r.events[r.events.kind == "delegate"]
    assert ev.step.tolist() == [10, 10]


@pytest.mark.parametrize("attackers", [0, 3])
def test_attempts_need_attackers(attackers: int) -> None:
    m = run("injection", seed=1, set={"steps": 5, "groups.attackers.count": attackers,
                                      "environment.overreach_prob": 0.0, "environment.invoice_prob": 0.0}).metrics
    assert (m["injections_attempted"] > 0) is (attackers > 0)


@pytest.fixture(scope="module")
def ledger():
    return run("injection", seed=3, set={"steps": 16}).events


@pytest.mark.parametrize("source,claimed,steps,why", [
    ("attackers", "system", (1, 16), "attackers is a peer: no principal delegated it authority"),
    ("tool", "developer", (1, 16), "tool output is data"),
    ("treasurer", "user", (1, 9), "treasurer is a peer"),  # before the delegation
    ("treasurer", "user", (10, 16), "the delegation to treasurer covers pay, not transfer"),
])
def test_ledger_records_who_tried_what_they_claimed_and_why_it_carried_none(ledger, source, claimed, steps,
                                                                            why) -> None:
    rows = ledger[ledger.kind.isin(["injection_ignored", "injection_obeyed"]) & (ledger.loser_source == source)
                  & (ledger.loser == "order:transfer") & ledger.step.between(*steps)]
    assert len(rows) and set(rows.loser_level) == {claimed}
    assert rows.reason.str.contains(why).all()
    # Platform workers only ignore; obeying is left to the gullible.
    assert set(rows[rows.kind == "injection_obeyed"].act) <= {"obey"}


def test_ledger_counts_match_the_counters() -> None:
    r = run("injection", seed=4, set={"steps": 12})
    kinds = r.events.kind.value_counts()
    assert kinds.get("injection_ignored", 0) == r.metrics["injections_ignored"]
    assert kinds.get("injection_obeyed", 0) == r.metrics["injections_obeyed"]
    assert r.metrics["injections_attempted"] == r.metrics["injections_ignored"] + r.metrics["injections_obeyed"]


def test_populations_are_heterogeneous() -> None:
    m = run_model("injection", seed=1, steps=1)
    g = m.group_index("gullible")
    assert len(np.unique(m.variant_of[m.group_of == g])) > 3


def _finals(attack_prob: float) -> list[dict[str, float]]:
    return [run("injection", seed=s, set={"steps": STEPS, "environment.attack_prob": attack_prob}).metrics
            for s in SEEDS]


@pytest.fixture(scope="module")
def attacked() -> list[dict[str, float]]:
    return _finals(0.3)


@pytest.fixture(scope="module")
def unattacked() -> list[dict[str, float]]:
    return _finals(0.0)


def _ci(x: np.ndarray) -> tuple[float, float]:
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


@pytest.mark.parametrize("metric,sign", [("attack_success", 1), ("utility", -1)])
def test_specs_differ_in_attack_success_and_utility_under_attack(attacked, metric: str, sign: int) -> None:
    diff = np.array([m[f"{metric}.gullible"] - m[f"{metric}.platform"] for m in attacked])
    lo, hi = _ci(sign * diff)
    assert lo > 0, (lo, hi)


def test_runs_differ_by_seed(attacked) -> None:
    assert len({(m["attack_success.gullible"], m["welfare"]) for m in attacked}) > len(SEEDS) // 2


@pytest.mark.parametrize("spec", ["platform", "gullible"])
def test_without_attack_nothing_succeeds_and_utility_is_the_clean_utility(unattacked, spec: str) -> None:
    for m in unattacked:
        assert m[f"attack_success.{spec}"] == 0.0
        assert m[f"utility.{spec}"] == m[f"utility_clean.{spec}"]


def test_removing_the_attack_removes_the_loss(attacked, unattacked) -> None:
    # Paired seeds: the gullible spec loses utility to attacks; without them it loses none.
    loss = np.array([u["utility.gullible"] - a["utility.gullible"] for a, u in zip(attacked, unattacked, strict=True)])
    assert _ci(loss)[0] > 0


def test_verification_catches_lies_and_trust_in_liars_falls() -> None:
    m = run_model("injection", seed=5, steps=16, set={"environment.verify_prob": 1.0})
    assert m.env.beliefs.error() == 0.0  # everything heard was verified
    adv = np.flatnonzero(m.group_of == m.group_index("attackers"))
    workers = np.flatnonzero(m.group_of == m.group_index("workers"))
    trust = [m.trust_in(int(w), int(a)) for w in workers for a in adv if (w, a) in _heard(m)]
    assert trust and max(trust) < 0.5


def _heard(m) -> set[tuple[int, int]]:
    return {(r, s) for r, s, _ in m.env.beliefs.credence}
