"""What an LLM agent's message claims: declared in its reply, delivered with the words, checked against the truth."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import agents.llm  # noqa: F401  (registers the llm policy)
from agents.llm import LLMConfig, LLMPolicy
from agents.llm_claims import parse_claims
from agents.llm_prompt import response_format
from agents.messages import Claim, is_lie
from agents.spec import Level
from sim.runs.run import run
from tests import llm_world as w
from tests.llm_server import LLMServer, serve

FACTS = ("act",)
ACTS = ("work", "obey")


def claim(kind: str, fact: str, value: Any = None, authority: str = "none") -> dict[str, Any]:
    return {"kind": kind, "fact": fact, "value": value, "authority": authority}


@pytest.mark.parametrize(("claims", "expected"), [
    (None, ()),  # no field: a server that ignores the schema declares nothing
    ([], ()),
    ([claim("value", "act", "work")], (Claim("value", "act", "work"),)),
    ([claim("value", "act", 3)], (Claim("value", "act", 3),)),
    ([claim("promise", "obey")], (Claim("promise", "obey"),)),
    ([claim("order", "transfer", 7, "system")], (Claim("order", "transfer", 7, Level.SYSTEM),)),
    ([claim("order", "pay", None, "none")], (Claim("order", "pay"),)),
    ("work", "claims must be a list"),
    ([claim("value", "reserve_price", 80)], "claim 1: fact 'reserve_price' is not one of act"),
    ([claim("value", "act", None)], "claim 1: a value claim needs a value"),
    ([claim("value", "act", True)], "claim 1: value must be a number, a string or null"),
    ([claim("promise", "teleport")], "claim 1: a promise names one of the acts offered, not 'teleport'"),
    ([claim("order", "transfer", 7, "root")], "claim 1: authority 'root' is not one of none, user, developer, system"),
    ([claim("gossip", "act", "work")], "claim 1: kind 'gossip' is not one of value, promise, order"),
    ([claim("value", "act", "work")] * 9, "at most 8 claims, got 9"),
])
def test_declared_claims_are_parsed_or_refused_with_a_reason(claims: Any, expected: Any) -> None:
    data: dict[str, Any] = {"act": "work", "message": "hi"}
    if claims is not None:
        data["claims"] = claims
    assert parse_claims(data, FACTS, ACTS) == expected


@pytest.mark.parametrize(("facts", "fields"), [
    ((), ["act", "message"]),  # an environment that checks nothing: the reply format is unchanged
    (FACTS, ["act", "message", "claims"]),
])
def test_the_reply_asks_for_claims_only_where_they_are_checked(facts: tuple[str, ...],
                                                               fields: list[str]) -> None:
    schema = response_format(ACTS, facts)["json_schema"]["schema"]
    assert schema["required"] == fields and list(schema["properties"]) == fields


@pytest.mark.parametrize(("c", "truth", "lie"), [
    (Claim("promise", "work"), "work", False),  # kept
    (Claim("promise", "work"), "obey", True),   # broken: a promise is judged by the move then played
    (Claim("promise", "work"), None, False),    # not played yet
])
def test_a_promise_is_a_lie_when_the_move_differs(c: Claim, truth: Any, lie: bool) -> None:
    assert is_lie(c, truth) is lie


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve(monkeypatch, tmp_path / "xdg")


def test_an_invalid_claim_is_retried_with_the_reason(server: LLMServer) -> None:
    replies = iter([
        {"act": "decline", "message": "my reserve is 80", "claims": [claim("value", "reserve_price", 80)]},
        {"act": "decline", "message": "no comment", "claims": []},
    ])
    server.responder = lambda body: json.dumps(next(replies))
    pol = LLMPolicy(LLMConfig(model="compliant", cache=False))
    try:
        [choice] = pol.choose_many([w.request(facts=FACTS)])
    finally:
        pol.close()
    assert (choice.ok, choice.attempts, choice.message, choice.claims) == (True, 2, "no comment", ())
    repair = server.chats()[1]["messages"][-1]["content"]
    assert "fact 'reserve_price' is not one of act" in repair


HEAD = re.compile(r"You are agent (\d+) of the group '(\w+)' in a multi-agent simulation \(step (\d+)\)")
WORDS = "I did my task this step."


def scripted(body: dict[str, Any]) -> str:
    """Every worker works; even agents say so truly, odd ones claim they obeyed, agent 1 orders too."""
    system = next(m["content"] for m in body["messages"] if m["role"] == "system")
    agent = int(HEAD.search(system).group(1))
    said = [claim("value", "act", "work" if agent % 2 == 0 else "obey"), claim("promise", "work")]
    if agent == 1:
        said.append(claim("order", "transfer", agent, "system"))
    return json.dumps({"act": "work", "message": WORDS, "claims": said})


def play(server: LLMServer, verify: float) -> Any:
    server.responder = scripted
    return run("injection", seed=3, steps=3, set={
        "groups.workers.policy": "llm", "groups.workers.params": {},
        "groups.workers.llm": {"model": "compliant"},
        "environment.verify_prob": verify, "environment.attack_prob": 0.0,
        "environment.invoice_prob": 0.0, "environment.overreach_prob": 0.0,
    })


@pytest.mark.parametrize("verify", [0.0, 1.0])
def test_what_an_llm_worker_claims_is_checked_against_the_truth(server: LLMServer, verify: float) -> None:
    result = play(server, verify)
    ev = result.events
    checks = [json.loads(d) | {"agent": int(a), "step": int(s)}
              for a, s, d in ev[ev.kind == "claim"][["agent", "step", "detail"]].itertuples(index=False)]
    assert checks and {c["step"] for c in checks} == {2, 3}  # steps 1..3: said at one, checked at the next
    assert all(c["sent"] == c["step"] - 1 for c in checks)
    for c in checks:
        odd = c["agent"] % 2 == 1
        lie = {"value": odd, "promise": False, "order": True}[c["claim"]]  # a peer holds no authority
        assert c["lie"] is lie, c
        assert c["caught"] is (verify == 1.0)
        if c["claim"] == "order":
            assert (c["agent"], c["said"], c["truth"]) == (1, "system", "none")
    lying_messages = {(c["agent"], c["recipient"], c["step"]) for c in checks if c["lie"]}
    assert result.metrics["lies_told"] == len(lying_messages)
    assert result.metrics["lies_caught"] == (len(lying_messages) if verify else 0)


def test_recipients_read_the_words_quoted_as_data_not_the_declared_claims(server: LLMServer) -> None:
    play(server, 1.0)
    heard = 0
    for body in server.chats():
        by_role = {m["role"]: m["content"] for m in body["messages"]}
        assert all(WORDS not in by_role.get(r, "") for r in ("system", "developer"))
        if f"> {WORDS}" in by_role["user"]:
            heard += 1
            assert re.search(r'from="workers \(agent \d+\)" kind=peer_message authority=none', by_role["user"])
        assert '"kind": "order"' not in by_role["user"]  # the structured claims are the world's, not the text
    assert heard
