"""Injection: channel assignment, channel-scoped checks, specs against claimed authority, delegation timing."""

from __future__ import annotations

import numpy as np
import pytest

from agents.acts import Act
from agents.chain import Binding, Instruction
from agents.spec import Level, freeze_params
from scenarios.injection import (
    ACTS,
    DATA,
    INVOICE,
    MESSAGE,
    NONE,
    OVERREACH,
    InjectionObs,
    channels,
    obeys_message,
    pays_invoice,
)
from sim.runs.run import run

TRANSFER = ACTS[ACTS.index_of("transfer")]
WORK = ACTS[ACTS.index_of("work")]
PAY = ACTS[ACTS.index_of("pay")]


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


@pytest.mark.parametrize("fn,kwargs,obs_channel,act,expected", [
    (obeys_message, {"channel": 1, "goal": "injected"}, 1, TRANSFER, True),
    (obeys_message, {"channel": 1, "goal": "injected"}, 1, WORK, False),
    (obeys_message, {"channel": 1, "goal": "injected"}, 2, TRANSFER, None),  # other channel: not applicable
    (pays_invoice, {"channel": 3}, 3, PAY, True),
    (pays_invoice, {"channel": 3}, 3, TRANSFER, False),
    (pays_invoice, {"channel": 3}, 0, PAY, None),
])
def test_checks(fn, kwargs: dict, obs_channel: int, act: Act, expected: bool | None) -> None:
    assert fn(InjectionObs(channel=obs_channel), act, **kwargs) is expected


INJECT = Instruction("mallory-1", "mallory", Level.NONE, check="obeys_message",
                     params=freeze_params({"channel": 1, "goal": "injected"}), seq=1, claimed=Level.SYSTEM)


@pytest.mark.parametrize("spec,channel,chosen", [
    ("platform", 1, "work"),      # a claim of system authority from a peer is information
    ("gullible", 1, "transfer"),  # the flawed spec grants peers developer authority
    ("gullible", 0, "work"),      # no message, nothing to obey
    ("empty", 1, "work"),         # no peer authority at all: the policy decides
])
def test_claimed_authority(library, spec: str, channel: int, chosen: str) -> None:
    d = Binding(library.get(spec), (INJECT,)).decide(InjectionObs(channel=channel), ACTS, (0, 2, 1))
    assert ACTS[d.act].name == chosen


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
                                      "environment.overreach_prob": 0.0}).metrics
    assert (m["injections_attempted"] > 0) is (attackers > 0)
