"""The commons' decisions as a look-up table: each decider's act and outcome per observation.

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
    """What the loop reads: per agent its profile, per (key, profile) the act, the outcome and the
    conflicts the outcome logs. Key ``level * 2 + others``.

    A profile is the deciders that decide alike on every key: a drawn village has thousands of
    deciders but few profiles, so the loop's look-ups stay in the fastest cache.
    """

    profile: np.ndarray    # (n,) int64
    act: np.ndarray        # (KEYS, profiles) int64: index into the act space
    outcome: np.ndarray    # (KEYS, profiles) int64
    conflicts: np.ndarray  # (KEYS, profiles) int64: the outcome's conflicts (event rows)


class Decisions(NamedTuple):
    """The look-up with what makes it: each agent's decider, and per decider its keys' (act,
    outcome, conflicts) in a row (``covered``: filled)."""

    decider: np.ndarray
    rows: np.ndarray       # (deciders, 3 * KEYS) int64
    covered: np.ndarray    # (deciders,) bool
    lookup: Lookup


def decision_lookup(env: Commons, model: Any, old: Decisions | None = None) -> Decisions:
    """The look-up for the model's deciders now, reusing ``old`` (its deciders' keys) when given."""
    from scenarios.commons import MAX_TAKE

    table = model.decisions
    dec = model.decider_of[0]
    if old is not None and len(old.decider) == len(dec) and np.array_equal(old.decider, dec):
        return old  # the same agents decide as they did: cells never change
    deciders = len(table.deciders)
    rows, covered = np.zeros((deciders, 3 * KEYS), np.int64), np.zeros(deciders, bool)
    if old is not None:
        rows[: len(old.covered)], covered[: len(old.covered)] = old.rows, old.covered
    used = np.flatnonzero(np.bincount(dec, minlength=deciders))
    todo = used[~covered[used]]
    if len(todo):
        levels, others = np.divmod(np.arange(KEYS), 2)
        codes = env.codec.encode(stock=levels, others_overused=others, max_take=MAX_TAKE, coin=0)
        cells = table.cells(0, np.repeat(todo, KEYS), np.tile(codes, len(todo))).reshape(len(todo), KEYS)
        act = table.full[cells].astype(np.int64)
        outcome = table.base[cells] + act
        rows[todo] = np.concatenate([act, outcome, table.outcome_column("nconf")[outcome]], axis=1)
        covered[todo] = True
    kinds, of_used = np.unique(rows[used], axis=0, return_inverse=True)
    profile_of = np.zeros(deciders, np.int64)
    profile_of[used] = of_used.ravel()
    act, outcome, conflicts = (np.ascontiguousarray(part.T) for part in np.split(kinds, 3, axis=1))
    return Decisions(dec.copy(), rows, covered, Lookup(profile_of[dec], act, outcome, conflicts))
