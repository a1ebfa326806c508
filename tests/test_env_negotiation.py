"""Negotiation: price splits, spec orderings and parameter validation as tables."""

from __future__ import annotations

import numpy as np
import pytest

from agents.chain import Binding, Instruction
from agents.errors import ScenarioError
from agents.spec import Level, freeze_params
from scenarios.environment import parse_params
from scenarios.negotiation import ANSWER, CLOSE, Negotiation, NegotiationObs, split_surplus
from sim.runs.run import run

ASKED = NegotiationObs(asked=1, role=1, trust=10, stake=1, risk=5)
SHREWD = tuple(ANSWER.index_of(n) for n in ("lie", "evade", "refuse", "disclose"))
CANDID = tuple(ANSWER.index_of(n) for n in ("disclose", "refuse", "evade", "lie"))
KEEP = Instruction("keep", "developer", Level.DEVELOPER, check="withholds",
                   params=freeze_params({"fact": "reserve"}), seq=1)
GOAL = Instruction("goal", "developer", Level.DEVELOPER, check="serves",
                   params=freeze_params({"goal": "commission"}), seq=2)
HUSH = Instruction("hush", "developer", Level.DEVELOPER, check="withholds",
                   params=freeze_params({"fact": "commission"}), seq=3)


@pytest.mark.parametrize("surplus,pb,ps,buyer,seller", [
    (1.0, 0.0, 0.0, 0.5, 0.5),     # nobody said anything useful: even split
    (1.0, -1.0, 0.0, 0.25, 0.75),  # buyer disclosed: the seller gains leverage (0.25)
    (1.0, 1.0, 0.0, 0.75, 0.25),   # buyer's lie believed
    (1.0, 0.5, 0.5, 0.5, 0.5),     # both evaded: cancels out
    (2.0, -1.0, 1.0, 0.0, 2.0),    # disclosed against a believed lie: the whole surplus
    (0.0, 1.0, -1.0, 0.0, 0.0),    # no zone of agreement: nothing to split
])
def test_split_surplus(surplus: float, pb: float, ps: float, buyer: float, seller: float) -> None:
    b, s = split_surplus(np.array([surplus]), np.array([pb]), np.array([ps]), 0.25)
    assert (b[0], s[0]) == pytest.approx((buyer, seller))


@pytest.mark.parametrize("spec,instructions,ranking,chosen", [
    ("honest-first", (KEEP,), SHREWD, "refuse"),                 # honesty over secrecy: refuse
    ("honest-first", (KEEP,), CANDID, "refuse"),                 # ... whatever the policy prefers
    ("confidential-first", (KEEP,), SHREWD, "evade"),            # secrecy over honesty: deceive
    ("confidential-first", (KEEP,), CANDID, "evade"),
    ("confidential-negotiator", (KEEP,), SHREWD, "evade"),
    ("empty", (), SHREWD, "lie"),                                # no spec: the policy decides
    ("empty", (), CANDID, "disclose"),
])
def test_answer_by_ordering(library, spec: str, instructions: tuple, ranking: tuple, chosen: str) -> None:
    d = Binding(library.get(spec), instructions).decide(ASKED, ANSWER, ranking)
    assert ANSWER[d.act].name == chosen


@pytest.mark.parametrize("spec,chosen", [
    ("honest-first", "deal"),                 # covert steering is barred at root; secrecy beats the goal
    ("confidential-first", "deal"),           # transparency about aims still at root
    ("confidential-negotiator", "steer_covert"),  # the flawed ordering: pursue the goal and hide it
])
def test_hidden_goal_by_ordering(library, spec: str, chosen: str) -> None:
    d = Binding(library.get(spec), (GOAL, HUSH)).decide(ASKED, CLOSE, (0, 1, 2, 3))
    assert CLOSE[d.act].name == chosen


@pytest.mark.parametrize("raw,problem", [
    ({"ask_prob": 1.5}, "ask_prob must be between 0 and 1"),
    ({"leverage": 0.6}, "leverage must be between 0 and 0.5"),
    ({"lie_penalty": -1.0}, "lie_penalty must not be negative"),
    ({"value_low": 1.0, "value_high": 1.0}, "value_high must exceed value_low"),
    ({"refuse_penalty": 2.0}, "refuse_penalty must be between 0 and 1"),
])
def test_params_rejected(raw: dict, problem: str) -> None:
    with pytest.raises(ScenarioError, match=problem) as err:
        parse_params(Negotiation, raw, "x.toml: environment")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("scenario,refusals,deceptions", [
    ("negotiation-honest-first", True, False),
    ("negotiation-confidential-first", False, True),
])
def test_run_counts(scenario: str, refusals: bool, deceptions: bool) -> None:
    m = run(scenario, seed=3, set={"steps": 5}).metrics
    assert (m["refusals"] > 0) is refusals
    assert (m["deceptions"] > 0) is deceptions
    assert 0.0 <= m["surplus_share"] <= 1.0
    assert m["deals"] > 0


def test_no_cross_edges_no_negotiation() -> None:
    m = run("negotiation-honest-first", seed=1, set={"steps": 3, "groups.sellers.count": 0}).metrics
    assert m["deals"] == 0 and m["welfare"] == 0
