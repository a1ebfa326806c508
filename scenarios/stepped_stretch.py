"""A stretch of an environment's own steps, booked at once: no compiled loop, no per-step booking.

Why: in a numpy game of ~1,000 agents a step's booking (a one-step metrics view,
twenty-odd metric functions, the series) costs about as much as its play. Where
the environment's step is all the engine runs (no learner, memory, evolution or
rewiring, no event due), playing its steps back to back and handing the engine
their records as one :class:`Stretch` books K steps for about the price of one.

Nothing is mirrored: each step is the environment's own ``step``, with the
model's step number, payoffs and counters set as ``SpecModel.step`` sets them;
only ``collect_step`` is replaced by the records below (the rows a one-step view
reads: payoffs, group sums, truth, trust and meetings of every pair row, counters,
the environment's metrics, decision counts). The engine books a stretch against
one pair of welfare bounds unless the stretch carries them per step
(``bounds_per_step``: tooth-fairy's follow each step's draws). Pair rows made during the stretch
(only appended: an environment that lays rows out anew, ``PairTable.align``,
must not use this) are unmet in the steps before they exist, so the trust
metrics skip them there, as they skip every unmet row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scenarios.stretch import Stretch


def unsteppable(model: Any) -> str | None:
    """Why steps of ``model`` cannot be played back to back here (None: they can)."""
    reasons = (
        (model.learning is not None, "a learner learns between steps"),
        (model.memory is not None, "language models remember outcomes"),
        (model.evolution is not None, "evolution changes the deciders"),
        (model.network.may_rewire, "rewiring may cut ties after a step"),
        (model.script.has_triggers, "a `when` trigger watches the steps"),
        (len(model.phases) != 1, "more than one decision phase"),
    )
    return next((why for bad, why in reasons if bad), None)


def play(model: Any, k: int, step: Callable[[Any], None], bounds_per_step: bool = False) -> Stretch:
    """Play ``k`` steps of ``step(model)`` after ``model.steps`` and return their records.

    The caller checked :func:`unsteppable` and that no scripted event is due in the ``k``
    steps; ``model.steps`` is put back, for Mesa's clock to count the steps (``SpecModel.run``).
    ``bounds_per_step``: the welfare bounds may change from step to step (``Stretch.bounds``).
    """
    env = model.env
    pairs = model.pairs
    t0 = model.steps
    n, groups = len(model.payoff), len(model.groups)
    moved = pairs.moved
    step_pay, payoff = np.zeros((k, n)), np.zeros((k, n))
    group_sums = np.zeros((k, groups))
    kept, total = np.zeros((k, n)), np.zeros((k, n))
    trust: list[np.ndarray] = []
    met: list[np.ndarray] = []
    outcomes: list[np.ndarray] = []
    counters: list[dict[str, float]] = []
    env_metrics: list[dict[str, float]] = []
    bounds: list[tuple[float, float]] = []
    try:
        for s in range(k):
            model.steps = t0 + s + 1  # what Mesa has counted when a step starts
            model.step_payoff[:] = 0.0
            env.step_counts = {}
            model._step_outcomes = []
            step(model)
            model.payoff += model.step_payoff
            step_pay[s] = model.step_payoff
            payoff[s] = model.payoff
            group_sums[s] = np.bincount(model.group_of, weights=model.payoff, minlength=groups)
            kept[s], total[s] = model.truth_kept, model.truth_total
            trust.append(pairs.all_trust() if len(pairs) else np.zeros(0))
            met.append(pairs["turns"] > 0 if len(pairs) else np.zeros(0, dtype=bool))
            outcomes.append(np.concatenate(model._step_outcomes) if model._step_outcomes
                            else np.zeros(0, dtype=np.int64))
            counters.append(env.step_counts)
            env_metrics.append(env.metrics(model))
            bounds.append(env.bounds)
    finally:
        model.steps = t0
        model._step_outcomes = []
    if not bounds_per_step and any(b != bounds[0] for b in bounds):
        raise AssertionError("a stepped stretch's welfare bounds changed between steps")
    if pairs.moved != moved:
        raise AssertionError("a stepped stretch's environment laid pair rows out anew (PairTable.align)")
    rows = len(trust[-1])
    width = model.decisions.n_outcomes
    counts = np.zeros((k, width), dtype=np.int64)
    trust_k, met_k = np.full((k, rows), 0.5), np.zeros((k, rows), dtype=bool)
    for s in range(k):
        counts[s] = np.bincount(outcomes[s], minlength=width)
        # Rows appear only at the end (PairTable.index, _one): a row made later is unmet before.
        trust_k[s, :len(trust[s])] = trust[s]
        met_k[s, :len(met[s])] = met[s]
    rec = Stretch.empty(k, width, 0, groups, 0)
    rec.steps = k
    rec.arrays = rec.arrays._replace(counts=counts, step_pay=step_pay, payoff=payoff, group_sums=group_sums,
                                     trust=trust_k, met=met_k, truth_kept=kept, truth_total=total)
    rec.counters = _columns(counters, "counters")
    rec.env_metrics = _columns(env_metrics, "metrics")
    if bounds_per_step:
        rec.bounds = np.array(bounds, dtype=float).reshape(k, 2)
    return rec


def _columns(steps: list[dict[str, float]], what: str) -> dict[str, np.ndarray]:
    """Per-step dicts as columns; every step must name the same keys in the same order (as a
    series of one-step views would otherwise gain a column midway)."""
    names = list(steps[0])
    if any(list(d) != names for d in steps):
        raise AssertionError(f"a stepped stretch's steps report different {what}")
    return {name: np.array([d[name] for d in steps], dtype=float) for name in names}
