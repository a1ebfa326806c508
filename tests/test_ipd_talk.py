"""``ipd-talk``: promises as messages, lies found out by verification, the older mechanism kept.

One round between an opportunist (row 0) and a cooperator (row 1), worked
out by hand: both promise, the opportunist breaks its word (T = 5 against
S = 0); when the cooperator verifies the promise (``detect_prob``) its credence
moves to the truth and the lie adds ``lie_penalty`` broken evidence on top of
the defection: trust (0 + 1) / (0 + 1 + lie_penalty + 2).
"""

from __future__ import annotations

import math

import pytest

from agents.messages import Message
from scenarios.ipd_talk import PROMISE_CLAIM, WORDS
from sim.runs.run import run, run_model

PAIR = """
[scenario]
id = "talk-pair"
environment = "ipd-talk"
steps = {steps}

[environment]
detect_prob = {detect}
lie_penalty = {penalty}

[network]
kind = "complete"

[groups.opportunist]
count = 1
policy = "opportunist"
spec = "{spec}"

[groups.cooperator]
count = 1
policy = "cooperator"
spec = "platform"
"""


def pair(tmp_path, steps=1, detect=1.0, penalty=1.0, spec="empty"):
    path = tmp_path / "talk-pair.toml"
    path.write_text(PAIR.format(steps=steps, detect=detect, penalty=penalty, spec=spec))
    return path


@pytest.mark.parametrize(("detect", "penalty", "spec", "trust", "broken", "caught", "error", "payoffs"), [
    (1.0, 1.0, "empty", 1 / 4, 1, 1, 0.0, [5.0, 0.0]),     # found out: credence at the truth
    (0.0, 1.0, "empty", 1 / 3, 1, 0, 0.5, [5.0, 0.0]),     # unchecked: credence stays at trust 1/2
    (1.0, 0.0, "empty", 1 / 3, 1, 1, 0.0, [5.0, 0.0]),     # found out, but a lie costs nothing more
    (1.0, 1.0, "platform", 2 / 3, 0, 0, 0.0, [3.0, 3.0]),  # bound: the promise binds the move
])
def test_one_round_by_hand(tmp_path, detect, penalty, spec, trust, broken, caught, error, payoffs) -> None:
    model = run_model(pair(tmp_path, detect=detect, penalty=penalty, spec=spec), seed=0)
    m = run(pair(tmp_path, detect=detect, penalty=penalty, spec=spec), seed=0).metrics
    assert model.trust_in(1, 0) == pytest.approx(trust)
    assert m["promises_made"] == 2 and m["promises_broken"] == broken and m["lies_caught"] == caught
    assert m["deceptions"] == broken and m["belief_error"] == pytest.approx(error)
    assert model.payoff.tolist() == payoffs


def test_promises_travel_through_the_mailbox(tmp_path) -> None:
    model = run_model(pair(tmp_path), seed=0)
    inbox = model.env.mail.inbox(1)
    assert inbox == (Message(0, "opportunist", 1, model.env.mail.step, (PROMISE_CLAIM,)),)
    assert inbox[0].text == WORDS


def test_without_promises_nobody_talks(tmp_path) -> None:
    m = run(pair(tmp_path, steps=3), seed=0, set={"environment.promises": False}).metrics
    assert m["deceptions"] == 0 and "promises_made" not in m and "belief_error" not in m


def test_messages_false_is_the_older_ipd_mechanism(tmp_path) -> None:
    """The comparison arm: promises as act labels, exactly as ``ipd`` plays them."""
    small = {"steps": 12, "groups.reciprocal.count": 9, "groups.opportunists.count": 3,
             "groups.opportunists.spec": "empty"}
    a = run("trust-network", seed=5, set={**small, "environment.messages": False}).metrics
    b = run("trust-network", seed=5, set={**small, "scenario.environment": "ipd"}).metrics
    for k in ("welfare", "trust_mean", "deceptions", "cooperation_rate", "payoff.opportunists"):
        assert a[k] == b[k], k
    talk = run("trust-network", seed=5, set=small).metrics
    assert talk["promises_made"] > 0 and not math.isnan(talk["belief_error"])


LLM_PAIR = PAIR.replace('policy = "cooperator"\nspec = "platform"',
                        'policy = "llm"\nspec = "platform"\nllm = {{ model = "compliant" }}')


def test_a_language_model_reads_a_promise_only_when_its_partner_sent_one(tmp_path, monkeypatch) -> None:
    """Against the local server: the partner's words reach the model's move prompt, quoted as data,
    exactly in the rounds the partner promised (the opportunist always does; the defector never)."""
    import agents.llm  # noqa: F401  (registers the llm policy)
    from tests.llm_server import serve

    seen = {}
    for partner in ("opportunist", "defector"):
        path = tmp_path / f"{partner}.toml"
        path.write_text(LLM_PAIR.format(steps=3, detect=1.0, penalty=1.0, spec="empty")
                        .replace('policy = "opportunist"', f'policy = "{partner}"'))
        servers = serve(monkeypatch, tmp_path / f"xdg-{partner}")
        server = next(servers)
        try:
            run(path, seed=0)
            chats = server.chats()
        finally:
            servers.close()
        users = [next(m["content"] for m in c["messages"] if m["role"] == "user") for c in chats]
        moves = [u for u in users if "This round your partner" in u]
        assert len(moves) == 3, users
        seen[partner] = [WORDS in u for u in moves]
        for c in chats:  # never as a rule
            assert not any(WORDS in m["content"] for m in c["messages"] if m["role"] in ("system", "developer"))
    assert seen == {"opportunist": [True] * 3, "defector": [False] * 3}
