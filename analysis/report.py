"""A self-contained HTML report of one sweep.

One file, no external resources: figures are embedded as base64 PNG, styles
inline, so the report can be mailed, attached to a paper's supplement or
opened from a laptop with no network. Every value shown is computed by
:mod:`analysis.aggregate`; this module only lays it out.

The report answers, in order: what was asked (question, scenario, grid), what
came out (a table of means with intervals and paired differences), how it
looks (figures), which rules collided (top conflicts with an example each),
and how to reproduce it (code version, scenario and spec hashes).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from agents.errors import SpecboundError
from analysis.aggregate import (
    DEFAULT_BOOTSTRAP,
    Bootstrap,
    conflict_events,
    paired_differences,
    summarize,
    top_conflicts,
    varied,
)
from analysis.labels import metric_label
from analysis.plots import (
    _umask,
    plot_compliance,
    plot_conflicts_heatmap,
    plot_metric,
    plot_timeseries,
    writable_folder,
)
from analysis.results import load_results

#: Metrics the report leads with, in this order, when the sweep recorded them.
MAIN_METRICS = ("trust_mean", "welfare", "efficiency", "cooperation_rate", "conflicts",
                "compliance_rate", "deceptions", "violations", "gini", "survival")
#: How many of the main metrics get a figure (the table has them all).
FIGURE_METRICS = 4

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}figure img{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#444}code,pre{font-size:.85rem}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}
"""


@dataclass(frozen=True)
class SweepData:
    """Everything a report shows, as plain frames (no store needed)."""

    meta: dict[str, Any]
    runs: pd.DataFrame
    params: tuple[str, ...]
    metrics: tuple[str, ...]
    steps: pd.DataFrame
    events: pd.DataFrame


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float) -> str:
    if pd.isna(value):
        return "-"
    return f"{value:.4g}"


def _interval(mean: float, lo: float, hi: float) -> str:
    return f"{_num(mean)} [{_num(lo)}, {_num(hi)}]"


def figure_html(fig: Figure, caption: str) -> str:
    """A figure as an embedded PNG with a caption."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def table_html(header: Sequence[str], rows: Sequence[Sequence[object]],
               numeric: Sequence[bool] | None = None) -> str:
    """An HTML table; cells are escaped, numeric columns right-aligned."""
    numeric = numeric or [False] * len(header)
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(c)}</td>' if n else f"<td>{_e(c)}</td>"
                         for c, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def main_metrics(metrics: Sequence[str]) -> list[str]:
    """The report's headline metrics among those recorded (all if none is known)."""
    chosen = [m for m in MAIN_METRICS if m in metrics]
    return chosen or [m for m in metrics if "." not in m][:FIGURE_METRICS]


def _question_section(data: SweepData) -> str:
    meta = data.meta
    question = meta.get("question") or "(no question recorded for this sweep)"
    grid = meta.get("grid") or {}
    zipped = meta.get("zip") or {}
    rows = [(p, ", ".join(map(str, v)), "grid") for p, v in grid.items()]
    rows += [(p, ", ".join(map(str, v)), "zipped") for p, v in zipped.items()]
    done = int((data.runs["status"] == "done").sum()) if "status" in data.runs else len(data.runs)
    failed = len(data.runs) - done
    facts = [("scenario", meta.get("scenario", "?")), ("sweep", meta.get("sweep_id", "?")),
             ("runs per point", meta.get("runs", "?")), ("base seed", meta.get("seed", "?")),
             ("finished runs", done), ("failed runs (excluded)", failed)]
    parts = [f"<h2>Question</h2><p>{_e(question)}</p>",
             table_html(["", ""], facts, [False, True])]
    if rows:
        parts.append("<h3>Parameters swept</h3>"
                     + table_html(["path", "values", "how"], rows))
    else:
        parts.append("<p>No parameter was swept: every run is one grid point.</p>")
    return "".join(parts)


def _results_section(data: SweepData, boot: Bootstrap) -> str:
    metrics = main_metrics(data.metrics)
    keys = list(data.params)
    tables = {m: summarize(data.runs, m, keys or None, boot) for m in metrics}
    first = next(iter(tables.values()))
    header = [*keys, "n", "failed", *(metric_label(m) for m in metrics)]
    rows = []
    for i in range(len(first)):
        row = [first.loc[i, k] for k in keys] + [int(first.loc[i, "n"]),
                                                 int(first.loc[i, "n_failed"])]
        row += [_interval(t.loc[i, "mean"], t.loc[i, "lo"], t.loc[i, "hi"])
                for t in tables.values()]
        rows.append(row)
    note = (f"<p>Mean over finished runs with a {boot.level:.0%} percentile bootstrap interval "
            f"({boot.resamples} resamples, seed {boot.seed}).</p>")
    parts = ["<h2>Results</h2>", note,
             table_html(header, rows, [False] * len(keys) + [True] * (len(header) - len(keys)))]
    diff_rows = []
    for by in keys if "rep" in data.runs else ():
        for m in metrics:
            diffs = paired_differences(data.runs, m, by, params=keys, boot=boot)
            for _, d in diffs.iterrows():
                others = ", ".join(f"{k}={d[k]}" for k in keys if k != by)
                diff_rows.append([metric_label(m), f"{by}={d[by]} - {by}={d['baseline']}",
                                  others or "-", int(d["n_pairs"]),
                                  _interval(d["mean"], d["lo"], d["hi"])])
    if diff_rows:
        parts.append("<h3>Paired differences</h3><p>Runs with the same replicate share "
                     "their seed across grid points, so each difference is taken within "
                     "a pair before averaging; each parameter is compared with its first "
                     "value, the others held fixed.</p>")
        parts.append(table_html(["metric", "contrast", "held fixed", "pairs",
                                 "mean difference [interval]"], diff_rows,
                                [False, False, False, True, True]))
    return "".join(parts)


def _figures_section(data: SweepData, boot: Bootstrap) -> str:
    figures: list[str] = []
    keys = varied(data.runs, data.params)
    if keys:
        by, hue = keys[0], (keys[1] if len(keys) > 1 else None)
        numeric = pd.api.types.is_numeric_dtype(data.runs[by])
        for m in main_metrics(data.metrics)[:FIGURE_METRICS]:
            fig = plot_metric(data.runs, m, by, hue=hue, kind="line" if numeric else "bar",
                              boot=boot)
            figures.append(figure_html(fig, f"{metric_label(m)} by {by}"
                                            + (f", one series per {hue}" if hue else "")))
    if not data.steps.empty:
        present = set(data.steps["metric"].unique())
        for m in [m for m in ("trust_mean", "cooperation_rate", "welfare") if m in present][:2]:
            hue = keys[0] if keys else None
            fig = plot_timeseries(data.steps, m, hue=hue, runs=data.runs, boot=boot)
            figures.append(figure_html(fig, f"{metric_label(m, per_step=True)} over steps"))
    conflicts = data.events
    if not conflicts.empty:
        figures.append(figure_html(plot_conflicts_heatmap(conflicts, by="level"),
                                   "conflicts by winning and losing authority level"))
        figures.append(figure_html(plot_conflicts_heatmap(conflicts, by="principle"),
                                   "conflicts by winning and losing principle"))
    if any(c.startswith("compliance.") for c in data.metrics):
        figures.append(figure_html(plot_compliance(data.runs, boot=boot),
                                   "compliance per principle"))
    if not figures:
        return "<h2>Figures</h2><p>Nothing to draw: no parameter swept and no time series.</p>"
    return "<h2>Figures</h2>" + "".join(figures)


def _conflicts(events: pd.DataFrame) -> pd.DataFrame:
    if events.empty:
        return events
    return conflict_events(events)


def _conflicts_section(conflicts: pd.DataFrame, n: int = 10) -> str:
    if conflicts.empty:
        return "<h2>Top conflicts</h2><p>No rule conflict was recorded.</p>"
    top = top_conflicts(conflicts, n)
    rows = [[f"{r.winner} ({r.winner_level})", f"{r.loser} ({r.loser_level})", int(r.count),
             int(r.runs), f"run {r.run_id}, step {r.step}, agent {r.agent}: {r.act}",
             r.reason or ""] for r in top.itertuples()]
    return ("<h2>Top conflicts</h2><p>The principle pairs that collided most often, with the "
            f"earliest event of each ({len(conflicts)} conflict events in all).</p>"
            + table_html(["winner (level)", "loser (level)", "events", "runs", "example", "why"],
                         rows, [False, False, True, True, False, False]))


def _provenance_section(meta: dict[str, Any]) -> str:
    hashes = meta.get("hashes") or {}
    facts = [("code version", meta.get("code_version") or "(unknown)"),
             ("sweep id", meta.get("sweep_id", "?")), ("scenario", meta.get("scenario", "?")),
             ("schema version", meta.get("schema_version", "?"))]
    facts += [(f"sha256 {k}", v) for k, v in sorted(hashes.items())]
    parts = ["<h2>Provenance</h2>", table_html(["", ""], facts)]
    if meta.get("scenario_text"):
        parts.append("<details><summary>scenario file</summary>"
                     f"<pre>{_e(meta['scenario_text'])}</pre></details>")
    specs = meta.get("specs") or {}
    for spec_id, text in sorted(specs.items()):
        parts.append(f"<details><summary>spec {_e(spec_id)}</summary><pre>{_e(text)}</pre>"
                     "</details>")
    return "".join(parts)


def render_report(data: SweepData, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> str:
    """The report as one HTML document (a string)."""
    title = f"specbound sweep: {data.meta.get('scenario', 'results')}"
    # Parse the conflict events once; figures and the top-conflicts table share them.
    data = dataclasses.replace(data, events=_conflicts(data.events))
    body = [f"<h1>{_e(title)}</h1>", _question_section(data), _results_section(data, boot),
            _figures_section(data, boot), _conflicts_section(data.events),
            _provenance_section(data.meta)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def write_text_atomic(text: str, out_path: str | os.PathLike[str]) -> Path:
    """Write a text file via a temp file and rename: never a partial file."""
    target = Path(out_path)
    folder = writable_folder(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_report(store_dir: str | os.PathLike[str], out_path: str | os.PathLike[str],
                 boot: Bootstrap = DEFAULT_BOOTSTRAP, sweep: str | None = None) -> Path:
    """Write the HTML report of the latest sweep in ``store_dir`` to ``out_path``.

    Raises:
        SpecboundError: no store, no finished runs, or an output path that
            cannot be written (checked before any work is done).
    """
    writable_folder(Path(out_path))
    results = load_results(store_dir, sweep)
    data = SweepData(meta=results.meta, runs=results.runs, params=results.params,
                     metrics=results.metrics, steps=results.steps(),
                     events=results.events(kind="conflict"))
    if not data.metrics:
        raise SpecboundError(f"{store_dir}: finished runs recorded no metrics; nothing to report")
    return write_text_atomic(render_report(data, boot), out_path)

