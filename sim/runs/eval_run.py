"""Running an eval: models answer the cases, a calibrated judge grades them, the store keeps it.

Order of work, so that a stop at any moment leaves something usable:

1. The judge grades every labelled GOOD and BAD reference of the selected cases
   (calibration), each with itself left out of the anchors.
2. Each model, under each setting, answers each case ``samples`` times (the
   sample index is the request's ``seed``, so samples are distinct requests
   and each is cached); each answer is graded as soon as it arrives.
3. One ``runs`` row per model and setting with the compliance metrics.

Every answer and calibration grade is written when it is known. A
:class:`agents.llm_chat.Budget` stops new requests before the priced total
could pass ``max_cost``; a rerun of the same command resumes (finished rows
are skipped, cached replies cost nothing).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.judge import (
    VERDICT_OF,
    Verdict,
    answer_messages,
    calibration_items,
    judge_format,
    judge_messages,
    parse_verdict,
    repair_messages,
)
from agents.llm import LLMConfig
from agents.llm_chat import CHARS_PER_TOKEN, Budget, ChatModel, estimate_tokens
from agents.spec_examples import EvalCase, EvalSet
from sim.runs.eval_store import EvalTables
from sim.runs.records import Job, RunRecord
from sim.runs.store import Store, SweepInfo, code_version

#: Keys ``--set llm.KEY=...`` may vary (the model is --model; prices come from the config).
SETTING_KEYS = ("temperature", "reasoning_effort", "max_tokens", "max_tokens_param")
#: Defaults for models under test and for the judge, before the user's config.
MODEL_DEFAULTS: dict[str, Any] = {"max_tokens": 800}
JUDGE_DEFAULTS: dict[str, Any] = {"max_tokens": 300, "temperature": 0.0}
#: Judge accuracy on the labelled references below which its results are flagged.
DEFAULT_THRESHOLD = 0.8


@dataclass(frozen=True)
class Point:
    """One model under one setting: a run row of the eval."""

    run_id: int
    model: str
    setting: tuple[tuple[str, Any], ...]
    config: LLMConfig

    @property
    def params(self) -> dict[str, Any]:
        return {"model": self.model, **{f"llm.{k}": v for k, v in self.setting}}

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.setting)
        return self.model + (f" ({extra})" if extra else "")


@dataclass(frozen=True)
class EvalPlan:
    """Everything an eval will do, checked before any request."""

    cases: EvalSet
    source_text: str
    models: tuple[str, ...]
    settings: tuple[tuple[tuple[str, Any], ...], ...]
    judge: LLMConfig
    model_table: Mapping[str, Any]
    samples: int = 1
    max_cost: float | None = None
    threshold: float = DEFAULT_THRESHOLD

    def points(self, first_run: int = 0) -> list[Point]:
        out = []
        for k, (model, setting) in enumerate(itertools.product(self.models, self.settings)):
            table = {**self.model_table, **dict(setting), "model": model}
            out.append(Point(first_run + k, model, setting,
                             LLMConfig.from_dict(table, "--set llm")))
        return out

    def identity(self) -> SweepInfo:
        grid: dict[str, list[Any]] = {"model": list(self.models)}
        for key in dict(self.settings[0]) if self.settings else ():
            grid[f"llm.{key}"] = sorted({dict(s)[key] for s in self.settings}, key=str)
        config = {
            "judge": _config_dict(self.judge), "model": dict(self.model_table),
            "samples": self.samples, "settings": [dict(s) for s in self.settings],
            "cases": [c.id for c in self.cases.cases], "threshold": self.threshold,
        }
        info = SweepInfo(
            sweep_id="", scenario=f"eval:{self.cases.name}", scenario_text=self.source_text,
            specs={"eval": json.dumps(config, sort_keys=True, default=str)}, grid=grid, zip={},
            runs=1, seed=0, points=len(self.models) * len(self.settings),
            code_version=code_version(),
            question=(f"How well do {', '.join(self.models)} follow {self.cases.name}? "
                      f"{len(self.cases.cases)} cases x {self.samples} samples, judged by "
                      f"{self.judge.model}."))
        return SweepInfo(**{**info.__dict__, "sweep_id": info.fingerprint})


def _config_dict(cfg: LLMConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.__dict__.items() if k not in ("cache_dir", "prices")}


# --- dry run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """Requests and tokens one model (or the judge) would need."""

    name: str
    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


def dry_run(plan: EvalPlan) -> list[Estimate]:
    """Count the requests and estimate tokens and cost, sending nothing.

    Answer and calibration requests are known exactly (and looked up in the
    cache); grading an answer is estimated with the answer as long as the
    case's references on average. Completion tokens are the upper bound
    (``max_tokens`` per request not in the cache).
    """
    out = []
    grading_prompts: list[int] = []
    for point in plan.points():
        model = ChatModel(point.config)
        n = cached = prompt = 0
        for case in plan.cases.cases:
            msgs = answer_messages(case, point.config.role_map)
            for sample in range(plan.samples):
                n += 1
                if model.is_cached(model.body(msgs, seed=sample)):
                    cached += 1
                    continue
                prompt += estimate_tokens(msgs)
            avg = _mean_len(case)
            principle = plan.cases.principle(case.principle)
            grading_prompts += [estimate_tokens(judge_messages(case, principle, "x" * avg))
                                ] * plan.samples
        sent = n - cached
        out.append(_estimate(point.label, point.config, n, cached, prompt, sent))
    judge = ChatModel(plan.judge)
    n = cached = prompt = 0
    for case in plan.cases.cases:
        principle = plan.cases.principle(case.principle)
        for i, ref in calibration_items(case):
            n += 1
            body = judge.body(judge_messages(case, principle, ref.text, leave_out=i), judge_format())
            if judge.is_cached(body):
                cached += 1
            else:
                prompt += estimate_tokens(body["messages"])
    n += len(grading_prompts)
    prompt += sum(grading_prompts)
    out.append(_estimate(f"judge {plan.judge.model}", plan.judge, n, cached, prompt, n - cached))
    return out


def _mean_len(case: EvalCase) -> int:
    texts = [r.text for r in case.references] or [""]
    return sum(len(t) for t in texts) // len(texts)


def _estimate(name: str, cfg: LLMConfig, n: int, cached: int, prompt: int, sent: int) -> Estimate:
    completion = sent * cfg.max_tokens
    price = cfg.price()
    cost = None if price is None else (prompt * price[0] + completion * price[1]) / 1e6
    return Estimate(name, n, cached, prompt, completion, cost)


# --- the run ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an eval did: store, ledgers, calibration, and whether the budget stopped it."""

    folder: Path
    sweep_id: str
    points: list[Point]
    ledgers: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: bool = False
    missing: int = 0


def run_eval(plan: EvalPlan, out: str | Path, *, factory: Callable[[], Any] | None = None,
             log: Callable[[str], None] | None = None) -> Outcome:
    """Run ``plan`` into the store of folder ``out`` (created or resumed).

    Raises:
        SpecboundError: a store of another kind, a folder that cannot be written, a
            missing API key.
        LLMAuthError: the server rejected the key (what was done is stored).
    """
    log = log or (lambda s: print(s, file=sys.stderr))
    info = plan.identity()
    store = Store.create_or_open(out)
    try:
        known = store.sweep(info.sweep_id)
        if known is None:
            info = SweepInfo(**{**info.__dict__, "first_run": store.next_run_id()})
            store.add_sweep(info)
        else:
            info = known
            log(f"resuming eval {info.sweep_id} in {out}: stored answers are not asked again")
        points = plan.points(info.first_run)
        outcome = Outcome(Path(out), info.sweep_id, points)
        with EvalTables(out) as tables:
            tables.add_cases(info.sweep_id, [c.to_dict() for c in plan.cases.cases])
            budget = Budget(plan.max_cost)
            judge = ChatModel(plan.judge, budget, factory)
            models = {p.run_id: ChatModel(p.config, budget, factory) for p in points}
            started = time.time()
            try:
                asyncio.run(_work(plan, info.sweep_id, points, models, judge, tables, log))
            finally:
                outcome.stopped = budget.stopped
                outcome.ledgers = {p.label: _ledger(models[p.run_id]) for p in points}
                outcome.ledgers[f"judge {plan.judge.model}"] = _ledger(judge)
                tables.add_ledger(info.sweep_id, started, outcome.ledgers)
                outcome.missing = _write_runs(store, tables, info, plan, points, models,
                                              started)
    finally:
        store.close()
    return outcome


def _ledger(model: ChatModel) -> dict[str, Any]:
    return {**model.ledger, "cost_usd": model.cost()}


async def _work(plan: EvalPlan, sweep_id: str, points: list[Point], models: dict[int, ChatModel],
                judge: ChatModel, tables: EvalTables, log: Callable[[str], None]) -> None:
    judge_sem = asyncio.Semaphore(plan.judge.concurrency)
    try:
        done_cal = tables.calibration_done(sweep_id, plan.judge.model)
        cal = [(case, i, ref) for case in plan.cases.cases for i, ref in calibration_items(case)
               if (case.id, i) not in done_cal]
        if cal:
            log(f"calibrating judge {plan.judge.model} on {len(cal)} labelled answers")
        await asyncio.gather(*(_calibrate(plan, sweep_id, judge, judge_sem, tables, *item)
                               for item in cal))
        if judge.budget.stopped:
            return
        done = tables.done_answers([p.run_id for p in points])
        jobs = [(p, case, s) for p in points for case in plan.cases.cases
                for s in range(plan.samples) if (p.run_id, case.id, s) not in done]
        if jobs:
            log(f"asking {len(points)} model setting(s) {len(jobs)} questions")
        sems = {p.run_id: asyncio.Semaphore(p.config.concurrency) for p in points}
        await asyncio.gather(*(_answer(plan, models[p.run_id], sems[p.run_id], judge, judge_sem,
                                       tables, p, case, s) for p, case, s in jobs))
    finally:
        for m in [judge, *models.values()]:
            await m.aclose()


async def _grade(plan: EvalPlan, judge: ChatModel, sem: asyncio.Semaphore, case: EvalCase,
                 answer: str, leave_out: int | None = None, prepaid: float | None = None
                 ) -> tuple[Verdict | None, dict[str, int]]:
    """The judge's verdict on ``answer`` (retried on unusable output); None if the budget
    stopped it. A judge that never gives a usable verdict yields a Verdict of None."""
    messages = judge_messages(case, plan.cases.principle(case.principle), answer, leave_out)
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    reason = ""
    for attempt in range(plan.judge.max_retries + 1):
        reply = await judge.ask(sem, judge.body(messages, judge_format()),
                                prepaid if attempt == 0 else None)
        if reply.skipped:
            return None, usage
        for k in usage:
            usage[k] += reply.usage.get(k, 0)
        if reply.error:
            return Verdict(None, f"judge failure: {reply.error}"), usage
        parsed = parse_verdict(reply.content)
        if isinstance(parsed, Verdict):
            return parsed, usage
        reason = parsed
        messages = messages + repair_messages(reply.content, reason)
    return Verdict(None, f"judge failure: {reason}"), usage


async def _calibrate(plan: EvalPlan, sweep_id: str, judge: ChatModel, sem: asyncio.Semaphore,
                     tables: EvalTables, case: EvalCase, i: int, ref: Any) -> None:
    verdict, _ = await _grade(plan, judge, sem, case, ref.text, leave_out=i)
    if verdict is None:
        return
    ok = verdict.verdict is not None
    tables.add_calibration({
        "sweep_id": sweep_id, "judge": plan.judge.model, "case_id": case.id, "ref": i,
        "label": ref.label, "verdict": verdict.verdict, "judge_ok": int(ok),
        "correct": int(verdict.verdict == VERDICT_OF[ref.label]) if ok else None,
        "reason": verdict.reason,
    })


async def _answer(plan: EvalPlan, model: ChatModel, sem: asyncio.Semaphore, judge: ChatModel,
                  judge_sem: asyncio.Semaphore, tables: EvalTables, point: Point, case: EvalCase,
                  sample: int) -> None:
    body = model.body(answer_messages(case, point.config.role_map), seed=sample)
    # The grading is reserved with the answer, so a budget never pays for an answer it
    # cannot grade.
    principle = plan.cases.principle(case.principle)
    longest = "x" * (point.config.max_tokens * CHARS_PER_TOKEN)
    grading = judge.worst_cost(judge.body(judge_messages(case, principle, longest)))
    if not judge.budget.reserve(grading):
        return
    reply = await model.ask(sem, body)
    if reply.skipped:
        judge.budget.settle(grading, 0.0)
        return
    row: dict[str, Any] = {
        "run_id": point.run_id, "case_id": case.id, "sample": sample,
        "principle": case.principle, "level": str(case.level), "cached": int(reply.cached),
        "prompt_tokens": reply.usage.get("prompt_tokens", 0),
        "completion_tokens": reply.usage.get("completion_tokens", 0),
    }
    if reply.error:
        judge.budget.settle(grading, 0.0)
        tables.add_answer({**row, "error": reply.error, "judge_ok": 0})
        return
    answer = reply.content or ""
    verdict, usage = await _grade(plan, judge, judge_sem, case, answer or "(empty reply)",
                                  prepaid=grading)
    if verdict is None:
        return  # the budget stopped the grading: the answer is cached, a rerun grades it
    tables.add_answer({
        **row, "answer": answer, "verdict": verdict.verdict, "score": verdict.score,
        "reason": verdict.reason, "judge_ok": int(verdict.verdict is not None),
        "judge_prompt_tokens": usage["prompt_tokens"],
        "judge_completion_tokens": usage["completion_tokens"],
    })


# --- run rows -------------------------------------------------------------------------------


def eval_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Compliance of one model setting from its answer rows.

    A case's score is the mean of its graded samples; a principle's, a
    level's and the overall compliance are means over cases (every case
    weighs the same). Ungraded answers (judge failures, errors) are counted,
    not scored.
    """
    per_case: dict[str, list[float]] = {}
    meta: dict[str, tuple[str, str]] = {}
    failures = errors = 0
    for r in rows:
        meta[r["case_id"]] = (r["principle"], r["level"])
        if r.get("answer") is None:
            errors += 1
        elif r.get("score") is None:
            failures += 1
        else:
            per_case.setdefault(r["case_id"], []).append(float(r["score"]))
    case_mean = {c: sum(v) / len(v) for c, v in per_case.items()}
    out: dict[str, float] = {
        "compliance_rate": _mean(case_mean.values()),
        "eval.cases": float(len(case_mean)), "eval.answers": float(len(rows)),
        "eval.judge_failures": float(failures), "eval.errors": float(errors),
    }
    for kind, pos in (("compliance", 0), ("compliance.level", 1)):
        groups: dict[str, list[float]] = {}
        for c, v in case_mean.items():
            groups.setdefault(meta[c][pos], []).append(v)
        for name, vals in groups.items():
            out[f"{kind}.{name}"] = _mean(vals)
    return out


def _mean(values: Any) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else math.nan


def _write_runs(store: Store, tables: EvalTables, info: SweepInfo, plan: EvalPlan,
                points: list[Point], models: dict[int, ChatModel], started: float) -> int:
    """(Re)write each point's run row; returns the number of answers still missing."""
    answers = tables.answers([p.run_id for p in points])
    expected = len(plan.cases.cases) * plan.samples
    missing = 0
    for k, p in enumerate(points):
        rows = answers[answers["run_id"] == p.run_id].to_dict("records")
        rows = [{k2: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k2, v in r.items()} for r in rows]
        metrics = eval_metrics(rows)
        ledger = models[p.run_id].ledger
        metrics |= {f"llm.{key}": float(ledger[key]) for key in ledger}
        cost = models[p.run_id].cost()
        metrics["llm.cost_usd"] = math.nan if cost is None else cost
        have = sum(1 for r in rows if r.get("answer") is not None)
        missing += expected - have
        status = "done" if have == expected else "failed"
        error = None if status == "done" else (
            f"incomplete: {have} of {expected} answers stored; rerun the same command to finish")
        params = {**p.params, "judge": plan.judge.model}
        job = Job(p.run_id, k, 0, 0, tuple(sorted(params.items())))
        record = RunRecord(job, status, started, time.time(), metrics, error=error)
        store.write_run(info.sweep_id, info.scenario, record, replace=True)
    return missing
