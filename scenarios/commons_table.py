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

#: The stock observed in tenths of capacity; ``scenarios.commons`` and its kernel read it from here.
STOCK_BUCKETS = 10
#: Stock levels an observation may hold (0..STOCK_BUCKETS).
LEVELS = STOCK_BUCKETS + 1
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
    outcome, conflicts) in a row (``covered``: filled) and its profile (``kinds``: row -> profile)."""

    decider: np.ndarray
    rows: np.ndarray       # (deciders, 3 * KEYS) int64
    covered: np.ndarray    # (deciders,) bool
    profile_of: np.ndarray  # (deciders,) int64
    kinds: dict[bytes, int]
    lookup: Lookup


def decision_lookup(env: Commons, model: Any, old: Decisions | None = None) -> Decisions:
    """The look-up for the model's deciders now, reusing ``old`` (its deciders' keys) when given."""
    table = model.decisions
    dec = model.decider_of[0]
    if old is not None and len(old.decider) == len(dec) and np.array_equal(old.decider, dec):
        return old  # the same agents decide as they did: cells never change
    deciders = len(table.deciders)
    rows, covered = np.zeros((deciders, 3 * KEYS), np.int64), np.zeros(deciders, bool)
    profile_of = np.zeros(deciders, np.int64)
    kinds: dict[bytes, int] = {} if old is None else old.kinds
    if old is not None:
        had = len(old.covered)
        rows[:had], covered[:had], profile_of[:had] = old.rows, old.covered, old.profile_of
    used = np.flatnonzero(np.bincount(dec, minlength=deciders))
    todo = used[~covered[used]]
    if len(todo):
        levels, others = np.divmod(np.arange(KEYS), 2)
        codes = env.codec.encode(stock=levels, others_overused=others, max_take=env.max_take, coin=0)
        cells = table.cells(0, np.repeat(todo, KEYS), np.tile(codes, len(todo))).reshape(len(todo), KEYS)
        act = table.full[cells].astype(np.int64)
        outcome = table.base[cells] + act
        rows[todo] = np.concatenate([act, outcome, table.outcome_column("nconf")[outcome]], axis=1)
        covered[todo] = True
        # Profiles by the rows' bytes: numpy's unique over rows sorts a void dtype, ~50 ms for 600.
        profile_of[todo] = [kinds.setdefault(r.tobytes(), len(kinds)) for r in rows[todo]]
    by_kind = np.zeros((len(kinds), 3 * KEYS), np.int64)
    by_kind[profile_of[used]] = rows[used]
    act, outcome, conflicts = (np.ascontiguousarray(part.T) for part in np.split(by_kind, 3, axis=1))
    return Decisions(dec.copy(), rows, covered, profile_of, kinds, Lookup(profile_of[dec], act, outcome, conflicts))
