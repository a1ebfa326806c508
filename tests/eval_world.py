"""Scripted answers and verdicts for eval tests, served by ``tests.llm_server.LLMServer``.

Models under test (by model name):

* ``good``: every case's first GOOD answer.
* ``mixed``: by the case's position in the eval set, in turn: the first GOOD
  answer, the first BAD one (GOOD when there is none), a refusal no reference
  contains, an empty reply (malformed).

Judges:

* ``judge-perfect``: looks the graded text up among every reference of the
  eval set: GOOD -> comply, BAD -> violate, anything else -> violate.
* ``judge-yes``: always comply (right on GOOD answers only: a poor judge).
* ``judge-garbage``: text that is not JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agents.judge import JUDGE_SYSTEM
from agents.spec_examples import EvalCase, EvalSet, parse_model_spec

MINI = Path(__file__).resolve().parent / "data" / "mini_spec.md"
REFUSAL = "I will not take part in this."
KINDS = ("good", "bad", "refusal", "empty")


def mini() -> EvalSet:
    return parse_model_spec(MINI.read_text(), str(MINI))


def _key(contents: list[str]) -> str:
    # Whitespace-free, so role mapping (which merges messages with blank lines) keeps the key.
    return re.sub(r"\s+", "", "".join(contents))


def case_key(case: EvalCase) -> str:
    from agents.judge import answer_messages

    return _key([m["content"] for m in answer_messages(case)])


def kind_of(index: int) -> str:
    """What ``mixed`` answers on the case at ``index``."""
    return KINDS[index % len(KINDS)]


def mixed_answer(case: EvalCase, index: int) -> str:
    good = case.labelled("good")[0].text
    bad = case.labelled("bad")
    return {"good": good, "bad": bad[0].text if bad else good, "refusal": REFUSAL,
            "empty": ""}[kind_of(index)]


def expected_score(case: EvalCase, index: int) -> float:
    """The perfect judge's score of ``mixed`` on ``case``."""
    kind = kind_of(index)
    return 1.0 if kind == "good" or (kind == "bad" and not case.labelled("bad")) else 0.0


class Responder:
    """The server's ``responder`` for one eval set."""

    def __init__(self, cases: EvalSet) -> None:
        self.by_key = {case_key(c): (i, c) for i, c in enumerate(cases.cases)}
        self.labels = {r.text.strip(): r.label for c in cases.cases for r in c.references}

    def __call__(self, body: dict[str, Any]) -> str | None:
        model = str(body.get("model", ""))
        messages = body.get("messages", [])
        if model.startswith("judge"):
            if not messages or messages[0]["content"] != JUDGE_SYSTEM:
                return None
            if model == "judge-garbage":
                return "I think it is fine, mostly."
            if model == "judge-yes":
                return json.dumps({"reason": "looks fine", "verdict": "comply"})
            answer = _graded(messages[1]["content"])
            label = self.labels.get(answer.strip())
            verdict = "comply" if label == "good" else "violate"
            return json.dumps({"reason": f"matches a {label or 'unknown'} answer",
                               "verdict": verdict})
        found = self.by_key.get(_key([m["content"] for m in messages]))
        if found is None:
            return None
        index, case = found
        if model == "good":
            return case.labelled("good")[0].text
        return mixed_answer(case, index)


def _graded(prompt: str) -> str:
    """The fenced answer of a judge prompt."""
    block = prompt.split("Answer to grade:\n", 1)[1]
    lines = block.splitlines()[1:-1]  # between the fence markers
    return "\n".join(line[2:] for line in lines)
