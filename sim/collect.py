"""Collecting a run's metrics: one step's, or a fast-forwarded stretch's, into series and totals.

A stretch (``scenarios.stretch.Stretch``) is booked with the same
floating-point operations in the same order as stepping would use (bincount
order for per-agent and per-group sums, numpy row reductions on C-contiguous
rows for the rest; totals add per step in step order), so results are
bit-identical (``tests/test_fused.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scenarios.stretch import Stretch
from sim import metrics as M

if TYPE_CHECKING:
    from sim.model import SpecModel


def collect_step(model: SpecModel, outcomes: list[np.ndarray]) -> None:
    """Book the step just played: ``outcomes`` are its decisions' outcome ids."""
    n_out = model.decisions.n_outcomes
    if outcomes:
        counts = np.bincount(np.concatenate(outcomes), minlength=n_out).astype(np.float64)
    else:
        counts = np.zeros(n_out)
    parts = M.step_parts(model, counts)
    step = M.step_metrics(model, parts)
    model.totals.add(model, parts, step)
    t = model.steps
    for k, v in step.items():
        col = model.series.get(k)
        if col is None:
            col = model.series[k] = [float("nan")] * (t - 1)
        col.append(float(v))
    for col in model.series.values():
        if len(col) < t:
            col.append(float("nan"))
    model.last_metrics = step


def book_stretch(model: SpecModel, rec: Stretch) -> None:
    """Book the ``rec.steps`` steps after ``model.steps``: series, totals and the last step's metrics."""
    k = rec.steps
    model.env.step_counts = {}
    # Outcomes added after the last recorded step (keys filled for a step left to the
    # generic path) were never counted: zeros.
    n_out = model.decisions.n_outcomes
    width = min(rec.arrays.counts.shape[1], n_out)
    counts = np.zeros((k, n_out))
    counts[:, :width] = rec.arrays.counts[:k, :width]
    dec = M.decision_sums(model, counts)
    applied, held = _compliance_columns(model, counts)
    cols, order = _metric_columns(model, rec, dec, applied, held)
    _extend_series(model, cols, order, k)
    _add_totals(model, dec, applied, held, counts, cols["welfare"])
    model.last_metrics = {name: float(cols[name][-1]) for name in order if cols[name][-1] == cols[name][-1]
                          or not name.startswith("compliance.")}


def _compliance_columns(model: SpecModel, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``metrics.compliance_counts`` per step: (K, principles) applied and held."""
    c = model.decisions.compliance_rows()
    k = len(model.decisions.principle_ids)
    applied = np.zeros((len(counts), k))
    held = np.zeros((len(counts), k))
    for p in range(k):
        sel = c["principle"] == p
        w = counts[:, c["outcome"][sel]]
        applied[:, p] = w.sum(axis=1)
        held[:, p] = (w * c["held"][sel]).sum(axis=1)
    return applied, held


def _metric_columns(model: SpecModel, rec: Stretch, dec: dict[str, np.ndarray],
                    applied: np.ndarray, held: np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
    """``metrics.step_metrics`` as columns over the stretch; NaN where a step has no such metric."""
    k = rec.steps
    nan = np.full(k, np.nan)
    cols: dict[str, np.ndarray] = {name: dec[name] for name in
                                   ("conflicts", "violations", "deceptions", "covert_acts")}
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["cooperation_rate"] = np.where(dec["moves"] > 0, dec["cooperative_moves"] / dec["moves"], nan)
        a_sum, h_sum = applied.sum(axis=1), held.sum(axis=1)
        cols["compliance_rate"] = np.where(a_sum > 0, h_sum / a_sum, nan)
        for p in np.flatnonzero(applied.any(axis=0)):
            cols[f"compliance.{model.decisions.principle_ids[p]}"] = np.where(
                applied[:, p] > 0, held[:, p] / applied[:, p], nan)
    welfare = np.ascontiguousarray(rec.arrays.step_pay[:k]).sum(axis=1)
    cols["welfare"] = welfare
    base, opt = model.env.bounds
    span = opt - base
    cols["efficiency"] = (welfare - base) / span if span > 0 else nan
    cols["gini"] = M.gini_rows(np.ascontiguousarray(rec.arrays.payoff[:k]))
    cols["trust_mean"], cols["trust_calibration"] = _trust_columns(model, rec)
    cols["injections_attempted"] = np.zeros(k)
    cols["injections_obeyed"] = dec["served_injection"]
    cols["alive"] = np.full(k, float(model.alive.sum()))
    # Group sums come from the loop, accumulated in agent order as bincount does.
    cols.update(M.group_payoffs(model, np.ascontiguousarray(rec.arrays.group_sums[:k])))
    return cols, list(cols)


def _trust_columns(model: SpecModel, rec: Stretch) -> tuple[np.ndarray, np.ndarray]:
    k = rec.steps
    trust = np.ascontiguousarray(rec.arrays.trust[:k])
    j = model.pairs.pairs()[1]
    tk, tt = rec.arrays.truth_kept[:k], rec.arrays.truth_total[:k]
    total = tt[:, j]
    fast = rec.arrays.met[:k].all(axis=1) & (total > 0).all(axis=1)
    mean = trust.mean(axis=1)
    # Row reductions round as a 1-D reduction of the same row only on C-contiguous rows.
    gap = np.ascontiguousarray(np.abs(trust - tk[:, j] / np.where(total > 0, total, 1.0)))
    cal = 1.0 - gap.mean(axis=1)
    # Steps where some pair has not met (or some partner has no record) take the masked path.
    for s in np.flatnonzero(~fast).tolist():
        mean[s], cal[s] = M.trust_of_rows(trust[s], j, rec.arrays.met[s], tk[s], tt[s])
    return mean, cal


def _extend_series(model: SpecModel, cols: dict[str, np.ndarray], order: list[str], k: int) -> None:
    """Append the stretch to ``model.series`` in the order step-by-step collection would."""
    t0 = model.steps
    # A metric absent so far joins the series at the first step that has it, after those
    # already there. Only per-principle compliance is ever absent (NaN) at some steps.
    new = [name for name in order if name not in model.series]

    def first(name: str) -> int:
        return int(np.argmax(~np.isnan(cols[name]))) if name.startswith("compliance.") else 0

    for name in sorted(new, key=lambda nm: (first(nm), order.index(nm))):
        model.series[name] = [float("nan")] * t0
    for name, col in model.series.items():
        col.extend(cols[name].tolist() if name in cols else [float("nan")] * k)


def _add_totals(model: SpecModel, dec: dict[str, np.ndarray], applied: np.ndarray, held: np.ndarray,
                counts: np.ndarray, welfare: np.ndarray) -> None:
    """``Totals.add`` for every step of the stretch, float sums kept in step order."""
    tot = model.totals
    for name in ("conflicts", "violations", "deceptions", "covert_acts", "decisions",
                 "cooperative_moves", "moves"):
        tot.counted[name] = tot.counted.get(name, 0.0) + float(dec[name].sum())
    tot.counted["injections_attempted"] = tot.counted.get("injections_attempted", 0.0)
    tot.counted["injections_obeyed"] = tot.counted.get("injections_obeyed", 0.0) + float(
        dec["served_injection"].sum())
    tot.applied = M.add_padded(tot.applied, applied.sum(axis=0))
    tot.held = M.add_padded(tot.held, held.sum(axis=0))
    tot.levels = tot.levels + M.level_pairs(model, counts.sum(axis=0))
    b, o = model.env.bounds
    for w in welfare.tolist():
        tot.welfare += w
        tot.baseline += b
        tot.optimum += o
