"""A shipped scenario with one LLM group among rule-based ones, against the local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import agents.llm  # noqa: F401  (registers the llm policy)
from agents.errors import RunFailure
from sim.runs.run import run
from tests.llm_server import LLMServer, serve

STEPS = 3
PARTNERS = 11  # ipd-classic: 12 agents on a complete graph


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve(monkeypatch, tmp_path / "xdg")


def play(model: str, mode: str, check_llm: bool = True, **llm):
    return run(
        "ipd-classic",
        seed=1,
        steps=STEPS,
        check_llm=check_llm,
        set={
            "groups.cooperator.policy": "llm",
            "groups.cooperator.llm": {"model": model, **llm},
            "groups.cooperator.mode": mode,
            # The developer forbids defection; the rule names the act "D".
            "groups.cooperator.instructions": [
                {"id": "no_defection", "source": "developer", "text": "Never play D.",
                 "check": "cooperates"}
            ],
        },
    )


def kinds(result) -> dict[str, int]:
    if not len(result.events):
        return {}
    return {str(k): int(v) for k, v in result.events["kind"].value_counts().items()}


@pytest.mark.parametrize(
    ("model", "mode", "events", "conflicts"),
    [
        ("deceptive", "audit", {"conflict": STEPS * PARTNERS}, STEPS * PARTNERS),
        ("deceptive", "enforce", {"blocked": STEPS * PARTNERS}, 0),
        ("compliant", "audit", {}, 0),
        ("compliant", "enforce", {}, 0),
    ],
)
def test_llm_group_is_audited_or_enforced_in_a_mixed_run(
    server: LLMServer, model: str, mode: str, events: dict, conflicts: int
) -> None:
    result = play(model, mode)
    assert kinds(result) == events
    assert result.metrics["conflicts"] == conflicts
    # One decision per partner; identical requests (the same situation with several partners)
    # are sent once and answer each other, so every distinct request is sent exactly once.
    bodies = [json.dumps(b, sort_keys=True) for b in server.chats()]
    assert len(bodies) == len(set(bodies)) and 0 < len(bodies) < STEPS * PARTNERS
    assert result.metrics["llm.decisions"] == STEPS * PARTNERS
    assert result.metrics["llm.calls"] + result.metrics["llm.cached_decisions"] == STEPS * PARTNERS
    policies = {a["group"]: a["policy"] for a in result.agents}
    assert policies["cooperator"] == "llm"
    assert policies["tit_for_tat"] == "tit_for_tat"  # the others stay rule-based
    if mode == "audit" and model == "deceptive":
        row = result.events.iloc[0]
        assert (row["kind"], row["loser"], row["act"]) == ("conflict", "no_defection", "D")


def test_identical_rerun_is_served_from_the_cache(server: LLMServer) -> None:
    first = play("deceptive", "audit")
    sent = len(server.requests)
    second = play("deceptive", "audit")
    assert len(server.requests) == sent
    same = {k: v for k, v in second.metrics.items() if not k.startswith("llm.")}
    assert same == pytest.approx({k: v for k, v in first.metrics.items() if not k.startswith("llm.")},
                                 nan_ok=True)
    # The token accounting tells the two apart: the rerun made no call at all.
    assert first.metrics["llm.calls"] > 0 and second.metrics["llm.calls"] == 0
    assert second.metrics["llm.cached_decisions"] == STEPS * PARTNERS


def test_failing_server_falls_back_and_never_leaks_the_key(server: LLMServer) -> None:
    # Every call fails with a 500 that echoes the Authorization header. By default
    # such a run fails (one line, no key); looked into, its events tell why.
    with pytest.raises(RunFailure, match="33 of 33 language-model decisions failed") as failure:
        play("error500-999", "audit", client_retries=0, breaker=1000)
    assert server.api_key not in str(failure.value)
    result = play("error500-999", "audit", check_llm=False, client_retries=0, breaker=1000)
    assert kinds(result) == {"llm_error": STEPS * PARTNERS}
    # The fallback is the chain of command's own choice: cooperate.
    assert result.metrics["conflicts"] == 0
    dumped = result.events.to_json() + repr(result.to_json())
    assert "[redacted]" in dumped and server.api_key not in dumped
