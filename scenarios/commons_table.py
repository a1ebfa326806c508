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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from scenarios.stretch import SUMMARY, StepArrays

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
    """The look-up with what makes it: each agent's decider, each decider's profile (-1: its keys
    not looked up yet), the profiles by their rows' bytes, and per profile its keys' (act,
    outcome, conflicts) in a row. Kept per profile, not per decider: an event that adds a
    decider to a drawn village copies a few dozen rows, not thousands."""

    decider: np.ndarray
    profile_of: np.ndarray  # (deciders,) int64
    kinds: dict[bytes, int]
    by_kind: np.ndarray     # (profiles, 3 * KEYS) int64
    lookup: Lookup
    logs: bool             # some key's outcome, of a profile some agent has, logs conflicts
    codes: np.ndarray      # (KEYS,) each key's observation code (encoded with the look-up, at set-up)


def decision_lookup(env: Commons, model: Any, old: Decisions | None = None,
                    ahead: Sequence[int] = ()) -> Decisions:
    """The look-up for the model's deciders now, reusing ``old`` (its deciders' keys) when given;
    also for the deciders ``ahead`` (those of newcomers a declared join will bring)."""
    table = model.decisions
    dec = model.decider_of[0]
    if old is not None and len(old.decider) == len(dec) and np.array_equal(old.decider, dec):
        return old  # the same agents decide as they did: cells never change
    deciders = len(table.deciders)
    if old is not None and len(old.profile_of) == deciders:
        profile = old.profile_of[dec]
        if len(profile) and profile.min() >= 0:  # every decider's keys looked up already (a join's, made ahead)
            return _profiled(old, dec, profile)
    profile_of = np.full(deciders, -1, np.int64)
    kinds: dict[bytes, int] = {} if old is None else old.kinds
    by_kind = np.zeros((0, 3 * KEYS), np.int64) if old is None else old.by_kind
    if old is not None:
        profile_of[:len(old.profile_of)] = old.profile_of
        codes = old.codes
    else:
        levels, others = np.divmod(np.arange(KEYS), 2)
        codes = env.codec.encode(stock=levels, others_overused=others, max_take=env.max_take, coin=0)
    used = np.flatnonzero(np.bincount(dec, minlength=deciders))
    if len(ahead):
        used = np.union1d(used, np.asarray(ahead, np.int64))
    todo = used[profile_of[used] < 0]
    if len(todo):
        cells = table.cells(0, np.repeat(todo, KEYS), np.tile(codes, len(todo))).reshape(len(todo), KEYS)
        act = table.full[cells].astype(np.int64)
        outcome = table.base[cells] + act
        rows = np.concatenate([act, outcome, table.outcome_column("nconf")[outcome]], axis=1)
        # Profiles by the rows' bytes: numpy's unique over rows sorts a void dtype, ~50 ms for 600.
        profile_of[todo] = [kinds.setdefault(r.tobytes(), len(kinds)) for r in rows]
        if len(kinds) > len(by_kind):
            grown = np.zeros((len(kinds), 3 * KEYS), np.int64)
            grown[:len(by_kind)] = by_kind
            grown[profile_of[todo]] = rows  # deciders of one profile have the same row
            by_kind = grown
    act, outcome, conflicts = (np.ascontiguousarray(part.T) for part in np.split(by_kind, 3, axis=1))
    profile = profile_of[dec]
    had = np.bincount(profile, minlength=len(kinds)) > 0
    return Decisions(dec.copy(), profile_of, kinds, by_kind, Lookup(profile, act, outcome, conflicts),
                     bool(conflicts[:, had].any()), codes)


def _profiled(old: Decisions, dec: np.ndarray, profile: np.ndarray) -> Decisions:
    """``old`` for agents deciding as ``dec`` now, every one of a profile it holds (its rows stay)."""
    lk = old.lookup
    had = np.bincount(profile, minlength=len(old.kinds)) > 0
    return old._replace(decider=dec.copy(), lookup=lk._replace(profile=profile), logs=bool(lk.conflicts[:, had].any()))


#: Most payoff classes a stretch follows before it sorts agents instead.
CLASS_ROOM = 4096


class Classes(NamedTuple):
    """Agents by payoff history: every agent of class ``c`` holds the payoff ``value[c]``.

    A step's pay depends on the act alone, so agents that acted alike hold the same
    payoff: sorting the few classes' values sorts every payoff (the Gini and equality
    read sorted payoffs). Past ``value``'s room, the loop sorts the agents instead.
    """

    of: np.ndarray      # (n,) int64: each agent's class
    value: np.ndarray   # (room,) the classes' payoffs
    count: np.ndarray   # (room,) int64: agents per class
    value2: np.ndarray  # (room,) scratch: the next step's classes
    count2: np.ndarray  # (room,) int64 scratch
    remap: np.ndarray   # (room * acts,) int64 scratch: (class, act) -> the next step's class
    size: np.ndarray    # int64 [classes now; 0: too many, the loop sorts agents]
    eq: np.ndarray      # (n,) scratch: rank x sorted payoff (equality)


class Scratch(NamedTuple):
    """Buffers a stretch overwrites before it reads them: made with a model that will fuse
    (``Commons.setup``, as the look-up is) and kept on the environment from one stretch to the
    next (fresh pages cost a short stretch more than its work); remade when agents join."""

    group_of: np.ndarray            # the model's ``group_of`` as int64
    agents: tuple[np.ndarray, ...]  # ``State``'s scratch: chosen, demand, xs, buf
    classes: Classes
    of: np.ndarray                  # the ``group_of`` they were made for


def scratch_for(env: Commons, model: Any) -> Scratch:
    """The environment's buffers if they are for the model's agents now, else new ones."""
    kept: Scratch | None = env.scratch
    n = len(model.group_of)
    if kept is not None and kept.of is model.group_of:
        return kept
    return Scratch(model.group_of.astype(np.int64), (np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n)),
                   _classes(n, len(env.take_of)), model.group_of)


#: Bytes of per-step records a stretch may hold (outcome counts, and outcome ids when some log conflicts).
RECORD_BUDGET = 64 << 20
#: Columns of the environment's per-step metrics, in ``Commons.metrics``' order.
ENV_COLUMNS = ("stock", "harvest", "over_usage", "equality", "survival")


class Records(NamedTuple):
    """A stretch's zeroed records, for ``steps`` steps of ``width`` outcomes, ``n`` agents and
    ``groups`` groups: the stretch's arrays, the environment's columns ((steps, ENV_COLUMNS)) and
    the conflicts' arrays (``commons_kernel.Conflicts``' fields: ``size`` entries)."""

    key: tuple[int, int, int, int, int]  # (steps, width, n, groups, size)
    arrays: StepArrays
    env_cols: np.ndarray
    conflicts: tuple[np.ndarray, ...]


def stretch_length(env: Commons, model: Any, limit: int) -> tuple[int, int]:
    """How many of ``limit`` steps a stretch records, and the room for its conflicts' entries."""
    n = len(model.payoff)
    logs = env.lookup is not None and env.lookup.logs
    per_step = 8 * (model.decisions.n_outcomes + len(model.groups) + 2 + len(ENV_COLUMNS) + (2 * n if logs else 0))
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    return k, k * n if logs else 0


def records(k: int, width: int, n: int, groups: int, size: int) -> Records:
    """Zeroed records (``Records``) in two blocks of memory, one of integers and one of floats:
    a short stretch pays for allocations more than for its work."""
    ints = np.zeros(k * width + 3 * k + 1, np.int64)
    floats = np.zeros(k * (groups + len(SUMMARY) + len(ENV_COLUMNS)))
    none = np.zeros((k, 0))  # summarised: no per-agent or per-pair columns (never written)
    at = k * width
    f1 = k * groups
    f2 = f1 + k * len(SUMMARY)
    arrays = StepArrays(ints[:at].reshape(k, width), none, none, floats[:f1].reshape(k, groups), none,
                        np.zeros((k, 0), np.bool_), none, none, floats[f1:f2].reshape(k, len(SUMMARY)))
    conflicts = (np.empty(size, np.int64), np.empty(size, np.int64), ints[at:at + k + 1], ints[at + k + 1:at + 2 * k + 1],
                 ints[at + 2 * k + 1:])
    return Records((k, width, n, groups, size), arrays, floats[f2:].reshape(k, len(ENV_COLUMNS)), conflicts)


def first_records(env: Commons, model: Any) -> Records:
    """The records of a run's first stretch, made with the model (``Commons.setup``)."""
    steps = model.spec_scenario.steps
    k, size = stretch_length(env, model, model.script.quiet_steps(model.steps, steps) or steps)
    return records(k, model.decisions.n_outcomes, len(model.payoff), len(model.groups), size)


def _classes(n: int, acts: int) -> Classes:
    """Room for the payoffs' classes, found by the loop from the payoffs (``_classify``)."""
    room = min(CLASS_ROOM, max(n, 1))
    return Classes(np.empty(n, np.int64), np.empty(room), np.empty(room, np.int64), np.empty(room),
                   np.empty(room, np.int64), np.empty(room * acts, np.int64), np.zeros(1, np.int64), np.empty(n))
