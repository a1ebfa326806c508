"""Collecting a run's metrics: one step's, or a fast-forwarded stretch's, into series and totals.

Both go through the metric registry (``sim.metrics.record_steps``) on a view
with a leading step axis: one row for a step just played (``step_view``), K
rows for a stretch (``scenarios.stretch.Stretch``), built from the stretch's
arrays. The metric functions reduce rows with the same floating-point
operations in the same order either way, so results are bit-identical
(``tests/test_fused.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scenarios.stretch import SUMMARY, Stretch
from sim import metrics as M
from sim import summary_book

if TYPE_CHECKING:
    from sim.model import SpecModel


def collect_step(model: SpecModel, outcomes: list[np.ndarray]) -> None:
    """Book the step just played (Mesa has counted it): ``outcomes`` are its decisions' outcome ids."""
    n_out = model.decisions.n_outcomes
    if outcomes:
        counts = np.bincount(np.concatenate(outcomes), minlength=n_out).astype(np.float64)
    else:
        counts = np.zeros(n_out)
    M.record_steps(model, M.step_view(model, counts), model.steps - 1)


def book_stretch(model: SpecModel, rec: Stretch) -> None:
    """Book the ``rec.steps`` steps after ``model.steps``: series, totals and the last step's metrics."""
    k = rec.steps
    model.env.step_counts = {}
    if rec.one_block and rec.summarised and summary_book.book(model, rec):
        return
    # Outcomes added after the last recorded step (keys filled for a step left to the
    # generic path) were never counted: zeros.
    n_out = model.decisions.n_outcomes
    width = min(rec.arrays.counts.shape[1], n_out)
    counts = np.zeros((k, n_out))
    counts[:, :width] = rec.arrays.counts[:k, :width]
    a = rec.arrays
    # A summarised stretch computed the engine's metrics as it played (scenarios.kernel_sums).
    known = {name: a.summary[:k, c] for c, name in enumerate(SUMMARY)} if rec.summarised else None
    view = M.make_view(model, counts, step_pay=a.step_pay[:k], payoff=a.payoff[:k],
                       group_sums=a.group_sums[:k], trust=a.trust[:k], met=a.met[:k],
                       truth_kept=a.truth_kept[:k], truth_total=a.truth_total[:k], known=known,
                       counters={name: v[:k] for name, v in rec.counters.items()},
                       env_metrics={name: v[:k] for name, v in rec.env_metrics.items()},
                       evolved={name: v[:k] for name, v in rec.evolved.items()},
                       bounds=None if rec.bounds is None else rec.bounds[:k])
    M.record_steps(model, view, model.steps)


def book_joined(model: SpecModel, rec: Stretch) -> None:
    """Book a stretch with a join inside it (``Stretch.joined``) as stepping books its steps: those
    before the join with the population before it (the groups' layout and the living count read
    the arrays the join replaced), the rest with the population now."""
    joined = rec.joined
    assert joined is not None
    model.env.step_counts = {}
    if summary_book.book_joined(model, rec):
        return
    k_before = joined.step - model.steps - 1
    group_of, alive, steps = model.group_of, model.alive, model.steps
    try:
        model.group_of, model.alive = joined.group_of, joined.alive
        book_stretch(model, rec.rows(0, k_before))  # each part as a stretch of its own
        model.group_of, model.alive = group_of, alive
        model.steps = steps + k_before
        book_stretch(model, rec.rows(k_before, rec.steps))
    finally:
        model.group_of, model.alive, model.steps = group_of, alive, steps
