"""A self-contained HTML report of one sweep, or of several side by side.

One file, no external resources: figures are embedded as base64 PNG, styles
inline, so the report can be mailed, attached to a paper's supplement or
opened from a laptop with no network. Every value shown is computed by
:mod:`analysis.aggregate` and :mod:`analysis.findings`; this module only lays
it out.

The report answers, in order: what was asked (question, scenario, grid), what
was found (the main contrasts with intervals, a sentence each), how it looks
(figures), the tables (means with intervals, paired differences in one
compact table), which rules collided (top conflicts with an example each),
and how to reproduce it (code version, scenario and spec hashes).

A report is a sequence of sections, each a function of the sweep's data and
the bootstrap settings returning HTML (:data:`SECTIONS`). To add one, pass
``with_section(SECTIONS, "name", function, after="findings")`` as
``sections`` to :func:`render_report` or :func:`write_report`.

Tables fit a 1,280 px window: they take the page's width, long parameter
names wrap at dots, and numbers are rounded to what their intervals justify
(:mod:`analysis.precision`).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import os
import re
import tempfile
from collections.abc import Callable, Sequence
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
from analysis.findings import Finding, main_findings, sentence, short_label
from analysis.labels import metric_label
from analysis.plots import (
    _umask,
    plot_compliance,
    plot_conflicts_heatmap,
    plot_metric,
    plot_timeseries,
    writable_folder,
)
from analysis.precision import interval
from analysis.results import load_results

#: Metrics the report leads with, in this order, when the sweep recorded them.
MAIN_METRICS = ("trust_mean", "welfare", "efficiency", "cooperation_rate", "conflicts",
                "compliance_rate", "deceptions", "violations", "gini", "survival")
#: How many of the main metrics get a figure (the table has them all).
FIGURE_METRICS = 4

_CSS = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;
color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem;max-width:100%}
th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f0f0f0;overflow-wrap:break-word}td.num{text-align:right;font-variant-numeric:tabular-nums}
td .ci{display:block;color:#555;font-size:.8em}td.clear{background:#eef6ee}
ul.findings li{margin:.3rem 0}
figure{margin:1rem 0;display:inline-block;max-width:49%;vertical-align:top}
figure img{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#444}code,pre{font-size:.85rem}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;max-width:100%}
@media (max-width:800px){figure{max-width:100%}}
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


class Html(str):
    """Text that is already HTML: table cells of this type are not escaped again."""


#: A report section: the sweep's data and bootstrap settings in, HTML out.
Section = Callable[[SweepData, Bootstrap], str]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def wrap_path(path: object) -> Html:
    """A dotted name, escaped, that may break after each dot or underscore."""
    text = re.sub(r"\.(?=[A-Za-z])", ".<wbr>", _e(path))  # not inside numbers
    return Html(text.replace("_", "_<wbr>"))


def interval_cell(mean: float, lo: float, hi: float) -> Html:
    """A mean over its interval, rounded to the interval's precision, as two lines."""
    shown = interval(mean, lo, hi)
    head, _, tail = shown.partition(" ")
    return Html(f"{_e(head)} <span class=\"ci\">{_e(tail)}</span>")


def figure_html(fig: Figure, caption: str) -> str:
    """A figure as an embedded PNG with a caption."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def table_html(header: Sequence[object], rows: Sequence[Sequence[object]],
               numeric: Sequence[bool] | None = None,
               classes: Sequence[Sequence[str]] | None = None) -> str:
    """An HTML table; cells are escaped unless :class:`Html`, numeric columns right-aligned."""
    numeric = numeric or [False] * len(header)

    def cell(c: object) -> str:
        return c if isinstance(c, Html) else _e(c)

    head = "".join(f"<th>{cell(h)}</th>" for h in header)
    body = []
    for r, row in enumerate(rows):
        tds = []
        for k, (c, n) in enumerate(zip(row, numeric, strict=True)):
            names = (["num"] if n else []) + (list(classes[r][k]) if classes else [])
            attr = f' class="{" ".join(names)}"' if names else ""
            tds.append(f"<td{attr}>{cell(c)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def main_metrics(metrics: Sequence[str]) -> list[str]:
    """The report's headline metrics among those recorded (all if none is known)."""
    chosen = [m for m in MAIN_METRICS if m in metrics]
    return chosen or [m for m in metrics if "." not in m][:FIGURE_METRICS]


def _metric_head(metric: str) -> Html:
    return Html(f"{_e(short_label(metric))}<br><small>{wrap_path(metric)}</small>")


def question_section(data: SweepData, boot: Bootstrap) -> str:
    """What was asked: the question, the scenario and what was swept."""
    meta = data.meta
    question = meta.get("question") or "(no question recorded for this sweep)"
    grid = meta.get("grid") or {}
    zipped = meta.get("zip") or {}
    rows = [(wrap_path(p), ", ".join(map(str, v)), "grid") for p, v in grid.items()]
    rows += [(wrap_path(p), ", ".join(map(str, v)), "zipped") for p, v in zipped.items()]
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


def _findings(data: SweepData, boot: Bootstrap) -> list[Finding]:
    order = {**(data.meta.get("grid") or {}), **(data.meta.get("zip") or {})}
    return main_findings(data.runs, data.params, main_metrics(data.metrics), boot, order)


def findings_section(data: SweepData, boot: Bootstrap) -> str:
    """What was found: the main contrasts with intervals, one sentence each."""
    findings = _findings(data, boot)
    if not findings:
        return "<h2>What was found</h2><p>No headline metric was recorded.</p>"
    items = "".join(f"<li>{_e(sentence(f, boot.level))}</li>" for f in findings)
    how = ("Each swept parameter's last value against its first, paired by replicate and the "
           "other grid paths (common random numbers) and pooled over them"
           if any(f.by for f in findings) else "Means over all finished runs")
    return (f"<h2>What was found</h2><ul class=\"findings\">{items}</ul>"
            f"<p><small>{how}; {boot.level:.0%} percentile bootstrap intervals. Numbers are "
            "rounded to two significant digits of their interval's width.</small></p>")


def results_section(data: SweepData, boot: Bootstrap) -> str:
    """Means with intervals per grid point, one column per headline metric."""
    metrics = main_metrics(data.metrics)
    keys = list(data.params)
    tables = {m: summarize(data.runs, m, keys or None, boot) for m in metrics}
    first = next(iter(tables.values()))
    header = [*(wrap_path(k) for k in keys), "n", "failed", *(_metric_head(m) for m in metrics)]
    rows = []
    for i in range(len(first)):
        row: list[object] = [first.loc[i, k] for k in keys]
        row += [int(first.loc[i, "n"]), int(first.loc[i, "n_failed"])]
        row += [interval_cell(t.loc[i, "mean"], t.loc[i, "lo"], t.loc[i, "hi"])
                for t in tables.values()]
        rows.append(row)
    note = (f"<p>Mean over finished runs with a {boot.level:.0%} percentile bootstrap interval "
            f"({boot.resamples} resamples, seed {boot.seed}).</p>")
    return "".join(["<h2>Results</h2>", note,
                    table_html(header, rows, [False] * len(keys) + [True] * (len(header) - len(keys)))])


def differences_section(data: SweepData, boot: Bootstrap) -> str:
    """Paired differences as one table: a row per contrast, a column per headline metric."""
    keys = list(data.params)
    if not keys or "rep" not in data.runs:
        return ""
    metrics = main_metrics(data.metrics)
    rows: list[list[object]] = []
    marks: list[list[str]] = []
    for by in keys:
        tables = [paired_differences(data.runs, m, by, params=keys, boot=boot) for m in metrics]
        first = tables[0]
        for i in range(len(first)):
            d = first.iloc[i]
            others = ", ".join(f"{k}={d[k]}" for k in keys if k != by)
            row: list[object] = [wrap_path(by), f"{d[by]} − {d['baseline']}",
                                 wrap_path(others) if others else "-", int(d["n_pairs"])]
            mark = [[], [], [], []]
            for t in tables:
                lo, hi = t.iloc[i]["lo"], t.iloc[i]["hi"]
                row.append(interval_cell(t.iloc[i]["mean"], lo, hi))
                mark.append(["clear"] if lo > 0 or hi < 0 else [])
            rows.append(row)
            marks.append(mark)
    if not rows:
        return ""
    header = ["parameter", "value − baseline", "held fixed", "pairs",
              *(_metric_head(m) for m in metrics)]
    return ("<h3>Paired differences</h3><p>Runs with the same replicate share their seed "
            "across grid points, so each difference is taken within a pair before averaging; "
            "each parameter is compared with its first value, the others held fixed. Shaded: "
            "the interval excludes zero.</p>"
            + table_html(header, rows, [False, False, False, True] + [True] * len(metrics),
                         [[tuple(c) for c in m] for m in marks]))


def figures_section(data: SweepData, boot: Bootstrap) -> str:
    """Figures: headline metrics by the swept parameters, time series, conflicts, compliance."""
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
    if conflicts.empty and _ledger_none(data) and any(
            m.startswith("conflicts_by_level.") for m in data.metrics):
        figures.append(figure_html(plot_conflicts_heatmap(data.runs, by="level"),
                                   "conflicts by winning and losing authority level, mean per run"))
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


def conflicts_section(data: SweepData, boot: Bootstrap, n: int = 10) -> str:
    """The principle pairs that collided most, each with its earliest example."""
    conflicts = data.events
    if conflicts.empty:
        if _ledger_none(data):
            return ("<h2>Top conflicts</h2><p>Conflict events were not stored (the sweep ran with "
                    "<code>--ledger none</code>); the <code>conflicts</code> metrics count them.</p>")
        return "<h2>Top conflicts</h2><p>No rule conflict was recorded.</p>"
    top = top_conflicts(conflicts, n)
    rows = [[wrap_path(f"{r.winner} ({r.winner_level})"), wrap_path(f"{r.loser} ({r.loser_level})"),
             int(r.count), int(r.runs), f"run {r.run_id}, step {r.step}"
             + ("" if pd.isna(r.agent) else f", agent {r.agent}") + f": {r.act}",
             r.reason or ""] for r in top.itertuples()]
    return ("<h2>Top conflicts</h2><p>The principle pairs that collided most often, with the "
            f"earliest event of each ({int(conflicts['count'].sum())} conflict events in all).</p>"
            + table_html(["winner (level)", "loser (level)", "events", "runs", "example", "why"],
                         rows, [False, False, True, True, False, False]))


def _ledger_none(data: SweepData) -> bool:
    """Every finished run was stored with ``--ledger none`` (no events kept)."""
    if "ledger" not in data.runs.columns:
        return False
    done = data.runs.loc[data.runs["status"] == "done", "ledger"]
    return bool(len(done)) and bool((done == "none").all())


def provenance_section(data: SweepData, boot: Bootstrap) -> str:
    """How to reproduce: code version, ids, hashes, the scenario and spec texts."""
    meta = data.meta
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


#: The report's sections in order: the question and the answer first, then figures, then tables.
SECTIONS: tuple[tuple[str, Section], ...] = (
    ("question", question_section),
    ("findings", findings_section),
    ("figures", figures_section),
    ("results", results_section),
    ("differences", differences_section),
    ("conflicts", conflicts_section),
    ("provenance", provenance_section),
)


def with_section(sections: Sequence[tuple[str, Section]], name: str, section: Section,
                 after: str | None = None) -> tuple[tuple[str, Section], ...]:
    """``sections`` with one more, placed after the section named ``after`` (else last)."""
    names = [n for n, _ in sections]
    if name in names:
        raise ValueError(f"report section {name!r} exists already; sections: {', '.join(names)}")
    if after is not None and after not in names:
        raise ValueError(f"no report section {after!r}; sections: {', '.join(names)}")
    at = names.index(after) + 1 if after is not None else len(names)
    return (*sections[:at], (name, section), *sections[at:])


def _prepared(data: SweepData) -> SweepData:
    # Parse the conflict events once; figures and the top-conflicts table share them.
    return dataclasses.replace(data, events=_conflicts(data.events))


def _document(title: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")


def render_report(data: SweepData, boot: Bootstrap = DEFAULT_BOOTSTRAP,
                  sections: Sequence[tuple[str, Section]] = SECTIONS) -> str:
    """The report of one sweep as one HTML document (a string)."""
    title = f"specbound sweep: {data.meta.get('scenario', 'results')}"
    data = _prepared(data)
    return _document(title, [f"<h1>{_e(title)}</h1>", *(f(data, boot) for _, f in sections)])


def _point_label(row: pd.Series, keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in keys) or "(one point)"


def comparison_section(sweeps: Sequence[SweepData], boot: Bootstrap) -> str:
    """Every sweep's headline metrics per grid point, with intervals, side by side."""
    metrics = list(dict.fromkeys(m for d in sweeps for m in main_metrics(d.metrics)))
    rows: list[list[object]] = []
    for k, d in enumerate(sweeps, 1):
        keys = list(d.params)
        tables = {m: summarize(d.runs, m, keys or None, boot) for m in metrics if m in d.metrics}
        points = next(iter(tables.values())) if tables else pd.DataFrame()
        for i in range(len(points)):
            row: list[object] = [f"{k}. {d.meta.get('scenario', '?')}",
                                 wrap_path(_point_label(points.iloc[i], keys)),
                                 int(points.loc[i, "n"])]
            for m in metrics:
                t = tables.get(m)
                row.append(interval_cell(t.loc[i, "mean"], t.loc[i, "lo"], t.loc[i, "hi"])
                           if t is not None else "-")
            rows.append(row)
    header = ["sweep", "grid point", "runs", *(_metric_head(m) for m in metrics)]
    return ("<h2>Side by side</h2><p>Headline metrics of every sweep's grid points: mean over "
            f"finished runs with a {boot.level:.0%} bootstrap interval (- : not recorded).</p>"
            + table_html(header, rows, [False, False, True] + [True] * len(metrics)))


def render_comparison(sweeps: Sequence[SweepData], boot: Bootstrap = DEFAULT_BOOTSTRAP,
                      sections: Sequence[tuple[str, Section]] = SECTIONS) -> str:
    """Several sweeps in one document: their questions and findings, a side-by-side
    table of headline metrics, then each sweep's own sections."""
    sweeps = [_prepared(d) for d in sweeps]
    title = f"specbound: {len(sweeps)} sweeps compared"
    asked = "".join(f"<li><b>{k}. {_e(d.meta.get('scenario', '?'))}</b>: "
                    f"{_e(d.meta.get('question') or '(no question recorded)')}</li>"
                    for k, d in enumerate(sweeps, 1))
    found = []
    for k, d in enumerate(sweeps, 1):
        findings = _findings(d, boot)
        items = "".join(f"<li>{_e(sentence(f, boot.level))}</li>" for f in findings)
        found.append(f"<h3>{k}. {_e(d.meta.get('scenario', '?'))}</h3>"
                     f"<ul class=\"findings\">{items}</ul>")
    body = [f"<h1>{_e(title)}</h1>", f"<h2>Questions</h2><ol class=\"asked\">{asked}</ol>",
            "<h2>What was found</h2>", *found, comparison_section(sweeps, boot)]
    own = [(n, f) for n, f in sections if n not in ("findings",)]
    for k, d in enumerate(sweeps, 1):
        body.append(f"<h1 class=\"sweep\">{k}. {_e(d.meta.get('scenario', '?'))}</h1>")
        body += [f(d, boot) for _, f in own]
    return _document(title, body)


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


def sweep_data(store_dir: str | os.PathLike[str], sweep: str | None = None) -> SweepData:
    """One sweep of a store folder as report data (the latest unless ``sweep`` names one)."""
    results = load_results(store_dir, sweep)
    data = SweepData(meta=results.meta, runs=results.runs, params=results.params,
                     metrics=results.metrics, steps=results.steps(),
                     events=results.events(kind="conflict"))
    if not data.metrics:
        raise SpecboundError(f"{store_dir}: finished runs recorded no metrics; nothing to report")
    return data


def write_report(store_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 out_path: str | os.PathLike[str], boot: Bootstrap = DEFAULT_BOOTSTRAP,
                 sweep: str | None = None,
                 sections: Sequence[tuple[str, Section]] = SECTIONS) -> Path:
    """Write the HTML report of a sweep folder, or of several folders compared, to ``out_path``.

    Raises:
        SpecboundError: no store, no finished runs, ``sweep`` with several
            folders, or an output path that cannot be written (checked before
            any work is done).
    """
    writable_folder(Path(out_path))
    dirs = [store_dir] if isinstance(store_dir, str | os.PathLike) else list(store_dir)
    if not dirs:
        raise SpecboundError("no sweep folder given; name one or more --out folders of sweeps")
    if len(dirs) > 1 and sweep is not None:
        raise SpecboundError("--sweep picks a sweep of one folder; with several folders each "
                             "report shows its folder's latest sweep")
    sweeps = [sweep_data(d, sweep) for d in dirs]
    text = (render_report(sweeps[0], boot, sections) if len(sweeps) == 1
            else render_comparison(sweeps, boot, sections))
    return write_text_atomic(text, out_path)
