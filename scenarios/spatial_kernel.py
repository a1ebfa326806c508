"""The spatial-PD fast-forward: play, imitation and the step's records in one compiled loop.

Why: a generic step of Nowak and May's game at a million agents handles nine
million games through ``model.decide`` (keys, cells, outcomes, ``bincount``s)
and then the imitation update, about twenty full-size array passes; this loop
does the same work in two passes over the agents, in place.

Decisions still come from the chain of command: the loop reads the decision
table's dense look-up table (one cell per (decider, observation code), each
computed once by the resolver) and each cell's act and outcome, exactly as
``SpecModel.decide`` does. Imitation mirrors ``sim.evolution`` (imitate-the-best,
synchronous, every ``every`` steps); after an update each agent's decider is
that of its new type (group and traits), from a small table of the deciders
``sim.evolution`` made for every type met so far.

The loop decides every game of a step before it changes anything. It stops
early, and the driver below repairs the state before going on, at:
``MISSING`` (a key without a cell: the step's keys get cells the generic way),
``NEW_TYPE`` (after a step whose update made a type without a decider:
``Evolution._assign`` makes it), ``FIXED`` (one type took over: the fixation
event is logged at its step), and ``CONFLICT`` (a decision logs a conflict:
the generic step plays it). Results equal stepping one at a time
(``tests/test_spatial_kernel.py``).

What the loop cannot play falls back to the generic step: :func:`unsupported`
is the one list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba import njit

from scenarios.ipd_kernel import project
from scenarios.stretch import Stretch

if TYPE_CHECKING:
    from scenarios.spatial_pd import SpatialPD

#: Bytes of per-step records a stretch may hold (two (n,) float rows a step, plus counts).
RECORD_BUDGET = 128 << 20
#: Outcomes that new keys may add before a stretch must end (its count records have that width).
OUTCOME_HEADROOM = 256
#: Why ``_play`` stopped early.
MISSING, CONFLICT, NEW_TYPE, FIXED = 1, 2, 3, 4
#: The observation layout the loop encodes (checked against the codec).
OBS_FIELDS = ("my_last", "partner_last")


def unsupported(env: SpatialPD, model: Any) -> str | None:
    """Why the loop cannot play this model's next steps (None: it can). The one list of fallbacks."""
    from scenarios.spatial_pd import SpatialPD

    evo = model.evolution
    c = evo.config if evo is not None else None
    reasons = (
        (type(env).step is not SpatialPD.step or type(env).metrics is not SpatialPD.metrics,
         "the environment's step or metrics are overridden"),
        (env.codec.fields != OBS_FIELDS, "the observation is not (my_last, partner_last)"),
        (len(model.phases) != 1, "more than one decision phase"),
        (not model.deterministic_decisions,
         "a decision is not the resolver's alone (deliberation, error_rate, language model, learner, steer)"),
        (model.script.has_triggers, "a `when` trigger watches the steps"),
        (not bool(model.alive.all()), "an agent has left"),
        (not model.decisions.fits_dense(), "too many deciders for a dense decision table"),
        (c is not None and c.rule != "imitate_best", "an update rule other than imitate_best"),
        (c is not None and c.update != "synchronous", "asynchronous updating"),
        (c is not None and (c.mutation > 0 or c.revise < 1.0), "mutation or partial revision (random draws)"),
        (c is not None and (bool(c.groups) or c.rematch), "evolution limited to some groups, or rematch"),
        (evo is not None and model.spec_scenario.network["kind"] == "complete",
         "imitation on a complete graph (no neighbour table)"),
    )
    return next((why for bad, why in reasons if bad), None)


class Layout(NamedTuple):
    """The games of a step grouped by board position: the agent at position ``p`` (``order[p]``)
    plays slots ``start[p]:start[p + 1]``.

    Positions are a lattice's cells in row-major order (agent order on other graphs), so
    neighbours sit close in memory even when agents are placed at random: at a million
    agents the loop then reads caches, not main memory. Slot ``s`` is game row ``row[s]`` of
    ``SpatialPD.layout`` (an agent's rows in increasing order, so a payoff sums in the order
    ``bincount`` sums it); ``mirror[s]`` is the slot of the partner's side of the same game.
    """

    version: int
    order: np.ndarray
    start: np.ndarray
    row: np.ndarray
    mirror: np.ndarray
    agent: np.ndarray


class Lookup(NamedTuple):
    """Per position its decider (updated in place); the table's look-up and cell and outcome columns."""

    decider: np.ndarray   # (n,) int64, model.decider_of[0] by position
    keep: np.ndarray      # (deciders, 2) int64, 1 where read
    space: int
    radix: np.ndarray
    offset: np.ndarray
    lut: np.ndarray
    full: np.ndarray
    base: np.ndarray
    nconf: np.ndarray
    coop_of: np.ndarray


class Game(NamedTuple):
    R: float
    S: float
    T: float
    P: float


class Evolving(NamedTuple):
    """Imitation inside the loop (``on`` 0: no evolution); per-agent arrays by position."""

    on: int
    every: int
    t0: int               # model.steps before the stretch
    nbr: np.ndarray       # (n, dmax) neighbours' positions, in increasing agent index, -1 padded
    traits: np.ndarray    # (n, columns)
    evolved: np.ndarray   # columns copied
    sizes: np.ndarray     # values per column
    type_dec: np.ndarray  # per type code: its decider, -1 none yet
    window: np.ndarray    # payoff at the last update
    fixed: int            # 1 once a type fixed (no more FIXED stops)


class People(NamedTuple):
    """Per-agent state by position, gathered from the model before a call and put back after."""

    order: np.ndarray     # the agent at each position
    group: np.ndarray     # its group (by position)
    group_of: np.ndarray  # by agent: group sums add in agent order
    payoff: np.ndarray
    step_pay: np.ndarray
    all_c: np.ndarray


class Records(NamedTuple):
    """The stretch's arrays plus what the spatial game adds per step."""

    counts: np.ndarray
    step_pay: np.ndarray
    payoff: np.ndarray
    group_sums: np.ndarray
    cooperators: np.ndarray  # (K,) agents that cooperated in every game
    shares: np.ndarray       # (K, values of all columns) counts
    uniform: np.ndarray      # (K,) 1 if one type holds everyone


def fast_forward(env: SpatialPD, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` steps; None when not even the first could be played this way."""
    if limit <= 0 or unsupported(env, model) is not None:
        return None
    lay = _layout(env, model)
    if not len(lay.row):
        return None
    table = model.decisions
    evo = model.evolution
    mem = env._last[lay.row]  # per slot: my last move on the link (-1 none)
    if table.dense(0) is None:
        _fill(env, model, lay, mem)
    n, groups = len(model.payoff), len(model.groups)
    width = table.n_outcomes + OUTCOME_HEADROOM
    k = max(1, min(limit, RECORD_BUDGET // (8 * (width + 2 * n + groups))))
    rec = Stretch.empty(k, width, n, groups, 0)
    labels = [name for col in evo.labels() for name in col] if evo is not None else []
    extra = Records(rec.arrays.counts, rec.arrays.step_pay, rec.arrays.payoff, rec.arrays.group_sums,
                    np.zeros(k, np.int64), np.zeros((k, max(len(labels), 1)), np.int64), np.zeros(k, np.int64))
    order = lay.order
    group_of = model.group_of.astype(np.int64)
    all_c = np.zeros(n, np.bool_)
    why = np.zeros(1, np.int64)
    while rec.steps < k:
        # Gather by position, play, put back: every repair below reads the model in agent order.
        people = People(order, group_of[order], group_of, model.payoff[order], model.step_payoff[order],
                        all_c[order])
        lookup = _lookup(env, model, order)
        ev = _evolving(model, env, lay)
        rec.steps = _play(rec.steps, k, lookup, _game(env), lay.start, lay.mirror, mem, people, ev, extra, why)
        model.payoff[order] = people.payoff
        model.step_payoff[order] = people.step_pay
        all_c[order] = people.all_c
        model.decider_of[0][order] = lookup.decider
        if evo is not None:
            evo.traits[order] = ev.traits
            evo._window[order] = ev.window
        if why[0] == MISSING:
            _fill(env, model, lay, mem)
        elif why[0] == NEW_TYPE:
            evo._assign(model)
            _fill(env, model, lay, mem)
        elif why[0] == FIXED:
            evo._check_fixation(model, model.steps + rec.steps)
        else:
            break
        if table.n_outcomes > width:
            break
    env._last[lay.row] = mem
    if not rec.steps:
        return None
    env._all_c = all_c
    env.bounds = env.welfare_bounds(model)
    s = rec.steps
    alive = n  # everyone is alive in a stretch
    rec.env_metrics = {"cooperators": extra.cooperators[:s] / alive}
    if evo is not None:
        rec.evolved = {name: extra.shares[:s, j] / alive for j, name in enumerate(labels)}
        rec.evolved["fixation"] = extra.uniform[:s].astype(np.float64)
    return rec


def _layout(env: SpatialPD, model: Any) -> Layout:
    """The slot layout of the current graph (cached on the environment per graph version)."""
    got = env._slots
    if got is not None and got.version == model.graph_version:
        return got
    agents, _, mirror = env.layout(model)
    n = len(model.payoff)
    cells = model.network.cells
    order = np.arange(n) if cells is None or len(cells) != n else np.asarray(cells, np.int64)
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    at = pos[agents]
    row = np.argsort(at, kind="stable")
    slot_of = np.empty(len(row), np.int64)
    slot_of[row] = np.arange(len(row))
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(at, minlength=n), out=start[1:])
    got = Layout(model.graph_version, order, start, row, slot_of[mirror[row]], agents[row])
    env._slots = got
    env._slot_nbr = None
    return got


def _fill(env: SpatialPD, model: Any, lay: Layout, mem: np.ndarray) -> None:
    """Give the next step's keys their cells the generic way (and their projections, as read)."""
    table = model.decisions
    space = env.codec.space
    codes = env.codec.encode(my_last=mem, partner_last=mem[lay.mirror])
    # The distinct keys only (a bitmap over the few deciders x codes): ``cells`` computes missing
    # keys in sorted order whatever the input, so the cells are those of the whole step's keys.
    keys = np.flatnonzero(np.bincount(model.decider_of[0][lay.agent] * space + codes))
    dec, codes = np.divmod(keys, space)
    table.cells(0, dec, codes)
    keep = table.read_mask()
    table.cells(0, dec, project(env.codec, codes, keep[dec]))


def _lookup(env: SpatialPD, model: Any, order: np.ndarray) -> Lookup:
    """Fetched before every call: the table's arrays are reallocated when they grow."""
    codec, table = env.codec, model.decisions
    return Lookup(model.decider_of[0][order], table.read_mask().astype(np.int64), codec.space,
                  np.asarray(codec.radix, np.int64), np.asarray(codec.offset, np.int64), table.dense(0),
                  table.full, table.base, table.outcome_column("nconf"),
                  np.array([bool(a.cooperative) for a in env.acts], np.int8))


def _game(env: SpatialPD) -> Game:
    p = env.params
    return Game(float(p.R), float(p.S), float(p.T), float(p.P))


def _evolving(model: Any, env: SpatialPD, lay: Layout) -> Evolving:
    evo = model.evolution
    if evo is None:
        z = np.zeros((1, 1), np.int64)
        return Evolving(0, 1, 0, z, z, np.zeros(0, np.int64), np.ones(1, np.int64), np.zeros(1, np.int64),
                        np.zeros(1), 1)
    if env._slot_nbr is None:
        nbr, _ = evo._neighbours(model)
        pos = np.empty(len(lay.order), np.int64)
        pos[lay.order] = np.arange(len(lay.order))
        nbr = nbr[lay.order]
        env._slot_nbr = np.where(nbr < 0, -1, pos[np.maximum(nbr, 0)])
    nbr = env._slot_nbr
    sizes = np.asarray(evo.sizes, np.int64)
    type_dec = np.full(len(model.groups) * int(np.prod(sizes)), -1, np.int64)
    for code, dids in evo._deciders.items():
        type_dec[code] = dids[0]
    if len(evo._window) != len(model.payoff):
        raise AssertionError("the evolution window does not cover the population")
    return Evolving(1, evo.config.every, model.steps, nbr, evo.traits[lay.order],
                    np.asarray(evo.columns, np.int64), sizes, type_dec, evo._window[lay.order],
                    int(evo.fixed is not None))


@njit(cache=True, nogil=True)
def _play(k0, k_max, lk, game, start, mirror, mem, pp, ev, rec, why):  # pragma: no cover - compiled
    """Play steps ``k0``..``k_max - 1``; returns the next step (``why[0]``: why it stopped early).

    Mirrors ``SpatialPD.step``, ``SpecModel.decide`` and ``Evolution.after_play``
    (imitate-the-best, synchronous) for the supported case, operation for operation.
    """
    n = pp.payoff.shape[0]
    payoff, step_pay, all_c = pp.payoff, pp.step_pay, pp.all_c
    slots = mirror.shape[0]
    act = np.empty(slots, np.int8)
    out = np.empty(slots, np.int32)
    coop = np.empty(slots, np.int8)
    pay = np.empty(n)
    src = np.empty(n, np.int64)
    copied = np.empty(n, np.int64)
    ncol = ev.traits.shape[1]
    why[0] = 0
    for k in range(k0, k_max):
        # Decide every game first and change nothing: a step the loop cannot play is left whole.
        for i in range(n):
            d = lk.decider[i]
            for s in range(start[i], start[i + 1]):
                code = ((np.int64(mem[s]) + lk.offset[0]) * lk.radix[0] * lk.keep[d, 0]
                        + (np.int64(mem[mirror[s]]) + lk.offset[1]) * lk.radix[1] * lk.keep[d, 1])
                cell = np.int64(lk.lut[d * lk.space + code]) - 1  # entries are cell + 1; 0 missing
                if cell < 0:
                    why[0] = MISSING
                    return k
                a = np.int64(lk.full[cell])
                o = lk.base[cell] + a
                if lk.nconf[o] > 0:
                    why[0] = CONFLICT
                    return k
                act[s] = a
                out[s] = o
        for s in range(slots):
            coop[s] = lk.coop_of[act[s]]
        for i in range(n):
            sp = 0.0
            defected = False
            for s in range(start[i], start[i + 1]):
                rec.counts[k, out[s]] += 1
                mine, other = coop[s], coop[mirror[s]]
                sp += (game.R if other else game.S) if mine else (game.T if other else game.P)
                if not mine:
                    defected = True
            step_pay[i] = sp
            all_c[i] = start[i + 1] > start[i] and not defected
            if all_c[i]:
                rec.cooperators[k] += 1
        for s in range(slots):
            mem[s] = coop[s]
        for i in range(n):
            payoff[i] += step_pay[i]
            rec.step_pay[k, pp.order[i]] = step_pay[i]
            rec.payoff[k, pp.order[i]] = payoff[i]
        for a in range(n):  # in agent order, as bincount adds
            rec.group_sums[k, pp.group_of[a]] += rec.payoff[k, a]
        if ev.on:
            t = ev.t0 + k + 1  # the model's step number after this step
            new_type = False
            if t % ev.every == 0:
                for i in range(n):
                    pay[i] = payoff[i] - ev.window[i]
                    ev.window[i] = payoff[i]
                for i in range(n):
                    # Imitate the best of itself and its neighbours; the first best wins, itself first.
                    best, top = i, pay[i]
                    for j in range(ev.nbr.shape[1]):
                        c = ev.nbr[i, j]
                        if c < 0:
                            c = i
                        if pay[c] > top:
                            best, top = c, pay[c]
                    src[i] = best
                for col in ev.evolved:
                    # Synchronous: every copy reads the traits before the update.
                    for i in range(n):
                        copied[i] = ev.traits[src[i], col]
                    for i in range(n):
                        ev.traits[i, col] = copied[i]
                for i in range(n):
                    code = np.int64(pp.group[i])
                    for col in range(ncol):
                        code = code * ev.sizes[col] + ev.traits[i, col]
                    d = ev.type_dec[code]
                    if d < 0:
                        new_type = True
                    else:
                        lk.decider[i] = d
            off = 0
            uniform = 1
            for col in range(ncol):
                for i in range(n):
                    rec.shares[k, off + ev.traits[i, col]] += 1
                off += ev.sizes[col]
            for col in ev.evolved:
                for i in range(1, n):
                    if ev.traits[i, col] != ev.traits[0, col]:
                        uniform = 0
                        break
            rec.uniform[k] = uniform
            if new_type:
                why[0] = NEW_TYPE
                return k + 1
            if t % ev.every == 0 and uniform and not ev.fixed:
                why[0] = FIXED
                return k + 1
    return k_max
