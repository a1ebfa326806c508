"""The inspect_ai task on the same cases, run with inspect's own mock model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

inspect_ai = pytest.importorskip("inspect_ai")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402

from agents.inspect_task import samples, spec_examples  # noqa: E402
from tests.eval_world import MINI, Responder, mini  # noqa: E402

RESPONDER = Responder(mini())


def _wire(messages) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text} for m in messages]


def _output(content: str) -> ModelOutput:
    out = ModelOutput.from_content(model="mockllm", content=content)
    # With usage set, mockllm counts no tokens (its counter would fetch an encoding online).
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return out


def answering(kind: str):
    """A mockllm output function: the case's GOOD answer or the mixed one."""
    def output(messages, tools, tool_choice, config) -> ModelOutput:
        body = {"model": kind, "messages": _wire(messages)}
        return _output(RESPONDER(body) or "")
    return output


def grading(kind: str):
    def output(messages, tools, tool_choice, config) -> ModelOutput:
        assert config.response_schema is not None and config.response_schema.name == "verdict"
        body = {"model": kind, "messages": _wire(messages)}
        return _output(RESPONDER(body) or "")
    return output


def run(tmp_path: Path, model: str, judge: str, **task_args):
    grader = get_model("mockllm/model", custom_outputs=grading(judge), memoize=False)
    [log] = inspect_eval(spec_examples(source=str(MINI), **task_args), model="mockllm/model",
                         model_args={"custom_outputs": answering(model)},
                         model_roles={"grader": grader}, log_dir=str(tmp_path / "logs"),
                         display="none")
    return log


def test_samples_carry_the_cases() -> None:
    got = samples(mini())
    assert [s.id for s in got] == [c.id for c in mini().cases]
    first = got[0]
    assert [m.role for m in first.input] == ["system", "user"]  # developer -> system
    assert first.metadata == {"principle": "keep_secrets", "level": "developer"}


@pytest.mark.parametrize(("model", "judge", "overall"),
                         [("good", "judge-perfect", 1.0), ("mixed", "judge-perfect", 0.5)])
def test_scores_with_the_mock_model(tmp_path: Path, model: str, judge: str, overall: float) -> None:
    log = run(tmp_path, model, judge)
    assert log.status == "success"
    metrics = {name: m.value for s in log.results.scores for name, m in s.metrics.items()}
    assert metrics["all"] == pytest.approx(overall)
    if (model, judge) == ("mixed", "judge-perfect"):
        # root: be_honest/1 empty, be_honest/2 good; developer: good, no-bad -> good, refusal
        assert metrics["root"] == pytest.approx(0.5)
        assert metrics["developer"] == pytest.approx(2 / 3)
        assert metrics["guideline"] == 0.0


def test_garbage_verdict_is_no_answer(tmp_path: Path) -> None:
    log = run(tmp_path, "good", "judge-garbage", principles="be_kind")
    [sample] = log.samples
    [score] = sample.scores.values()
    assert score.value == "N" and score.explanation.startswith("judge failure")
    assert json.dumps(score.metadata) == '{"principle": "be_kind", "level": "guideline"}'
