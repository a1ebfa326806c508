"""LLM agents' memory window: the prompt holds the last N outcomes and no more (local fake server)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import agents.llm  # noqa: F401  (registers the llm policy)
from cli.main import main
from sim.runs.run import run
from tests.llm_server import LLMServer, serve

# One language-model agent and one tit for tat, one round a step.
PAIR = """
[scenario]
id = "memory"
environment = "ipd"
steps = {steps}
[network]
kind = "complete"
[groups.model]
count = 1
policy = "llm"
spec = "empty"
llm = {{ model = "{model}"{memory} }}
[groups.tft]
count = 1
policy = "tit_for_tat"
spec = "empty"
"""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from serve(monkeypatch, tmp_path / "xdg")


def _prompts(server: LLMServer) -> list[str]:
    return [next(m["content"] for m in body["messages"] if m["role"] == "user") for body in server.chats()]


def _play(tmp_path: Path, steps: int, memory: int | None, model: str = "compliant"):
    path = tmp_path / "memory.toml"
    extra = "" if memory is None else f", memory = {memory}"
    path.write_text(PAIR.format(steps=steps, model=model, memory=extra))
    return run(str(path), seed=0)


@pytest.mark.parametrize(("memory", "steps"), [(2, 5), (1, 3), (4, 3)])
def test_prompt_holds_the_last_n_outcomes(server: LLMServer, tmp_path: Path, memory: int, steps: int) -> None:
    _play(tmp_path, steps, memory)
    prompts = _prompts(server)
    assert len(prompts) == steps
    for step, prompt in enumerate(prompts, start=1):
        told = [int(s) for s in re.findall(r"^- step (\d+): ", prompt, flags=re.M)]
        # Step t is told steps max(1, t - N) .. t - 1, oldest first; the first step nothing.
        assert told == list(range(max(1, step - memory), step)), (step, prompt)
        if told:
            assert f"Your memory (your last {len(told)} outcomes, oldest first)" in prompt


def test_memory_tells_what_the_partner_did_and_the_payoff(server: LLMServer, tmp_path: Path) -> None:
    # "compliant" picks the first act no rule names: C; tit for tat cooperates back: R = 3.
    _play(tmp_path, 3, 2)
    last = _prompts(server)[-1]
    assert "- step 2: you chose C with agent 1, who chose C towards you; your payoff that step: 3" in last


def test_without_memory_the_prompt_tells_no_history(server: LLMServer, tmp_path: Path) -> None:
    _play(tmp_path, 3, None)
    assert not any("Your memory" in p for p in _prompts(server))


def test_negative_memory_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "memory.toml"
    path.write_text(PAIR.format(steps=2, model="compliant", memory=", memory = -1"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "llm.memory must be an integer >= 0, got -1" in err and "\n" not in err, err
