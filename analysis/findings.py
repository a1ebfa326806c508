"""What a sweep found, in sentences generated from the data.

A report should open with its answer. For each swept parameter the main
contrast is its last value against its first (the baseline, in the order
the sweep gave its values), paired by
replicate and by every other grid path (common random numbers), and pooled
over those other paths; each contrast on a headline metric becomes one
sentence with its interval. A sweep of one grid point reports its headline
means instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.aggregate import DEFAULT_BOOTSTRAP, Bootstrap, bootstrap_mean_ci, finished, summarize
from analysis.labels import metric_label
from analysis.precision import interval

#: Headline metrics a finding is stated for at most (the report's tables have them all).
FINDING_METRICS = 3


@dataclass(frozen=True)
class Finding:
    """One contrast: ``metric`` at ``by = value`` minus at ``by = baseline`` (paired).

    With ``by`` None it is a plain mean over all finished runs (nothing was swept).
    """

    metric: str
    by: str | None
    value: object
    baseline: object
    n: int
    mean: float
    lo: float
    hi: float

    @property
    def clear(self) -> bool:
        """The interval excludes zero (for a contrast): the direction is known."""
        return self.by is not None and (self.lo > 0 or self.hi < 0)


def short_label(metric: str) -> str:
    """A metric's name for a sentence: its label without the unit."""
    return metric_label(metric).split(" (", 1)[0]


def pooled_difference(runs: pd.DataFrame, metric: str, by: str, value: object,
                      baseline: object, others: Sequence[str],
                      boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Finding:
    """``value`` minus ``baseline`` of ``by``, paired on replicate and the other paths, pooled."""
    done, _ = finished(runs)
    keys = ["rep", *(["seed"] if "seed" in done.columns else []), *others]
    treat = done.loc[done[by] == value, [*keys, metric]]
    base = done.loc[done[by] == baseline, [*keys, metric]]
    merged = treat.merge(base, on=keys, suffixes=("", "_base")).dropna()
    diffs = (merged[metric] - merged[f"{metric}_base"]).to_numpy(dtype=float)
    lo, hi = bootstrap_mean_ci(diffs, boot)
    return Finding(metric, by, value, baseline, len(diffs),
                   float(diffs.mean()) if len(diffs) else np.nan, float(lo), float(hi))


def main_findings(runs: pd.DataFrame, params: Sequence[str], metrics: Sequence[str],
                  boot: Bootstrap = DEFAULT_BOOTSTRAP,
                  order: Mapping[str, Sequence[object]] | None = None) -> list[Finding]:
    """The main contrasts of a sweep (or its headline means when nothing varied).

    Args:
        order: each path's values in the order the sweep gave them (its grid); the
            first is the baseline, the last the contrast. Sorted order without it.
    """
    metrics = list(metrics)[:FINDING_METRICS]
    varied = [p for p in params if p in runs.columns and runs[p].nunique(dropna=True) > 1]
    if not varied or "rep" not in runs.columns:
        out = []
        for m in metrics:
            row = summarize(runs, m, None, boot).iloc[0]
            out.append(Finding(m, None, None, None, int(row["n"]), row["mean"], row["lo"],
                               row["hi"]))
        return out
    findings = []
    done, _ = finished(runs)
    for by in varied:
        present = done[by].dropna().unique().tolist()
        given = [v for v in (order or {}).get(by, ()) if v in present]
        values = given if len(given) == len(present) else sorted(present)
        others = [p for p in varied if p != by]
        for m in metrics:
            findings.append(pooled_difference(runs, m, by, values[-1], values[0], others, boot))
    return findings


def sentence(f: Finding, level: float = DEFAULT_BOOTSTRAP.level) -> str:
    """One finding as a sentence, its number rounded to what its interval justifies."""
    name = short_label(f.metric)
    shown = interval(f.mean, f.lo, f.hi)
    if f.by is None:
        return f"Mean {name}: {shown} ({level:.0%} interval, {f.n} runs)."
    head = f"{f.by} = {f.value} instead of {f.baseline}"
    tail = f"({level:.0%} interval, {f.n} paired runs)"
    if f.n == 0 or np.isnan(f.mean):
        return f"{head}: no paired runs to compare {name}."
    if f.mean == 0 and f.lo == 0 and f.hi == 0:
        return f"{head} leaves {name} unchanged in every pair ({f.n} paired runs)."
    if not f.clear:
        return (f"{head} leaves {name} without a clear change: {shown}, an interval that "
                f"includes zero {tail}.")
    verb = "raises" if f.mean > 0 else "lowers"
    return f"{head} {verb} {name} by {interval(abs(f.mean), *sorted((abs(f.lo), abs(f.hi))))} {tail}."
