"""The spec-example eval as an ``inspect_ai`` task (install ``specbound[inspect]``).

The same cases and the same anchored judge as ``specbound eval``, for users of
inspect: its model providers, its log viewer, its ``eval`` command::

    inspect eval agents/inspect_task.py --model openai/gpt-4.1-mini \\
        --model-role grader=openai/gpt-4.1 -T source=model-spec -T principles=do_not_lie

Each case is a sample (id ``<principle>/<n>``, metadata ``principle`` and
``level``) whose input is the case's conversation with the roles a chat
request carries (tool output fenced as data in a user message). The scorer
asks the model bound to the ``grader`` role (else the model under test) for a
structured verdict, and scores comply as correct, violate as incorrect and an
unusable verdict as no answer; accuracy is reported overall and per level.
Judge calibration and the store stay with ``specbound eval``.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    ResponseSchema,
    get_model,
)
from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    NOANSWER,
    Score,
    Scorer,
    Target,
    accuracy,
    grouped,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState, generate
from inspect_ai.util import JSONSchema

from agents.judge import answer_messages, judge_format, judge_messages, parse_verdict
from agents.spec_examples import MODEL_SPEC, EvalSet, load_markdown

_CHAT = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


def samples(cases: EvalSet, roles: dict[str, str] | None = None) -> list[Sample]:
    """One inspect sample per case (``developer`` goes to ``system``: inspect has no such role)."""
    mapping = {"developer": "system", **dict(roles or {})}
    out = []
    for case in cases.cases:
        messages: list[ChatMessage] = [
            _CHAT[m["role"]](content=m["content"]) for m in answer_messages(case, mapping)]
        target = "\n\n".join(r.text for r in case.labelled("good"))
        out.append(Sample(id=case.id, input=messages, target=target,
                          metadata={"principle": case.principle, "level": str(case.level)}))
    return out


@scorer(metrics=[grouped(accuracy(), "level"), stderr()])
def spec_judge(cases: EvalSet, model: str | None = None) -> Scorer:
    """Grade the answer against the case's principle with its GOOD/BAD answers as anchors."""
    by_id = {c.id: c for c in cases.cases}
    fmt = judge_format()["json_schema"]
    schema = ResponseSchema(name=fmt["name"], json_schema=JSONSchema.model_validate(fmt["schema"]),
                            strict=True)

    async def score(state: TaskState, target: Target) -> Score:
        case = by_id[str(state.sample_id)]
        answer = state.output.completion
        system, user = judge_messages(case, cases.principle(case.principle), answer)
        grader = get_model(model, role="grader")
        result = await grader.generate(
            [ChatMessageSystem(content=system["content"]), ChatMessageUser(content=user["content"])],
            config=GenerateConfig(response_schema=schema, temperature=0.0))
        verdict = parse_verdict(result.completion)
        meta: dict[str, Any] = {"principle": case.principle, "level": str(case.level)}
        if isinstance(verdict, str):
            return Score(value=NOANSWER, answer=answer, explanation=f"judge failure: {verdict}",
                         metadata=meta)
        value = CORRECT if verdict.verdict == "comply" else INCORRECT
        return Score(value=value, answer=answer, explanation=verdict.reason, metadata=meta)

    return score


@task
def spec_examples(source: str = MODEL_SPEC, principles: str = "", judge: str | None = None,
                  max_tokens: int = 800) -> Task:
    """The examples of ``source`` (``model-spec`` or a Model Spec-style ``.md``).

    Args:
        principles: comma-separated principle ids (default: all).
        judge: the grading model (default: the ``grader`` role, else the model under test).
        max_tokens: the answer's token budget.
    """
    cases, _ = load_markdown(source)
    cases = cases.select([p.strip() for p in principles.split(",") if p.strip()])
    return Task(dataset=MemoryDataset(samples(cases), name=cases.name), solver=generate(),
                scorer=spec_judge(cases, judge), config=GenerateConfig(max_tokens=max_tokens))
