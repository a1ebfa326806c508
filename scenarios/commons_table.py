"""The commons' decisions as a look-up table: each decider's act and outcome per observation.

Why apart from the compiled loop (``scenarios.commons_kernel``): the table is
made when a model that will fuse is built (``Commons.setup``), and building
must not import numba. A commons observation varies in two fields only (the
stock level, shared by all, and whether others over-used, per agent), so a
decider meets at most ``KEYS`` keys; every one gets its cell through
``DecisionTable.cells`` (the chain of command, once per key; drawn variants
are ranked together in numpy), and the loop only reads takes and outcomes.
Cells for keys a run never meets are counted nowhere: they change no result.

The loop's records and its call (``Call``: every array it is handed) are made here too, the
first stretch's with the model: a run of a thousand agents lasts about a millisecond, and
making its records and arguments cost a fifth of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from scenarios.stretch import SUMMARY, StepArrays, Stretch

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
    table: np.ndarray      # (3, KEYS, profiles): the look-up's act, outcome and conflicts in one array


def decision_lookup(env: Commons, model: Any, old: Decisions | None = None,
                    ahead: Sequence[int] = ()) -> Decisions:
    """The look-up for the model's deciders now, reusing ``old`` (its deciders' keys) when given;
    also for the deciders ``ahead`` (those of newcomers a declared join will bring)."""
    table = model.decisions
    dec = model.decider_of[0]
    spare = getattr(env, "spare", None)
    if spare is not None and _same(spare.lookup.decider, dec):
        return spare.lookup  # made with the model for the agents a declared join brings
    # Compared as bytes: numpy's array_equal costs a short run's cold start more (both int64).
    if old is not None and _same(old.decider, dec):
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
    # One array (the loop is handed it whole: each argument costs a call its unboxing).
    table = np.ascontiguousarray(by_kind.reshape(len(by_kind), 3, KEYS).transpose(1, 2, 0))
    act, outcome, conflicts = table
    profile = profile_of[dec]
    had = np.bincount(profile, minlength=len(kinds)) > 0
    return Decisions(dec.copy(), profile_of, kinds, by_kind, Lookup(profile, act, outcome, conflicts),
                     bool(conflicts[:, had].any()), codes, table)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays hold the same values of one dtype: compared as bytes (numpy's
    array_equal costs a short run's cold start more)."""
    return len(a) == len(b) and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _profiled(old: Decisions, dec: np.ndarray, profile: np.ndarray) -> Decisions:
    """``old`` for agents deciding as ``dec`` now, every one of a profile it holds (its rows stay)."""
    lk = old.lookup
    had = np.bincount(profile, minlength=len(old.kinds)) > 0
    return old._replace(decider=dec.copy(), lookup=lk._replace(profile=profile), logs=bool(lk.conflicts[:, had].any()))


class Resource(NamedTuple):
    """The parameters as ``Commons.step`` combines them (each product taken once, as there)."""

    capacity: float
    share: float          # 1 - 1 / growth: the share of the stock a sustainable take leaves to regrow
    collapse_at: float    # collapse_below * capacity
    growth: float         # the median factor (times each step's ``State.factors``: exp of its shock)
    take: np.ndarray      # per act: the multiple of the sustainable share


class State(NamedTuple):
    """What the loop carries from step to step, written back after it."""

    payoff: np.ndarray     # (n,) cumulative payoffs
    step_pay: np.ndarray   # (n,) the last step's payoffs
    over_last: np.ndarray  # (n,) int8: took above its share last step
    factors: np.ndarray    # (K,) exp of each step's shock (1.0 without), in the order steps use them
    scalars: np.ndarray    # float64 [stock]
    ints: np.ndarray       # int64, see ``COLLAPSE`` ... ``LOGGED``
    order: np.ndarray      # (n,) int64: the payoffs' order at the last step (the Gini's sort starts there)
    chosen: np.ndarray     # (n,) int64 scratch: each agent's act
    demand: np.ndarray     # (n,) scratch
    xs: np.ndarray         # (n,) scratch
    buf: np.ndarray        # (n,) scratch


class Written(NamedTuple):
    """The ``StepArrays`` a commons stretch writes (the rest have no columns: it is summarised)."""

    counts: np.ndarray
    group_sums: np.ndarray
    summary: np.ndarray


class Conflicts(NamedTuple):
    """Decisions whose outcome logs conflicts: step ``k``'s are ``lo[k]:at[k + 1]``, ``rows[k]`` event
    rows. A step that logs the very decisions of the step before points at its entries again."""

    agent: np.ndarray
    outcome: np.ndarray
    at: np.ndarray
    rows: np.ndarray
    lo: np.ndarray


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


#: The pieces of the scratch's blocks and of a stretch's records' blocks, in their order: the loop is
#: handed the blocks and where each piece starts (``Call.args``), and cuts them there.
SCRATCH_INTS = ("group_of", "chosen", "of", "count", "count2", "remap", "size")
#: ``Resource``'s numbers (its fields before ``take``), the last piece of the scratch's floats.
RESOURCE_FLOATS = 4
SCRATCH_FLOATS = ("demand", "xs", "buf", "value", "value2", "eq", "take", "resource")
RECORD_INTS = ("counts", "at", "rows", "lo", "ints")
RECORD_FLOATS = ("group_sums", "summary", "env_cols", "factors", "scalars")


class Scratch(NamedTuple):
    """Buffers a stretch overwrites before it reads them: made with a model that will fuse
    (``Commons.setup``, as the look-up is) and kept on the environment from one stretch to the
    next (fresh pages cost a short stretch more than its work); remade when agents join.
    Every array is a view of one of two blocks (pieces in ``SCRATCH_INTS``' and
    ``SCRATCH_FLOATS``' order), which also hold the resource's parameters (``Resource``)."""

    group_of: np.ndarray            # the model's ``group_of`` as int64
    agents: tuple[np.ndarray, ...]  # ``State``'s scratch: chosen, demand, xs, buf
    classes: Classes
    of: np.ndarray                  # the ``group_of`` they were made for
    resource: Resource
    params: object                  # the parameters it was made for (a shock changes them)
    blocks: tuple[np.ndarray, np.ndarray]  # the integers' and the floats' block
    spans: tuple[int, ...]          # each block's pieces' starts, and its end


def scratch_for(env: Commons, model: Any) -> Scratch:
    """The environment's buffers if they are for the model's agents now, else new ones."""
    kept: Scratch | None = env.scratch
    if kept is not None and kept.of is model.group_of and kept.params is env.params:
        return kept
    spare = getattr(env, "spare", None)
    if spare is not None and spare.scratch.params is env.params and _same(spare.scratch.of, model.group_of):
        return spare.scratch._replace(of=model.group_of)
    return _new_scratch(env, model.group_of)


def _new_scratch(env: Commons, group_of_now: np.ndarray) -> Scratch:
    """Buffers for agents in these groups."""
    n = len(group_of_now)
    acts = len(env.take_of)
    room = min(CLASS_ROOM, max(n, 1))
    int_at = _starts((n, n, n, room, room, room * acts, 1))
    float_at = _starts((n, n, n, room, room, n, acts, RESOURCE_FLOATS))
    ints = np.zeros(int_at[-1], np.int64)  # zeroed: the classes' count starts at none
    floats = np.empty(float_at[-1])
    group_of, chosen, of, count, count2, remap, size = _pieces(ints, int_at)
    demand, xs, buf, value, value2, eq, take, resource = _pieces(floats, float_at)
    group_of[:] = group_of_now
    res = _resource(env)
    take[:] = res.take
    resource[:] = res[:RESOURCE_FLOATS]
    return Scratch(group_of, (chosen, demand, xs, buf), Classes(of, value, count, value2, count2, remap, size, eq),
                   group_of_now, res, env.params, (ints, floats), int_at + float_at)


def _starts(sizes: Sequence[int]) -> tuple[int, ...]:
    """Where pieces of these sizes start in one block, one after another, and where the last ends."""
    return tuple(accumulate(sizes, initial=0))


def _pieces(block: np.ndarray, starts: Sequence[int]) -> list[np.ndarray]:
    """The views of ``block`` that ``starts`` (``_starts``) lay out."""
    return [block[lo:hi] for lo, hi in pairwise(starts)]


def _resource(env: Commons) -> Resource:
    """``Resource`` of the environment's parameters."""
    prm = env.params
    return Resource(float(prm.capacity), 1.0 - 1.0 / prm.growth, prm.collapse_below * prm.capacity, float(prm.growth),
                    env.take_of)


#: Bytes of per-step records a stretch may hold (outcome counts, and outcome ids when some log conflicts).
RECORD_BUDGET = 64 << 20
#: Columns of the environment's per-step metrics, in ``Commons.metrics``' order.
ENV_COLUMNS = ("stock", "harvest", "over_usage", "equality", "survival")


class Records(NamedTuple):
    """A stretch's zeroed records, for ``steps`` steps of ``width`` outcomes, ``n`` agents and
    ``groups`` groups: the stretch (its arrays, and its environment's columns (steps,
    ENV_COLUMNS) named), the conflicts' arrays (``Conflicts``' fields: ``size`` entries), and
    the loop's per-stretch state (``State.factors``, ``scalars``, ``ints``), to be filled."""

    key: tuple[int, int, int, int, int]  # (steps, width, n, groups, size)
    stretch: Stretch
    env_cols: np.ndarray
    conflicts: Conflicts
    factors: np.ndarray
    scalars: np.ndarray
    ints: np.ndarray
    blocks: tuple[np.ndarray, np.ndarray]  # the integers' and the floats' block (each array above is a view)
    spans: tuple[int, ...]  # each block's pieces' starts, and its end (``RECORD_INTS``, ``RECORD_FLOATS``)


#: Entries of ``State.ints`` (``commons_kernel.COLLAPSE`` ...).
INTS = 7


def stretch_length(env: Commons, model: Any, limit: int, lookup: Decisions | None = None) -> tuple[int, int]:
    """How many of ``limit`` steps a stretch records, and the room for its conflicts' entries (of
    the model's agents now, or of those of ``lookup``)."""
    lookup = env.lookup if lookup is None else lookup
    n = len(model.payoff) if lookup is env.lookup else len(lookup.decider)
    logs = lookup is not None and lookup.logs
    per_step = 8 * (model.decisions.n_outcomes + len(model.groups) + 2 + len(ENV_COLUMNS) + (2 * n if logs else 0))
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    return k, k * n if logs else 0


def records(k: int, width: int, n: int, groups: int, size: int) -> Records:
    """Zeroed records (``Records``) in two blocks of memory, one of integers and one of floats:
    a short stretch pays for allocations more than for its work."""
    int_at = _starts((k * width, k + 1, k, k, INTS))
    float_at = _starts((k * groups, k * len(SUMMARY), k * len(ENV_COLUMNS), k, 1))
    ints = np.zeros(int_at[-1], np.int64)
    floats = np.zeros(float_at[-1])
    counts, at, rows, lo, state = _pieces(ints, int_at)
    group_sums, summary, env_cols, factors, scalars = _pieces(floats, float_at)
    none = np.zeros((k, 0))  # summarised: no per-agent or per-pair columns (never written)
    arrays = StepArrays(counts.reshape(k, width), none, none, group_sums.reshape(k, groups), none,
                        np.zeros((k, 0), np.bool_), none, none, summary.reshape(k, len(SUMMARY)))
    env_cols = env_cols.reshape(k, len(ENV_COLUMNS))
    stretch = Stretch(0, arrays, env_metrics={name: env_cols[:, c] for c, name in enumerate(ENV_COLUMNS)},
                      one_block=True, env_block=(ENV_COLUMNS, env_cols))
    # The conflicts' entries apart: zeroing their room (a thousand agents a step) costs more
    # than handing the loop two more arrays.
    conflicts = Conflicts(np.empty(size, np.int64), np.empty(size, np.int64), at, rows, lo)
    return Records((k, width, n, groups, size), stretch, env_cols, conflicts,
                   factors, scalars, state, (ints, floats), int_at + float_at)


class Call(NamedTuple):
    """A stretch's loop call made ahead (``call_for``): its records, its ``State``, and the loop's
    arguments after the step count. A model that will fuse makes its first stretch's with the
    model (``Commons.setup``): the timed run then fills in the stock, counters and shocks only."""

    records: Records
    state: State
    parts: tuple[Any, ...]  # the loop's records (``commons_kernel._play``'s arguments after the step count)
    args: tuple[Any, ...]   # the same in the blocks they are views of, and where (``_play_flat``'s)
    holds: tuple[object, ...]  # what it was made from: the payoffs, over-takes, look-up, buffers, order


def call_for(env: Commons, model: Any, k: int, size: int) -> Call:
    """The call of a ``k``-step stretch of the model's agents now (``size``: its conflicts' room)."""
    n = len(model.payoff)
    key = (k, model.decisions.n_outcomes, n, len(model.groups), size)
    spare = getattr(env, "spare", None)
    made = spare.records if spare is not None and spare.records.key == key else records(*key)
    if len(env.over_last) < n:  # newcomers have no past (as Commons.step extends it)
        env.over_last = np.concatenate([env.over_last, np.zeros(n - len(env.over_last), bool)])
    scratch = env.scratch = scratch_for(env, model)
    kept = env.kept_order  # where the Gini's sort starts: the last stretch's order, if for as many agents
    order = kept if kept is not None and len(kept) == n else np.arange(n)
    state, parts, args = _call(made, scratch, env.lookup, model.payoff, model.step_payoff, env.over_last, order)
    env.kept_order = order
    if spare is not None and made is spare.records:
        env.spare = None  # spent: each piece serves one stretch, and the look-up is kept from here
    return Call(made, state, parts, args, _holds(env, model, env.lookup.lookup))


def _call(made: Records, scratch: Scratch, lookup: Decisions, payoff: np.ndarray, step_pay: np.ndarray,
          over_last: np.ndarray, order: np.ndarray) -> tuple[State, tuple[Any, ...], tuple[Any, ...]]:
    """A call's ``State``, and the loop's arguments (``Call.parts`` and ``Call.args``)."""
    state = State(payoff, step_pay, over_last.view(np.int8), made.factors, made.scalars, made.ints, order,
                  *scratch.agents)
    arrays = made.stretch.arrays
    written = Written(arrays.counts, arrays.group_sums, arrays.summary)
    parts = (lookup.lookup, scratch.resource, state, scratch.group_of, written, made.env_cols, made.conflicts,
             scratch.classes)
    # Bare arrays, and few: numba's dispatcher types a bare array several times faster than one
    # in a NamedTuple, and unboxes each argument apart (a few microseconds each with cold caches).
    args = (*made.blocks, *scratch.blocks, np.array(made.spans + scratch.spans, np.int64), payoff, step_pay,
            state.over_last, order, lookup.lookup.profile, lookup.table, *made.conflicts[:2])
    return state, parts, args


def joined_call(env: Commons, model: Any, k: int, size: int) -> Call | None:
    """The call made with the model for the stretch with the declared join inside it
    (``Spare.call``), if this is that stretch (the join has fired): the model's payoffs (and
    the over-takes) move into the arrays the call was made with. None if it is not."""
    spare = env.spare
    call = None if spare is None else spare.call
    n = len(model.payoff)
    if (call is None or spare is None or call.records.key != (k, model.decisions.n_outcomes, n, len(model.groups), size)
            or env.lookup is not spare.lookup or spare.scratch.params is not env.params
            or not _same(spare.scratch.of, model.group_of)):
        return None
    state = call.state
    state.payoff[:] = model.payoff  # the same values: the join's arrays, copied (newcomers' zeros)
    state.step_pay[:] = model.step_payoff
    model.payoff, model.step_payoff = state.payoff, state.step_pay
    over = call.holds[0]
    assert isinstance(over, np.ndarray)
    over[:len(env.over_last)] = env.over_last  # newcomers have no past
    env.over_last = over
    env.scratch = spare.scratch._replace(of=model.group_of)
    env.kept_order = state.order
    env.call = env.spare = None  # spent
    return call


def ready_call(env: Commons, model: Any, k: int, size: int) -> Call:
    """The call made ahead if it is for this stretch of the model now (then spent), else a new one."""
    call, env.call = env.call, None
    n = len(model.payoff)
    if (call is None or call.records.key != (k, model.decisions.n_outcomes, n, len(model.groups), size)
            or not all(a is b for a, b in zip(call.holds, _holds(env, model, env.lookup.lookup), strict=True))):
        return call_for(env, model, k, size)
    return call


def _holds(env: Commons, model: Any, lookup: Lookup) -> tuple[object, ...]:
    """What a call depends on: the arrays it hands the loop, and where they come from."""
    return (model.payoff, model.step_payoff, env.over_last, lookup, env.scratch, env.kept_order, model.group_of,
            env.params)


class Spare(NamedTuple):
    """What the stretch after a declared join needs, made with the model (``spare_for``): the
    look-up, buffers and records for the agents it brings, each used if the run meets them.
    Where the loop will play the join inside a stretch (``Commons.absorbs_join``), the records
    are that stretch's, from the run's start."""

    lookup: Decisions
    scratch: Scratch
    records: Records
    event: int  # the join's index in the script
    binds: tuple[object, ...]  # its group's spec, instructions and delegations at build
    #: That stretch's call (``joined_call``), on arrays of its own that the model's take over.
    call: Call | None = None


def covers(spare: Spare, model: Any) -> bool:
    """Whether the spare's look-up is for the model's agents now (and newcomers after them)."""
    n = len(model.payoff)
    return len(spare.lookup.decider) > n and _same(spare.lookup.decider[:n], model.decider_of[0])


def deterministic_joiners(model: Any, g: int) -> bool:
    """Whether newcomers of group ``g`` leave every decision the resolver's (``SpecModel._note_rates``):
    a join of theirs leaves the loop able to play."""
    gspec = model.spec_scenario.groups[g]
    return not (gspec.deliberation < 1.0 or gspec.error_rate > 0.0)


def spare_for(env: Commons, model: Any) -> Spare | None:
    """The ``Spare`` of the script's first join at a step (None without one, or when its
    newcomers' deciders are the join's to make)."""
    joins = [ev for ev in model.script.events if ev.type == "join" and ev.at is not None]
    lookup = env.lookup
    if not joins or lookup is None:
        return None
    ev = min(joins, key=lambda e: e.at)
    g, count = model.group_index(ev.args["group"]), int(ev.args.get("count", 1))
    ids = model.joiner_deciders(g)
    if ids is None or count < 1:
        return None
    dec = np.concatenate([model.decider_of[0], np.full(count, ids[0], np.int64)])
    if len(lookup.profile_of) <= dec.max():
        return None
    profile = lookup.profile_of[dec]
    if profile.min() < 0:
        return None
    after = _profiled(lookup, dec, profile)
    group_of = np.concatenate([model.group_of, np.full(count, g, model.group_of.dtype)])
    # Played from the join's step (it fires ahead of it) to the next event or the end; from the
    # run's start where the join is the first event and the loop will play it inside the stretch.
    steps = model.spec_scenario.steps
    limit = 1 + model.script.quiet_steps(ev.at, steps - ev.at)
    alone = all(e is ev or (e.at is not None and e.at > ev.at) for e in model.script.events)
    absorbs = ev.at > 1 and alone and deterministic_joiners(model, g)
    if absorbs:
        limit += ev.at - 1
    k, size = stretch_length(env, model, limit, after)
    n = len(dec)
    made = records(k, model.decisions.n_outcomes, n, len(model.groups), size)
    gs = model.groups[g]
    scratch = _new_scratch(env, group_of)
    call = None
    if absorbs:
        over_last = np.zeros(n, bool)
        state, parts, args = _call(made, scratch, after, np.zeros(n), np.zeros(n), over_last, np.arange(n))
        call = Call(made, state, parts, args, (over_last,))
    return Spare(after, scratch, made, ev.index, (gs.spec, tuple(gs.instructions), tuple(gs.delegations)), call)


def first_call(env: Commons, model: Any) -> Call:
    """The call of a run's first stretch, made with the model (``Commons.setup``)."""
    steps = model.spec_scenario.steps
    return call_for(env, model, *stretch_length(env, model, model.script.quiet_steps(model.steps, steps) or steps))


