"""Eval results: compliance with intervals, judge calibration, figures, a report.

Reads an eval folder (the store written by ``specbound eval``). Intervals are a
two-level percentile bootstrap: cases are resampled with replacement, then each
drawn case's samples with replacement; the statistic is the mean over cases of
each case's mean over samples, so a case asked five times weighs no more than
a case asked once. Judge calibration is a proportion (correct grades of the
labelled references) with a Wilson score interval.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agents.errors import SpecboundError
from analysis.aggregate import DEFAULT_BOOTSTRAP, Bootstrap
from analysis.formats import EVAL_KINDS
from sim.runs.eval_store import EvalTables, is_eval_folder
from sim.runs.store import Store

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LEVELS = ("root", "system", "developer", "user", "guideline")
#: z of the Wilson interval for a 95% level (calibration).
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class EvalResults:
    """One eval of a folder: its run rows, graded answers, calibration and settings."""

    folder: Path
    sweep_id: str
    meta: dict[str, Any]
    runs: pd.DataFrame          # run_id, status, error, model, setting, label
    answers: pd.DataFrame       # eval_answers rows joined with label, model, setting
    calibration: pd.DataFrame
    judge: str
    threshold: float
    ledger: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    @property
    def setting_paths(self) -> list[str]:
        return [c for c in self.runs.columns if c.startswith("llm.")]


def load_eval(folder: str | os.PathLike[str], sweep: str | None = None) -> EvalResults:
    """The latest eval of ``folder`` (or the sweep id / prefix ``sweep``).

    Raises:
        SpecboundError: no store, no eval in it, or an unknown sweep.
    """
    path = Path(folder)
    if not is_eval_folder(path):
        raise SpecboundError(f"{folder}: no eval results here (run `specbound eval ... --out "
                             f"{folder}` first)")
    with Store.open(path) as store:
        evals = [s for s in store.sweeps() if s.scenario.startswith("eval:")]
        if sweep is not None:
            evals = [s for s in evals if s.sweep_id.startswith(sweep)]
        if not evals:
            raise SpecboundError(f"{folder}: no eval sweep" + (f" matching {sweep!r}" if sweep
                                                               else ""))
        info = evals[-1]
        runs = store.runs(info.sweep_id)
        meta = store.meta()
    config = json.loads(info.specs.get("eval", "{}"))
    paths = [c for c in runs.columns if c.startswith("llm.") and c in info.grid]
    runs = runs[["run_id", "status", "error", "model", *paths]].copy()
    runs["label"] = [_label(r, paths) for r in runs.to_dict("records")]
    with EvalTables(path, writable=False) as tables:
        answers = tables.answers(runs["run_id"].astype(int).tolist())
        calibration = tables.calibration(info.sweep_id)
        ledger = tables.ledger(info.sweep_id)
    answers = answers.merge(runs.drop(columns=["status", "error"]), on="run_id", how="left")
    judge = (config.get("judge") or {}).get("model", "?")
    meta = {**meta, "question": info.question, "sweep_id": info.sweep_id,
            "scenario": info.scenario, "code_version": info.code_version, "eval": config}
    return EvalResults(path, info.sweep_id, meta, runs, answers, calibration, judge,
                       float(config.get("threshold", 0.8)), ledger)


def _label(row: dict[str, Any], paths: list[str]) -> str:
    extra = ", ".join(f"{p.removeprefix('llm.')}={row[p]}" for p in paths)
    return str(row["model"]) + (f" ({extra})" if extra else "")


# --- statistics ----------------------------------------------------------------------------


def case_matrix(answers: pd.DataFrame) -> np.ndarray:
    """Scores as a (cases, samples) array, NaN where no grade exists."""
    graded = answers.dropna(subset=["score"])
    if graded.empty:
        return np.empty((0, 0))
    cases = sorted(graded["case_id"].unique())
    samples = sorted(graded["sample"].unique())
    ci = {c: i for i, c in enumerate(cases)}
    si = {s: i for i, s in enumerate(samples)}
    out = np.full((len(cases), len(samples)), np.nan)
    for c, s, v in zip(graded["case_id"], graded["sample"], graded["score"], strict=True):
        out[ci[c], si[s]] = v
    return out


def compliance_interval(scores: np.ndarray, boot: Bootstrap = DEFAULT_BOOTSTRAP
                        ) -> tuple[float, float, float]:
    """Mean over cases of per-case mean scores, with a two-level bootstrap interval.

    Args:
        scores: (cases, samples), NaN for missing grades; a case with no grade is dropped.
    """
    if scores.size == 0:
        return math.nan, math.nan, math.nan
    scores = scores[~np.all(np.isnan(scores), axis=1)]
    if len(scores) == 0:
        return math.nan, math.nan, math.nan
    case_means = np.nanmean(scores, axis=1)
    mean = float(case_means.mean())
    n_cases, n_samples = scores.shape
    rng = boot.rng()
    pick_cases = rng.integers(n_cases, size=(boot.resamples, n_cases))
    pick_samples = rng.integers(n_samples, size=(boot.resamples, n_cases, n_samples))
    drawn = scores[pick_cases[:, :, None], pick_samples]
    # A drawn case whose drawn samples are all missing falls back on its own mean.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_case = np.nanmean(drawn, axis=2)
    per_case = np.where(np.isnan(per_case), case_means[pick_cases], per_case)
    stats = per_case.mean(axis=1)
    alpha = (1 - boot.level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return mean, float(lo), float(hi)


def compliance_table(answers: pd.DataFrame, by: list[str],
                     boot: Bootstrap = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Compliance per group of ``by`` columns: n cases, answers, failures, mean, lo, hi."""
    rows = []
    if answers.empty:
        return pd.DataFrame(columns=[*by, "cases", "answers", "judge_failures", "errors",
                                     "mean", "lo", "hi"])
    for key, group in answers.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        mean, lo, hi = compliance_interval(case_matrix(group), boot)
        rows.append({**dict(zip(by, key, strict=True)),
                     "cases": int(group.dropna(subset=["score"])["case_id"].nunique()),
                     "answers": len(group),
                     "judge_failures": int((group["answer"].notna() & group["score"].isna()).sum()),
                     "errors": int(group["answer"].isna().sum()),
                     "mean": mean, "lo": lo, "hi": hi})
    frame = pd.DataFrame(rows)
    if "level" in by:  # highest authority first, as everywhere else
        rank = {lv: i for i, lv in enumerate(LEVELS)}
        frame = frame.sort_values("level", key=lambda s: s.map(rank), kind="stable")
        others = [k for k in by if k != "level"]
        if others:
            first = {v: i for i, v in enumerate(dict.fromkeys(frame[others[0]]))}
            order = {v: i for i, v in enumerate(dict.fromkeys(answers[others[0]]))} or first
            frame = frame.sort_values(others[0], key=lambda s: s.map(order), kind="stable")
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Calibration:
    """The judge's grades of the labelled references."""

    judge: str
    n: int
    correct: int
    failures: int
    good_accuracy: float
    bad_accuracy: float
    lo: float
    hi: float
    threshold: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else math.nan

    @property
    def flagged(self) -> bool:
        """Below the threshold (or nothing graded): its verdicts are not to be trusted."""
        return not self.n or self.accuracy < self.threshold

    def line(self) -> str:
        """One line for every printed result."""
        if not self.n:
            return (f"judge {self.judge}: no calibration grade yet; verdicts are UNCALIBRATED")
        flag = ("BELOW THRESHOLD: its verdicts are unreliable" if self.flagged
                else "ok")
        return (f"judge {self.judge}: accuracy {self.accuracy:.2f} [{self.lo:.2f}, {self.hi:.2f}] "
                f"on {self.n} labelled answers (GOOD {self.good_accuracy:.2f}, BAD "
                f"{self.bad_accuracy:.2f}; {self.failures} judge failures); threshold "
                f"{self.threshold:.2f}: {flag}")


def wilson(k: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (NaN for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def calibration(frame: pd.DataFrame, judge: str, threshold: float) -> Calibration:
    """Accuracy of the judge on the labelled references; a failure counts as wrong."""
    n = len(frame)
    correct = int((frame["correct"] == 1).sum()) if n else 0
    failures = int((frame["judge_ok"] == 0).sum()) if n else 0

    def acc(label: str) -> float:
        part = frame[frame["label"] == label] if n else frame
        return float((part["correct"] == 1).mean()) if len(part) else math.nan

    lo, hi = wilson(correct, n)
    return Calibration(judge, n, correct, failures, acc("good"), acc("bad"), lo, hi, threshold)


def eval_calibration(results: EvalResults) -> Calibration:
    return calibration(results.calibration, results.judge, results.threshold)


# --- figures ---------------------------------------------------------------------------------


def _title(ax: Any, text: str, cal: Calibration | None) -> None:
    if cal is not None and cal.flagged:
        text += "\n(judge below calibration threshold)"
    ax.set_title(text)


def plot_level_heatmap(results: EvalResults, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Figure:
    """Compliance by model setting (rows) and authority level (columns)."""
    from matplotlib.figure import Figure

    table = compliance_table(results.answers, ["label", "level"], boot)
    labels = list(dict.fromkeys(results.runs["label"]))
    levels = [lv for lv in LEVELS if lv in set(table.get("level", []))]
    grid = np.full((len(labels), len(levels)), np.nan)
    for r in table.to_dict("records"):
        if r["level"] in levels:
            grid[labels.index(r["label"]), levels.index(r["level"])] = r["mean"]
    fig = Figure(figsize=(1.6 + 1.3 * max(1, len(levels)), 1.4 + 0.5 * len(labels)))
    ax = fig.add_subplot()
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(levels)), levels)
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(levels)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label="compliance")
    _title(ax, "Compliance by authority level", eval_calibration(results))
    fig.tight_layout()
    return fig


def plot_principles(results: EvalResults, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Figure:
    """Per-principle compliance bars with intervals, one bar per model setting."""
    from matplotlib.figure import Figure

    table = compliance_table(results.answers, ["principle", "label"], boot)
    principles = list(dict.fromkeys(table["principle"])) if len(table) else []
    labels = list(dict.fromkeys(results.runs["label"]))
    width = 0.8 / max(1, len(labels))
    fig = Figure(figsize=(8, 1.5 + 0.28 * max(1, len(principles)) * max(1, len(labels)) ** 0.5))
    ax = fig.add_subplot()
    for k, label in enumerate(labels):
        part = table[table["label"] == label].set_index("principle").reindex(principles)
        y = np.arange(len(principles)) + k * width
        err = np.vstack([part["mean"] - part["lo"], part["hi"] - part["mean"]])
        ax.barh(y, part["mean"], height=width, xerr=np.nan_to_num(err), label=label, capsize=2)
    ax.set_yticks(np.arange(len(principles)) + width * (len(labels) - 1) / 2, principles,
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel(f"compliance ({boot.level:.0%} bootstrap interval over cases and samples)")
    if len(labels) > 1:
        ax.legend(fontsize=7, loc="lower right")
    _title(ax, "Compliance per principle", eval_calibration(results))
    fig.tight_layout()
    return fig


def plot_effort(results: EvalResults, boot: Bootstrap = DEFAULT_BOOTSTRAP,
                path: str = "llm.reasoning_effort") -> Figure:
    """Overall compliance by a setting (reasoning effort by default), one line per model."""
    from matplotlib.figure import Figure

    if path not in results.runs.columns:
        raise SpecboundError(f"{results.folder}: this eval did not vary {path} (run it with "
                             f"--set {path}=low,high); varied: "
                             f"{', '.join(results.setting_paths) or '(nothing)'}")
    table = compliance_table(results.answers, ["model", path], boot)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    order = list(dict.fromkeys(results.runs[path]))
    for model, part in table.groupby("model", sort=False):
        part = part.set_index(path).reindex(order)
        x = np.arange(len(order))
        err = np.vstack([part["mean"] - part["lo"], part["hi"] - part["mean"]])
        ax.errorbar(x, part["mean"], yerr=np.nan_to_num(err), marker="o", capsize=3,
                    label=str(model))
    ax.set_xticks(range(len(order)), [str(v) for v in order])
    ax.set_xlabel(path.removeprefix("llm."))
    ax.set_ylabel("overall compliance")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    _title(ax, f"Compliance by {path.removeprefix('llm.')}", eval_calibration(results))
    fig.tight_layout()
    return fig


def eval_figure(results: EvalResults, kind: str, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Figure:
    """The figure of one of :data:`EVAL_KINDS`."""
    if kind == "eval-heatmap":
        return plot_level_heatmap(results, boot)
    if kind == "eval-principles":
        return plot_principles(results, boot)
    if kind == "eval-effort":
        return plot_effort(results, boot)
    raise SpecboundError(f"--kind {kind!r} is not an eval figure; allowed: {', '.join(EVAL_KINDS)}")


# --- report ------------------------------------------------------------------------------------


def render_eval_report(results: EvalResults, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> str:
    """The eval's HTML report: calibration first, then compliance tables and figures."""
    from analysis.report import _CSS, figure_html, table_html

    cal = eval_calibration(results)
    e = _escape
    parts = [f"<h1>specbound eval: {e(results.meta.get('scenario', ''))}</h1>",
             f"<p>{e(results.meta.get('question', ''))}</p>", "<h2>Judge calibration</h2>"]
    warn = ('<p style="color:#b00"><strong>Flagged:</strong> the judge is below the threshold '
            "on the labelled answers; compliance figures below rest on its verdicts.</p>"
            if cal.flagged else "")
    parts.append(f"<p>{e(cal.line())}</p>{warn}<p>Before grading any answer the judge graded "
                 "each labelled GOOD and BAD answer of the selected cases, with that answer "
                 "left out of the references it was shown. Accuracy is the share graded as "
                 "labelled (a judge failure counts as wrong), with a 95% Wilson interval.</p>")
    note = (f"Mean over cases of the mean over samples; {boot.level:.0%} bootstrap interval "
            f"over cases and samples ({boot.resamples} resamples, seed {boot.seed}).")
    overall = compliance_table(results.answers, ["label"], boot)
    parts += ["<h2>Overall</h2>", f"<p>{e(note)}</p>", _table(table_html, overall, ["label"])]
    levels = compliance_table(results.answers, ["label", "level"], boot)
    parts += ["<h2>By authority level</h2>", _table(table_html, levels, ["label", "level"])]
    parts.append(figure_html(plot_level_heatmap(results, boot), "compliance by level"))
    parts.append(figure_html(plot_principles(results, boot), "compliance per principle"))
    if "llm.reasoning_effort" in results.runs.columns:
        parts.append(figure_html(plot_effort(results, boot), "compliance by reasoning effort"))
    principles = compliance_table(results.answers, ["principle", "label"], boot)
    parts += ["<h2>By principle</h2>", _table(table_html, principles, ["principle", "label"])]
    if len(results.ledger):
        led = results.ledger
        rows = [[r["name"], r["calls"], r["cached"], r["errors"], r["skipped"],
                 r["prompt_tokens"], r["completion_tokens"],
                 "unpriced" if pd.isna(r["cost_usd"]) else f"${r['cost_usd']:.4f}"]
                for r in led.to_dict("records")]
        parts += ["<h2>Ledger</h2><p>Every invocation, each model and the judge: requests "
                  "sent, cache hits, errors, requests the budget skipped, tokens and cost (from "
                  "your price table).</p>",
                  table_html(["model", "calls", "cached", "errors", "skipped", "prompt tokens",
                              "completion tokens", "cost"], rows,
                             [False, True, True, True, True, True, True, True])]
    failed = results.runs[results.runs["status"] != "done"]
    if len(failed):
        parts.append("<h2>Incomplete</h2>" + "".join(
            f"<p>{e(r['label'])}: {e(r['error'])}</p>" for r in failed.to_dict("records")))
    parts.append(f"<h2>Provenance</h2><p>eval {e(results.sweep_id)}, code "
                 f"{e(results.meta.get('code_version', ''))}</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>specbound "
            f"eval</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(table_html: Any, frame: pd.DataFrame, keys: list[str]) -> str:
    header = [*keys, "cases", "answers", "judge failures", "errors", "compliance [interval]"]
    rows = [[*(r[k] for k in keys), r["cases"], r["answers"], r["judge_failures"], r["errors"],
             _interval(r["mean"], r["lo"], r["hi"])] for r in frame.to_dict("records")]
    return table_html(header, rows, [False] * len(keys) + [True] * 5)


def _interval(mean: float, lo: float, hi: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    return f"{mean:.2f} [{lo:.2f}, {hi:.2f}]"


def write_eval_report(folder: str | os.PathLike[str], out_path: str | os.PathLike[str],
                      boot: Bootstrap = DEFAULT_BOOTSTRAP, sweep: str | None = None) -> Path:
    """Write the eval report of ``folder`` to ``out_path`` (atomically)."""
    from analysis.plots import writable_folder
    from analysis.report import write_text_atomic

    writable_folder(Path(out_path))
    return write_text_atomic(render_eval_report(load_eval(folder, sweep), boot), out_path)


# --- hooks for the plot and report commands --------------------------------------------------


def eval_report(args: Any) -> bool:
    """``report`` on an eval folder: write the eval report; False for any other folder."""
    if not is_eval_folder(args.dir):
        return False
    print(write_eval_report(args.dir, args.output, Bootstrap(seed=args.seed), args.sweep))
    return True


def eval_plot(args: Any) -> bool:
    """``plot`` on an eval folder or of an eval kind; False when neither (a sweep's figure).

    Eval figures take no --metric, --by, --hue, --run, --step or --color-by:
    one given is refused, never ignored.
    """
    from analysis.plots import save_figure

    if args.kind not in EVAL_KINDS and not (args.kind is None and is_eval_folder(args.dir)):
        return False
    kind = args.kind or "eval-heatmap"
    for dest in ("metric", "by", "hue", "run", "step", "color_by"):
        if getattr(args, dest, None) is not None:
            raise SpecboundError(f"--{dest.replace('_', '-')} is not used by --kind {kind} "
                                 f"(eval figures: {', '.join(EVAL_KINDS)} take no options)")
    boot = Bootstrap(level=args.level, resamples=args.resamples, seed=args.seed)
    fig = eval_figure(load_eval(args.dir, args.sweep), kind, boot)
    print(save_figure(fig, args.output))
    return True
