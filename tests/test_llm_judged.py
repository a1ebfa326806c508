"""Text-only principles of an LLM group judged in audit mode, against the local server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import agents.llm  # noqa: F401  (registers the llm policy)
from agents.errors import SpecboundError
from agents.llm_judged import SYSTEM, JudgeConfig, judged_metrics
from sim.runs.run import run
from tests.llm_server import LLMServer, serve

STEPS = 3
DECISIONS = STEPS * 11  # the cooperator meets 11 partners a step in ipd-classic


def judge(body: dict) -> str | None:
    """Comply when the agent's message is the compliant model's, else violate; garbage for
    the judge model named ``garbage``."""
    if body["messages"][0]["content"] != SYSTEM:
        return None
    if body["model"] == "garbage":
        return "no idea"
    verdict = "comply" if "fair offer" in body["messages"][1]["content"] else "violate"
    return json.dumps({"reason": "scripted", "verdict": verdict})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for srv in serve(monkeypatch, tmp_path / "xdg"):
        srv.responder = judge
        yield srv


def play(model: str, mode: str = "audit", rate: float = 1.0, judge_model: str = "judge"):
    return run("ipd-classic", seed=1, steps=STEPS, set={
        "groups.cooperator.policy": "llm",
        "groups.cooperator.spec": "platform",
        # keep_promises without its check: text-only, so only a judge can score it
        "specs.platform.principles.keep_promises.check": "",
        "groups.cooperator.llm": {"model": model,
                                  "judge": {"model": judge_model, "rate": rate}},
        "groups.cooperator.mode": mode,
    })


@pytest.mark.parametrize(
    ("model", "mode", "compliance", "judged"),
    [
        ("compliant", "audit", 1.0, DECISIONS),
        ("deceptive", "audit", 0.0, DECISIONS),
        ("compliant", "enforce", None, None),  # judged only in audit mode
    ],
)
def test_judged_principles_feed_compliance(server: LLMServer, model, mode, compliance,
                                           judged) -> None:
    m = play(model, mode).metrics
    assert m.get("compliance.keep_promises") == compliance
    assert m.get("judged.keep_promises") == judged
    assert "judged.do_not_lie" not in m  # checked principles are never judged


def test_sampling_rate_is_deterministic(server: LLMServer) -> None:
    first = play("compliant", rate=0.5).metrics["judged.keep_promises"]
    again = play("compliant", rate=0.5).metrics["judged.keep_promises"]
    assert first == again and 0 < first < DECISIONS


def test_garbage_judge_is_counted_not_scored(server: LLMServer) -> None:
    m = play("compliant", judge_model="garbage").metrics
    assert m["judge_failures.keep_promises"] == DECISIONS
    assert "compliance.keep_promises" not in m


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rate": 0.5}, "judge.model must be a non-empty string"),
        ({"model": "j", "rate": 2}, "judge.rate must be a number in 0..1"),
        ({"model": "j", "every": 1}, "judge: unknown key 'every'"),
    ],
)
def test_bad_judge_table(table, message) -> None:
    with pytest.raises(SpecboundError, match=message):
        JudgeConfig.from_dict(table, "groups.x.llm.judge")


def test_judged_metrics_add_groups() -> None:
    out = judged_metrics([{"p": [1, 2, 0]}, {"p": [1, 2, 1]}])
    assert out == {"compliance.p": 0.5, "judged.p": 4.0, "judge_failures.p": 1.0}
