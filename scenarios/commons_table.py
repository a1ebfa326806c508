"""The commons' decisions as a look-up table: each decider's take and outcome per observation.

Why apart from the compiled loop (``scenarios.commons_kernel``): the table is
made when a model that will fuse is built (``Commons.setup``), and building
must not import numba. A commons observation varies in two fields only (the
stock level, shared by all, and whether others over-used, per agent), so a
decider meets at most ``KEYS`` keys; every one gets its cell through
``DecisionTable.cells`` (the chain of command, once per key; drawn variants
are ranked together in numpy), and the loop only reads takes and outcomes.
Cells for keys a run never meets are counted nowhere: they change no result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from scenarios.commons import Commons

#: Stock levels an observation may hold (tenths of capacity, 0..10), as ``scenarios.commons``.
LEVELS = 11
#: Look-up keys per decider: (stock level, others_overused).
KEYS = 2 * LEVELS


class Lookup(NamedTuple):
    """Per agent its decider; per (key, decider) its act, outcome and the conflicts the outcome
    logs. Key ``level * 2 + others`` (rows: a step's agents read two rows, in decider order).
    """

    decider: np.ndarray    # (n,) int64
    act: np.ndarray        # (KEYS, deciders) int64: index into the act space
    outcome: np.ndarray    # (KEYS, deciders) int64
    conflicts: np.ndarray  # (KEYS, deciders) int64: the outcome's conflicts (event rows)
    covered: np.ndarray    # (deciders,) bool: the decider's keys are filled


def decision_lookup(env: Commons, model: Any, old: Lookup | None = None) -> Lookup:
    """The look-up for the model's deciders now, reusing ``old`` (its deciders' keys) when given."""
    from scenarios.commons import MAX_TAKE

    table = model.decisions
    dec = model.decider_of[0]
    if old is not None and len(old.decider) == len(dec) and np.array_equal(old.decider, dec):
        return old  # the same agents decide as they did: cells never change
    deciders = len(table.deciders)
    act, outcome = np.zeros((KEYS, deciders), np.int64), np.zeros((KEYS, deciders), np.int64)
    conflicts, covered = np.zeros((KEYS, deciders), np.int64), np.zeros(deciders, bool)
    if old is not None:
        had = len(old.covered)
        act[:, :had], outcome[:, :had], conflicts[:, :had] = old.act, old.outcome, old.conflicts
        covered[:had] = old.covered
    used = np.flatnonzero(np.bincount(dec, minlength=deciders))
    todo = used[~covered[used]]
    if len(todo):
        levels, others = np.divmod(np.arange(KEYS), 2)
        codes = env.codec.encode(stock=levels, others_overused=others, max_take=MAX_TAKE, coin=0)
        cells = table.cells(0, np.tile(todo, KEYS), np.repeat(codes, len(todo))).reshape(KEYS, len(todo))
        chosen = table.full[cells].astype(np.int64)
        act[:, todo] = chosen
        outcome[:, todo] = table.base[cells] + chosen
        conflicts[:, todo] = table.outcome_column("nconf")[outcome[:, todo]]
        covered[todo] = True
    return Lookup(dec.astype(np.int64), act, outcome, conflicts, covered)
