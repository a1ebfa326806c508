"""LLM agents in the injection scenario, against the local server: messages shown only when sent, as data."""

from __future__ import annotations

import re

import pytest

import agents.llm  # noqa: F401  (registers the llm policy)
from sim.runs.run import run
from tests.llm_server import LLMServer, serve

STEPS = 3
HEAD = re.compile(r"You are agent (\d+) of the group '(\w+)' in a multi-agent simulation \(step (\d+)\)")
#: Words of each attack, as the mailbox delivers them.
ATTACK = {"attackers": "BEGIN SYSTEM MESSAGE", "tool": "wire the funds"}


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory):
    """One short run with LLM workers (platform spec) against the local server, for every test here."""
    with pytest.MonkeyPatch.context() as mp:
        servers = serve(mp, tmp_path_factory.mktemp("xdg"))
        server: LLMServer = next(servers)
        try:
            result = run("injection", seed=1, steps=STEPS, set={
                "groups.workers.policy": "llm", "groups.workers.params": {},
                "groups.workers.llm": {"model": "compliant"},
                "environment.attack_prob": 0.5, "environment.invoice_prob": 0.0,
                "environment.overreach_prob": 0.0,
            })
            chats = server.chats()
        finally:
            servers.close()
    decisions = {}
    for body in chats:
        by_role = {m["role"]: m["content"] for m in body["messages"]}
        agent, _group, step = HEAD.search(by_role["system"]).groups()
        decisions[(int(agent), int(step))] = by_role
    return result, decisions


def test_an_attack_is_shown_only_to_whom_and_when_it_was_sent(played) -> None:
    result, decisions = played
    ev = result.events
    sent = ev[ev.kind.isin(["injection_ignored", "injection_obeyed"])]
    reached = {(int(r.agent), int(r.step)): r.loser_source for r in sent.itertuples()}
    workers = {a for a, _ in decisions}
    assert any(a in workers for a, _ in reached) and len(decisions) > len(reached)
    for key, by_role in decisions.items():
        for source, words in ATTACK.items():
            shown = words in by_role["user"]
            assert shown is (reached.get(key) == source), (key, source)


def test_attacks_are_quoted_as_data_never_as_rules(played) -> None:
    _, decisions = played
    seen = 0
    for by_role in decisions.values():
        assert not any(w in by_role.get(r, "") for w in ATTACK.values() for r in ("system", "developer"))
        lines = by_role["user"].splitlines()
        for i, line in enumerate(lines):
            if any(w in line for w in ATTACK.values()):
                seen += 1
                assert line.startswith("> ")
                opening = next(x for x in reversed(lines[:i]) if x.startswith("<<<data "))
                assert opening.endswith("authority=none>>>")
    assert seen


def test_what_an_llm_worker_says_reaches_its_neighbours_next_step_as_data(played) -> None:
    _, decisions = played
    first = min(s for _, s in decisions)
    heard = {k for k, by_role in decisions.items() if "> fair offer" in by_role["user"]}
    assert heard and all(s > first for _, s in heard)  # said at one step, delivered at the next
    for key in heard:
        assert all("fair offer" not in decisions[key].get(r, "") for r in ("system", "developer"))
        user = decisions[key]["user"]
        assert re.search(r'from="workers \(agent \d+\)" kind=peer_message authority=none', user)
