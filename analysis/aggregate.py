"""Aggregation of sweep results: means with seeded bootstrap intervals.

Every function here is pure: it takes pandas frames in the shapes the store's
read API returns (``Store.runs()``, ``Store.steps()``, ``Store.events()``) and
returns new frames. Randomness comes only from a ``numpy.random.Generator``
built from the ``seed`` argument, so the same call gives the same interval.

Failed runs carry no metrics worth averaging; they are dropped and counted in
an ``n_failed`` column, so a figure can never hide that a grid point is short.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents.errors import SpecboundError

#: Columns of ``Store.runs()`` that are bookkeeping, never parameters or metrics.
RUN_COLUMNS = ("run_id", "sweep_id", "scenario", "point", "rep", "seed", "status", "error",
               "started", "ended", "params", "metrics", "ledger")
#: Level names in order of authority, highest first (the heatmap axes use it).
LEVELS = ("root", "system", "developer", "user", "guideline", "none")
#: Conflict fields carried by ``kind == "conflict"`` events.
CONFLICT_FIELDS = ("winner", "winner_level", "winner_source", "loser", "loser_level",
                   "loser_source", "act", "reason")


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are computed.

    Attributes:
        level: two-sided coverage of the percentile interval, in (0, 1).
        resamples: number of bootstrap resamples (more: smoother bounds, slower).
        seed: seed of the ``numpy.random.Generator`` that draws the resamples.
    """

    level: float = 0.95
    resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.level < 1.0:
            raise SpecboundError(f"confidence level {self.level!r}: allowed is a number in (0, 1)")
        if self.resamples < 1:
            raise SpecboundError(f"bootstrap resamples {self.resamples!r}: allowed is an integer >= 1")

    def rng(self) -> np.random.Generator:
        """A fresh generator, so each aggregate is reproducible on its own."""
        return np.random.default_rng(self.seed)


DEFAULT_BOOTSTRAP = Bootstrap()


def bootstrap_mean_ci(values: np.ndarray, boot: Bootstrap = DEFAULT_BOOTSTRAP,
                      rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the mean, column by column.

    Args:
        values: shape ``(n,)`` or ``(n, k)``; rows are runs, columns independent
            quantities (steps of a time series) resampled with the same run draws.
        boot: interval level and number of resamples.
        rng: generator to draw from; a fresh one seeded by ``boot.seed`` if None.

    Returns:
        ``(lo, hi)``, each of shape ``()`` or ``(k,)``. With one run the interval
        collapses to that value; with none both bounds are NaN.
    """
    arr = np.asarray(values, dtype=float)
    squeeze = arr.ndim == 1
    if squeeze:
        arr = arr[:, None]
    n = arr.shape[0]
    if n == 0:
        nan = np.full(arr.shape[1], np.nan)
        return (nan[0], nan[0]) if squeeze else (nan, nan.copy())
    gen = rng if rng is not None else boot.rng()
    # One index matrix for all columns: a time series keeps each run's trajectory intact.
    idx = gen.integers(0, n, size=(boot.resamples, n))
    means = np.nanmean(arr[idx], axis=1) if np.isnan(arr).any() else arr[idx].mean(axis=1)
    tail = (1.0 - boot.level) / 2.0 * 100.0
    lo, hi = np.nanpercentile(means, [tail, 100.0 - tail], axis=0)
    return (lo[0], hi[0]) if squeeze else (lo, hi)


def finished(runs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Split off failed runs.

    Returns:
        The runs whose ``status`` is ``"done"`` (all rows if there is no status
        column) and how many were dropped.
    """
    if "status" not in runs.columns:
        return runs, 0
    ok = runs["status"] == "done"
    return runs.loc[ok], int((~ok).sum())


def metric_columns(runs: pd.DataFrame, params: Sequence[str] = ()) -> list[str]:
    """Names of the final-metric columns of a runs frame (numeric, not bookkeeping)."""
    skip = set(RUN_COLUMNS) | set(params)
    return [c for c in runs.columns
            if c not in skip and pd.api.types.is_numeric_dtype(runs[c])]


def varied(runs: pd.DataFrame, params: Sequence[str]) -> list[str]:
    """The parameters that take more than one value among the runs (figure axes).

    A zipped path with a single value is part of the grid but makes a flat axis.
    """
    return [p for p in params if p in runs.columns and runs[p].nunique(dropna=False) > 1]


def require_columns(frame: pd.DataFrame, names: Sequence[str], what: str,
                    available: Sequence[str] | None = None) -> None:
    """Raise a one-line error naming the first unknown column and what exists."""
    for name in names:
        if name not in frame.columns:
            pool = sorted(available if available is not None else frame.columns)
            raise SpecboundError(f"unknown {what} {name!r}; available: {', '.join(pool) or '(none)'}")


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def summarize(runs: pd.DataFrame, metric: str, by: str | Sequence[str] | None = None,
              boot: Bootstrap = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Mean and bootstrap interval of one final metric per grid point.

    Args:
        runs: one row per run (``Store.runs()``).
        metric: a final-metric column, e.g. ``"trust_mean"``.
        by: the parameter column(s) that define a grid point; None pools all runs.
        boot: interval settings.

    Returns:
        One row per value combination of ``by`` (sorted), with columns
        ``*by, n, n_failed, mean, lo, hi``. ``n`` counts finished runs with a
        value; ``n_failed`` counts failed runs at that point.
    """
    keys = _as_list(by)
    require_columns(runs, keys, "parameter")
    require_columns(runs, [metric], "metric", metric_columns(runs, keys))
    done, _ = finished(runs)
    failed = runs.loc[runs.index.difference(done.index)]
    groups = [((), done)] if not keys else list(done.groupby(keys, sort=True, dropna=False))
    fail_counts = (failed.groupby(keys, dropna=False).size() if keys and len(failed)
                   else pd.Series(dtype=int))
    rows = []
    for key, frame in groups:
        key = key if isinstance(key, tuple) else (key,)
        values = frame[metric].dropna().to_numpy(dtype=float)
        lo, hi = bootstrap_mean_ci(values, boot)
        lookup = key[0] if len(key) == 1 else key
        n_failed = int(fail_counts.get(lookup, 0)) if keys else len(failed)
        rows.append({**dict(zip(keys, key, strict=True)), "n": len(values), "n_failed": n_failed,
                     "mean": float(values.mean()) if len(values) else np.nan,
                     "lo": float(lo), "hi": float(hi)})
    # Points where every run failed still appear: the reader must see the gap.
    if keys and len(failed):
        seen = {tuple(r[k] for k in keys) for r in rows}
        for key, frame in failed.groupby(keys, sort=True, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            if key not in seen:
                rows.append({**dict(zip(keys, key, strict=True)), "n": 0, "n_failed": len(frame),
                             "mean": np.nan, "lo": np.nan, "hi": np.nan})
    out = pd.DataFrame(rows, columns=[*keys, "n", "n_failed", "mean", "lo", "hi"])
    return out.sort_values(keys).reset_index(drop=True) if keys else out


def paired_differences(runs: pd.DataFrame, metric: str, by: str, baseline: object = None,
                       params: Sequence[str] = (), boot: Bootstrap = DEFAULT_BOOTSTRAP
                       ) -> pd.DataFrame:
    """Differences of a metric between values of one parameter, paired by replicate.

    Sweeps reuse seeds across grid points (common random numbers), so run ``rep``
    at one point and run ``rep`` at another saw the same randomness; the
    difference of such a pair has far less noise than the difference of means.

    Args:
        runs: one row per run, with ``rep`` (and ``seed``) columns.
        metric: the final metric to compare.
        by: the parameter whose values are compared.
        baseline: the value of ``by`` every other value is compared with; the
            first in sorted order if None.
        params: the other grid parameters; pairs match on them too, and the
            result has one block of rows per combination of them.
        boot: interval settings.

    Returns:
        Columns ``*params, by, baseline, n_pairs, mean, lo, hi`` where ``mean``
        is the mean of ``value(by) - value(baseline)`` over matched pairs.
    """
    others = [p for p in params if p != by]
    require_columns(runs, [by, *others], "parameter")
    require_columns(runs, [metric], "metric", metric_columns(runs, [by, *others]))
    require_columns(runs, ["rep"], "column")
    done, _ = finished(runs)
    values = sorted(done[by].dropna().unique().tolist())
    if baseline is None:
        if not values:
            return pd.DataFrame(columns=[*others, by, "baseline", "n_pairs", "mean", "lo", "hi"])
        baseline = values[0]
    elif baseline not in values:
        raise SpecboundError(f"baseline {by}={baseline!r} has no finished runs; "
                             f"available: {', '.join(map(str, values))}")
    pair_keys = ["rep", *(["seed"] if "seed" in done.columns else []), *others]
    base = done.loc[done[by] == baseline, [*pair_keys, metric]]
    rows = []
    for value in values:
        if value == baseline:
            continue
        treat = done.loc[done[by] == value, [*pair_keys, metric]]
        merged = treat.merge(base, on=pair_keys, suffixes=("", "_base")).dropna(
            subset=[metric, f"{metric}_base"])
        merged["diff"] = merged[metric] - merged[f"{metric}_base"]
        blocks = [((), merged)] if not others else list(merged.groupby(others, sort=True))
        for key, frame in blocks:
            key = key if isinstance(key, tuple) else (key,)
            diffs = frame["diff"].to_numpy(dtype=float)
            lo, hi = bootstrap_mean_ci(diffs, boot)
            rows.append({**dict(zip(others, key, strict=True)), by: value, "baseline": baseline,
                         "n_pairs": len(diffs),
                         "mean": float(diffs.mean()) if len(diffs) else np.nan,
                         "lo": float(lo), "hi": float(hi)})
    return pd.DataFrame(rows, columns=[*others, by, "baseline", "n_pairs", "mean", "lo", "hi"])


def timeseries(steps: pd.DataFrame, metric: str, runs: pd.DataFrame | None = None,
               hue: str | None = None, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Mean and bootstrap band of a per-step metric across runs.

    Args:
        steps: long frame ``[run_id, step, metric, value]`` (``Store.steps()``).
        metric: the per-step metric to aggregate.
        runs: runs frame, needed to drop failed runs and to look up ``hue``.
        hue: a parameter column of ``runs``; one band per value.
        boot: interval settings. Each run's trajectory is resampled whole.

    Returns:
        Columns ``[hue,] step, n, mean, lo, hi`` sorted by hue then step.
    """
    require_columns(steps, ["run_id", "step", "metric", "value"], "steps column")
    present = sorted(steps["metric"].unique().tolist())
    if metric not in present:
        raise SpecboundError(f"unknown metric {metric!r} in steps; available: "
                             f"{', '.join(present) or '(none)'}")
    data = steps.loc[steps["metric"] == metric, ["run_id", "step", "value"]]
    if runs is not None:
        done, _ = finished(runs)
        data = data.loc[data["run_id"].isin(done["run_id"])]
        if hue is not None:
            require_columns(runs, [hue], "parameter")
            data = data.merge(done[["run_id", hue]], on="run_id")
    elif hue is not None:
        require_columns(steps, [hue], "parameter")
        data = data.merge(steps[["run_id", hue]].drop_duplicates(), on="run_id")
    cols = ([hue] if hue else []) + ["step", "n", "mean", "lo", "hi"]
    parts = []
    blocks = [(None, data)] if hue is None else list(data.groupby(hue, sort=True))
    for key, frame in blocks:
        wide = frame.pivot_table(index="run_id", columns="step", values="value", aggfunc="mean")
        lo, hi = bootstrap_mean_ci(wide.to_numpy(dtype=float), boot)
        part = pd.DataFrame({"step": wide.columns.to_numpy(), "n": wide.notna().sum().to_numpy(),
                             "mean": wide.mean(axis=0).to_numpy(), "lo": lo, "hi": hi})
        if hue is not None:
            part.insert(0, hue, key)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def conflict_events(events: pd.DataFrame) -> pd.DataFrame:
    """Conflict events with their fields as columns.

    Accepts the store's shape (a ``data`` JSON column) and the flat shape of
    ``RunResult.events``; returns columns ``run_id, step, agent`` (when known)
    plus :data:`CONFLICT_FIELDS` and ``count``: how many conflicts the row stands
    for (1 for a logged event; a store kept with ``--ledger counts`` gives
    one row per step and distinct conflict).
    """
    if "kind" in events.columns:
        events = events.loc[events["kind"] == "conflict"]
    frame = events.reset_index(drop=True)
    if "data" in frame.columns and not set(CONFLICT_FIELDS) <= set(frame.columns):
        # A sweep repeats the same few conflicts hundreds of thousands of times:
        # parse each distinct JSON text once and index into the result.
        codes, texts = pd.factorize(frame["data"].astype(object), use_na_sentinel=False)
        parsed = [json.loads(t) if isinstance(t, str) else {} for t in texts]
        table = pd.DataFrame([{f: p.get(f) for f in CONFLICT_FIELDS} for p in parsed],
                             columns=list(CONFLICT_FIELDS))
        fields = table.iloc[codes].reset_index(drop=True)
        frame = pd.concat([frame.drop(columns=["data"]), fields], axis=1)
    require_columns(frame, CONFLICT_FIELDS, "conflict field")
    keep = [c for c in ("run_id", "step", "agent", "partner") if c in frame.columns]
    count = frame["count"].astype("int64") if "count" in frame.columns else 1
    return frame[[*keep, *CONFLICT_FIELDS]].assign(count=count)


def _order_levels(names: Sequence[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(LEVELS)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(LEVELS)), n))


def conflict_matrix(source: pd.DataFrame, by: str = "level") -> pd.DataFrame:
    """Conflict counts, winner (rows) by loser (columns).

    Args:
        source: either events (``kind``/``data`` or flat conflict columns), or a
            runs frame with ``conflicts_by_level.<winner>.<loser>`` columns, in
            which case the matrix holds the mean per finished run.
        by: ``"level"`` (authority levels, highest first) or ``"principle"``
            (principle ids; needs events).

    Returns:
        A square-ish frame of counts; empty when there were no conflicts.
    """
    if by not in ("level", "principle"):
        raise SpecboundError(f"conflict heatmap by {by!r}; allowed: level, principle")
    prefix = "conflicts_by_level."
    level_cols = [c for c in source.columns if c.startswith(prefix)]
    if "winner" not in source.columns and "data" not in source.columns:
        if by == "principle":
            raise SpecboundError("conflicts by principle need conflict events; "
                                 "a runs table only holds conflicts_by_level.* totals")
        if not level_cols:
            raise SpecboundError("no conflict data: expected conflict events or "
                                 "conflicts_by_level.<winner>.<loser> columns")
        done, _ = finished(source)
        means = done[level_cols].mean(axis=0)
        pairs = [c[len(prefix):].split(".", 1) for c in level_cols]
        winners = _order_levels([w for w, _ in pairs])
        losers = _order_levels([lo for _, lo in pairs])
        out = pd.DataFrame(0.0, index=winners, columns=losers)
        for (w, lo), col in zip(pairs, level_cols, strict=True):
            out.loc[w, lo] = float(means[col])
        return out.rename_axis(index="winner", columns="loser")
    conflicts = conflict_events(source)
    row, col = ("winner_level", "loser_level") if by == "level" else ("winner", "loser")
    counts = conflicts.groupby([row, col])["count"].sum().unstack(fill_value=0)
    if by == "level":
        counts = counts.reindex(index=_order_levels(counts.index),
                                columns=_order_levels(counts.columns), fill_value=0)
    else:
        # Most frequent principles first, so the busy corner is top-left.
        counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index,
                            counts.sum(axis=0).sort_values(ascending=False, kind="stable").index]
    return counts.rename_axis(index="winner", columns="loser")


def top_conflicts(events: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The most frequent (winner, loser) principle pairs, each with one example event.

    Returns:
        Columns ``winner, winner_level, loser, loser_level, count, runs`` and the
        example's ``run_id, step, agent, act, reason`` (the earliest occurrence),
        most frequent first.
    """
    conflicts = conflict_events(events)
    cols = ["winner", "winner_level", "loser", "loser_level", "count", "runs",
            "run_id", "step", "agent", "act", "reason"]
    if conflicts.empty:
        return pd.DataFrame(columns=cols)
    for c in ("run_id", "step", "agent"):
        if c not in conflicts.columns:
            conflicts = conflicts.assign(**{c: pd.NA})
    ordered = conflicts.sort_values(["run_id", "step"], kind="stable", na_position="last")
    pair = ["winner", "loser"]
    grouped = ordered.groupby(pair, sort=False)
    summary = grouped.agg(winner_level=("winner_level", "first"),
                          loser_level=("loser_level", "first"),
                          count=("count", "sum"), runs=("run_id", "nunique"),
                          run_id=("run_id", "first"), step=("step", "first"),
                          agent=("agent", "first"), act=("act", "first"),
                          reason=("reason", "first")).reset_index()
    summary = summary.sort_values(["count", "winner", "loser"], ascending=[False, True, True],
                                  kind="stable")
    return summary.head(n).reset_index(drop=True)[cols]


def compliance_table(runs: pd.DataFrame, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Per-principle compliance rate over finished runs, with intervals.

    Reads the ``compliance.<principle_id>`` columns; runs where a principle
    never applied (NaN) do not count towards its ``n``.

    Returns:
        Columns ``principle, n, mean, lo, hi`` sorted by mean (lowest first, the
        principles that give way most).
    """
    prefix = "compliance."
    cols = [c for c in runs.columns if c.startswith(prefix)]
    if not cols:
        raise SpecboundError("no compliance.<principle> metrics in these runs; "
                             "available metrics: " + (", ".join(metric_columns(runs)) or "(none)"))
    done, _ = finished(runs)
    rows = []
    for c in cols:
        values = done[c].dropna().to_numpy(dtype=float)
        lo, hi = bootstrap_mean_ci(values, boot)
        rows.append({"principle": c[len(prefix):], "n": len(values),
                     "mean": float(values.mean()) if len(values) else np.nan,
                     "lo": float(lo), "hi": float(hi)})
    out = pd.DataFrame(rows, columns=["principle", "n", "mean", "lo", "hi"])
    return out.sort_values(["mean", "principle"], kind="stable").reset_index(drop=True)
