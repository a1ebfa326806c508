"""The ``eval`` sub-command: a spec's own examples as an eval of real models.

    specbound eval list SOURCE [--json]
    specbound eval SOURCE --model M [--model M2 ...] --judge J [--set llm.KEY=V1,V2 ...]
                   [--runs K] [--principle ID ...] [--out DIR] [--config FILE]
                   [--max-cost USD] [--threshold X] [--dry-run] [--json]

SOURCE is ``model-spec`` (the Model Spec's markdown, found at
``$SPECBOUND_MODEL_SPEC`` or ``../shared/reference/model_spec.md``), a path to
a Model Spec-style ``.md`` file, or a spec (a shipped id or a ``.toml`` path)
whose principles carry examples with messages.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.errors import SpecboundError
from agents.spec_examples import MODEL_SPEC, EvalSet


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval`` to a parser's sub-commands."""
    p = subparsers.add_parser(
        "eval", help="grade models on a spec's own examples with a calibrated judge",
        description="`eval list SOURCE` counts the cases; `eval SOURCE --model M --judge J` "
                    "asks each model every case, has the judge grade the answers against the "
                    "labelled GOOD/BAD answers, and stores the results in --out.")
    p.add_argument("source", nargs="+", metavar="SOURCE",
                   help="model-spec, a Model Spec-style .md, or a spec id or .toml "
                        "(or: list SOURCE)")
    p.add_argument("--model", action="append", default=[], metavar="M",
                   help="model under test, as the server names it (repeatable)")
    p.add_argument("--judge", metavar="J", help="the judge model (or judge.model in --config)")
    p.add_argument("--set", action="append", default=[], metavar="llm.KEY=V1,V2",
                   help="settings to compare (every combination), e.g. "
                        "llm.reasoning_effort=low,high")
    p.add_argument("--runs", type=int, default=1, help="samples per case and model (default 1)")
    p.add_argument("--principle", action="append", default=[], metavar="ID",
                   help="only this principle's cases (repeatable)")
    p.add_argument("--out", metavar="DIR", help="store folder (default out/eval-<source>)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML with [llm] (model defaults), [judge] and [prices]")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="stop sending before the priced total could pass this")
    p.add_argument("--threshold", type=float, default=None,
                   help="judge accuracy on labelled answers below which results are flagged "
                        "(default 0.8)")
    p.add_argument("--dry-run", action="store_true",
                   help="count requests and estimate tokens and cost; send nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``eval``."""
    source = list(args.source)
    if source[0] == "list":
        if len(source) != 2:
            raise SpecboundError("eval list: name one SOURCE, e.g. `specbound eval list model-spec`")
        return _list(load_source(source[1])[0], args.json)
    if len(source) != 1:
        raise SpecboundError(f"eval: one SOURCE expected, got {' '.join(source)!r} "
                             "(to count cases: eval list SOURCE)")
    return _run(args, source[0])


def load_source(ref: str) -> tuple[EvalSet, str]:
    """The eval set named by ``ref`` and the source text (kept with the results)."""
    from agents.spec_examples import load_markdown, spec_eval_set

    if ref == MODEL_SPEC or ref.endswith(".md"):
        return load_markdown(ref)
    import scenarios  # noqa: F401  (checks used by specs are registered there)
    from agents.spec import SpecLibrary

    lib = SpecLibrary()
    if ref.endswith(".toml"):
        if not Path(ref).is_file():
            raise SpecboundError(f"{ref}: no such file")
        spec = lib.load_file(ref)
        source = ref
    elif ref in lib.ids():
        spec, source = lib.get(ref), f"spec {ref}"
    else:
        raise SpecboundError(f"{ref}: not a spec id or file; allowed: {MODEL_SPEC}, a .md "
                             f"file, a .toml spec, or one of {', '.join(lib.ids())}")
    cases = spec_eval_set(spec, source)
    if not cases.cases:
        raise SpecboundError(f"{source}: no example with messages; add "
                             "[[principles.examples]] with messages, good and bad")
    return cases, "\n".join(text for _, text in spec.texts)


def _list(cases: EvalSet, as_json: bool) -> int:
    levels = {p.id: str(p.level) for p in cases.principles}
    by_p, by_l = cases.by_principle(), cases.by_level()
    if as_json:
        print(json.dumps({"source": cases.name, "cases": len(cases.cases),
                          "skipped": cases.skipped,
                          "principles": [{"id": p, "level": levels[p], "cases": n}
                                         for p, n in by_p.items()],
                          "levels": by_l}, indent=1))
        return 0
    print(f"{cases.name}: {len(cases.cases)} cases of {len(by_p)} principles"
          + (f" ({cases.skipped} examples without messages skipped)" if cases.skipped else ""))
    print("by level:")
    for level, n in by_l.items():
        print(f"  {level:<10} {n:>4}")
    print("by principle:")
    width = max(len(p) for p in by_p)
    for p, n in by_p.items():
        print(f"  {p:<{width}}  {levels[p]:<9} {n:>3}")
    return 0


# --- running -----------------------------------------------------------------------------


def load_config(path: str | None) -> dict[str, Any]:
    """The user's eval config: ``[llm]``, ``[judge]`` and ``[prices]`` tables (all optional)."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise SpecboundError(f"--config {path}: cannot read ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecboundError(f"--config {path}: {err}") from None
    unknown = sorted(set(data) - {"llm", "judge", "prices"})
    if unknown:
        raise SpecboundError(f"--config {path}: unknown table {unknown[0]!r}; allowed: llm, "
                             "judge, prices")
    for key in ("llm", "judge", "prices"):
        if not isinstance(data.get(key, {}), dict):
            raise SpecboundError(f"--config {path}: [{key}] must be a table")
    if "model" in data.get("llm", {}):
        raise SpecboundError(f"--config {path}: llm.model: models under test are --model")
    return data


def parse_settings(items: Sequence[str]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """``--set llm.KEY=V1,V2`` options as the settings grid (every combination)."""
    import itertools

    from cli.base import parse_value
    from sim.runs.eval_run import SETTING_KEYS

    axes: dict[str, list[Any]] = {}
    for item in items:
        path, eq, values = item.partition("=")
        key = path.strip().removeprefix("llm.")
        if not eq or not path.strip().startswith("llm.") or key not in SETTING_KEYS:
            raise SpecboundError(
                f"--set {item!r}: expected llm.KEY=V1,V2,... with KEY one of "
                f"{', '.join(SETTING_KEYS)} (models are --model, prices go in --config)")
        parsed = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
        if not parsed:
            raise SpecboundError(f"--set {item!r}: no value given")
        axes[key] = parsed
    keys = list(axes)
    return tuple(tuple(zip(keys, combo, strict=True))
                 for combo in itertools.product(*(axes[k] for k in keys)))


def build_plan(args: argparse.Namespace, source: str) -> Any:
    """The :class:`sim.runs.eval_run.EvalPlan` of the arguments; every check before any request."""
    from agents.llm import LLMConfig
    from sim.runs.eval_run import DEFAULT_THRESHOLD, JUDGE_DEFAULTS, MODEL_DEFAULTS, EvalPlan

    if not args.model:
        raise SpecboundError("eval: no model to evaluate; give at least one --model M")
    if len(set(args.model)) != len(args.model):
        raise SpecboundError(f"--model: a model is named twice in {args.model}")
    if args.runs < 1:
        raise SpecboundError(f"--runs must be at least 1, got {args.runs}")
    if args.max_cost is not None and not args.max_cost > 0:
        raise SpecboundError(f"--max-cost must be a positive number of USD, got {args.max_cost}")
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    if not 0 <= threshold <= 1:
        raise SpecboundError(f"--threshold must be between 0 and 1, got {threshold}")
    config = load_config(args.config)
    cases, text = load_source(source)
    cases = cases.select(args.principle)
    prices = config.get("prices", {})
    model_table = {**MODEL_DEFAULTS, **config.get("llm", {}), "prices": prices}
    judge_table = {**JUDGE_DEFAULTS, **config.get("judge", {}), "prices": prices}
    if args.judge:
        judge_table["model"] = args.judge
    if "model" not in judge_table:
        raise SpecboundError("eval: no judge; give --judge J (or judge.model in --config)")
    settings = parse_settings(args.set)
    judge = LLMConfig.from_dict(judge_table, "judge")
    plan = EvalPlan(cases, text, tuple(args.model), settings, judge, model_table, args.runs,
                    args.max_cost, threshold)
    plan.points()  # validates every model setting (one line naming the key)
    if args.max_cost is not None:
        unpriced = sorted({p.model for p in plan.points() if p.config.price() is None}
                          | ({judge.model} if judge.price() is None else set()))
        if unpriced:
            raise SpecboundError(f"--max-cost needs a price for every model; none in --config "
                                 f"[prices] for {', '.join(unpriced)}")
    return plan


def _run(args: argparse.Namespace, source: str) -> int:
    from sim.runs.eval_run import dry_run, run_eval

    plan = build_plan(args, source)
    if args.dry_run:
        return _print_dry_run(dry_run(plan), plan, args.json)
    out = args.out or f"out/eval-{plan.cases.name}"
    from sim.runs.store import check_folder

    check_folder(out)
    outcome = run_eval(plan, out)
    return _print_results(outcome, args)


def _cost(value: float | None) -> str:
    return "unpriced" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"${value:.4f}"


def _print_dry_run(estimates: list[Any], plan: Any, as_json: bool) -> int:
    if as_json:
        print(json.dumps([e.__dict__ for e in estimates], indent=1))
        return 0
    print(f"dry run: {len(plan.cases.cases)} cases x {plan.samples} samples, "
          f"{len(plan.points())} model setting(s); nothing sent")
    for e in estimates:
        print(f"  {e.name}: {e.requests} requests ({e.cached} cached), ~{e.prompt_tokens} "
              f"prompt tokens, <= {e.completion_tokens} completion tokens, "
              f"{_cost(e.cost_usd)} at most")
    total = [e.cost_usd for e in estimates]
    if all(c is not None for c in total):
        print(f"  total: {_cost(sum(total))} at most")
    print("  (grading an answer is estimated; answers and calibration are counted exactly)")
    return 0


def _print_results(outcome: Any, args: argparse.Namespace) -> int:
    from analysis.aggregate import Bootstrap
    from analysis.evals import compliance_table, eval_calibration, load_eval

    results = load_eval(outcome.folder, outcome.sweep_id)
    boot = Bootstrap(seed=args.seed)
    cal = eval_calibration(results)
    overall = compliance_table(results.answers, ["label"], boot)
    levels = compliance_table(results.answers, ["label", "level"], boot)
    if args.json:
        print(json.dumps(_clean({
            "store": str(outcome.folder), "sweep_id": outcome.sweep_id,
            "judge": {"model": cal.judge, "accuracy": cal.accuracy, "lo": cal.lo, "hi": cal.hi,
                      "n": cal.n, "failures": cal.failures, "threshold": cal.threshold,
                      "flagged": cal.flagged},
            "overall": overall.to_dict("records"), "levels": levels.to_dict("records"),
            "ledger": outcome.ledgers, "stopped": outcome.stopped, "missing": outcome.missing,
        }), indent=1, allow_nan=False))
    else:
        print(cal.line())
        for r in overall.to_dict("records"):
            print(f"{r['label']}: compliance {_ci(r)} over {r['cases']} cases "
                  f"({r['judge_failures']} judge failures, {r['errors']} errors)")
            for lv in levels[levels["label"] == r["label"]].to_dict("records"):
                print(f"  {lv['level']:<10} {_ci(lv)}  ({lv['cases']} cases)")
        print("ledger:")
        for name, led in outcome.ledgers.items():
            print(f"  {name}: {led['calls']} calls, {led['cached']} cached, {led['errors']} "
                  f"errors, {led['prompt_tokens']} prompt + {led['completion_tokens']} "
                  f"completion tokens, {_cost(led['cost_usd'])}")
        if outcome.stopped:
            print(f"stopped by --max-cost: {outcome.missing} answers not done; what was done is "
                  "stored, rerun the same command (with a higher limit) to finish")
        print(f"store: {outcome.folder}")
    return 1 if outcome.missing else 0


def _ci(r: dict[str, Any]) -> str:
    if r["mean"] is None or math.isnan(r["mean"]):
        return "-"
    return f"{r['mean']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN (no grade, no price) becomes null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
