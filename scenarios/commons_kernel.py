"""The commons fast-forward: a stretch of harvests, regrowth and the step's metrics in one compiled loop.

Why: the game is one comparison and one subtraction per agent, so a generic
step is all fixed cost (observation codes, ``model.decide``'s look-ups and
counts, a metrics view of twenty small numpy calls); a plain Mesa model does
it in a Python loop over agents. The loop below plays the steps of a stretch
with per-agent work only and hands the engine its metrics per step.

Decisions still come from the chain of command: every (decider, stock level,
others' over-use) key a living agent may meet has its cell from
``DecisionTable.cells`` (``scenarios.commons_table``, made when the model is
built and extended for deciders that events add); the loop only looks up each
key's act and outcome. Everything ``Commons.step`` draws (the
regrowth shocks) is drawn before the loop from ``model.rng_env``, in the
order stepping draws it, and the stream is put back to where stepping would
leave it when the resource collapses before the draws run out.

Mirrored operation for operation (``tests/test_commons_kernel.py``): the
harvest's proportional scaling, payoffs as ``bincount`` adds them, the stock's
regrowth and collapse, and the metrics with numpy's summation order
(``scenarios.kernel_sums``): welfare, Gini, group sums, and commons' own
stock, harvest, over-use, equality and survival. What the loop cannot play
(``Commons.unfused``) is stepped.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.jit import njit
from scenarios.commons_table import (
    RECORD_FLOATS,
    RECORD_INTS,
    SCRATCH_INTS,
    STOCK_BUCKETS,
    Classes,
    Conflicts,
    Lookup,
    Resource,
    State,
    Written,
    decision_lookup,
    joined_call,
    ready_call,
    stretch_length,
)
from scenarios.kernel_sums import _U1, SORT_MOVES, gini_step, sort_order, total, total_at, totals3
from scenarios.stretch import Joined, Stretch

if TYPE_CHECKING:
    from scenarios.commons import Commons

#: The observation layout the look-up encodes (checked against the codec).
OBS_FIELDS = ("stock", "others_overused", "max_take", "coin")


#: Where each block's pieces start in the loop's ``spans`` (``commons_table.call_for``): the
#: records' integers and floats, then the scratch's (each block's starts, then its end).
REC_INTS = 0
REC_FLOATS = REC_INTS + len(RECORD_INTS) + 1
SCR_INTS = REC_FLOATS + len(RECORD_FLOATS) + 1
SCR_FLOATS = SCR_INTS + len(SCRATCH_INTS) + 1

#: Positions in ``State.ints``: the collapse step (-1: none), factors used, the first step's
#: number, over-takes and takes so far, the last step's over-takes and takers.
COLLAPSE, USED, FIRST, TOTAL_OVER, TOTAL_TAKES, OVER, TAKERS = range(7)


def fast_forward(env: Commons, model: Any, limit: int, joined: Joined | None = None) -> Stretch | None:
    """Play up to ``limit`` steps; None when none could be played this way (the caller checked
    ``Commons.unfused``). ``joined``: a join inside the stretch, fired ahead (``Commons.absorbs_join``):
    the newcomers play from its step on (``_play_joined``)."""
    if limit <= 0:
        return None
    codec = env.codec
    if codec.fields != OBS_FIELDS:
        raise AssertionError(f"the commons kernel encodes {OBS_FIELDS}, the environment observes {codec.fields}")
    env.lookup = decision_lookup(env, model, env.lookup)
    k, size = stretch_length(env, model, limit)
    call = None if joined is None else joined_call(env, model, k, size)
    if call is None:
        call = ready_call(env, model, k, size)
    made, state = call.records, call.state
    prm = env.params
    rng = model.rng_env
    draws = prm.regrowth_sd > 0
    saved = rng.bit_generator.state if draws else None
    factors = state.factors
    if draws:
        # Each factor as Commons._growth_factor computes it (the same operations, elementwise),
        # from the same draws in the same order. ``normal(0, sd)`` is ``0.0 + sd x z``: it
        # differs from ``sd x z`` in a zero's sign only, which ``exp`` takes to 1.0 either way.
        # (``_regrow`` multiplies by ``growth`` as it uses each.)
        np.exp(rng.normal(0.0, prm.regrowth_sd, k), out=factors)
    else:
        factors.fill(1.0)  # growth x 1.0 is growth: the factor without a shock
    state.scalars[0] = float(env.stock)
    state.ints[:] = (-1 if env.collapse_step is None else env.collapse_step, 0, model.steps + 1,
                     env._total_over, env._total_takes, env._over, env._takers)
    if joined is not None:
        k_before = joined.step - model.steps - 1
        if not 0 <= k_before < k:
            raise AssertionError(f"a join at step {joined.step} outside a stretch of {k} steps after {model.steps}")
        _play_joined(k_before, joined.before, k, *call.args)
    elif not _play_flat(k, *call.args):
        # Agent by agent, called apart: a run whose stretches all fit types never compiles it.
        _play(k, *call.parts, 0)
    rec = made.stretch
    rec.steps = k
    # Read back as Python numbers in one call (a numpy scalar per entry costs more, cold), in
    # ``COLLAPSE`` ... ``TAKERS`` order.
    collapse, used, _, env._total_over, env._total_takes, env._over, env._takers = state.ints.tolist()
    if draws and used < k:
        # The resource collapsed: stepping would have drawn only the shocks used.
        rng.bit_generator.state = saved
        rng.standard_normal(used)
    env_cols = made.env_cols
    env.stock = state.scalars.item(0)
    env.collapse_step = None if collapse < 0 else collapse
    env._harvest = env_cols.item(k - 1, 1)
    env.bounds = (0.0, env.sustainable_yield)
    env.kept_order = state.order
    if size:
        # The records are this stretch's own: the log keeps them (one compact copy of the
        # entries), split into steps when read.
        conflicts = made.conflicts
        logged = conflicts.at.item(k)  # ends never decrease: a repeated step ends where its model did
        model.log.conflict_block(model.steps + 1, conflicts.agent[:logged].copy(), conflicts.outcome[:logged].copy(),
                                 conflicts.at, conflicts.rows, conflicts.lo)
    return rec


@njit(cache=True, nogil=True)
def _cut(block, spans, at):  # pragma: no cover - compiled
    """The piece of ``block`` that starts at ``spans[at]`` (and ends where the next starts)."""
    return block[spans[at]:spans[at + 1]]


@njit(cache=True, nogil=True)
def _play_flat(k_max, rec_ints, rec_floats, scr_ints, scr_floats, spans, payoff, step_pay, over_last, order,
               profile, table, agent, outcome):  # pragma: no cover - compiled
    """The loop on its records handed over as the blocks they are cut from (``commons_table``'s
    ``Records`` and ``Scratch``, pieces in ``RECORD_INTS``... order; ``spans`` says where each
    starts), the model's arrays, the look-up (``Decisions.table``) and the conflicts' entries:
    by agent types when the agents fall into few enough (``_types``). Returns whether it played;
    if not, the classes are made and the caller plays agent by agent (``_play``)."""
    lk, res, st, group_of, rec, env_cols, cf, cl = _unpacked(k_max, rec_ints, rec_floats, scr_ints, scr_floats, spans,
                                                             payoff, step_pay, over_last, order, profile, table,
                                                             agent, outcome)
    _classify(st.payoff, st.order, st.xs, st.buf, cl)
    fits, types = _types(lk, st, cl)
    if fits:
        _play_types(k_max, lk, res, st, group_of, rec, env_cols, cf, types, 0)
    return fits


@njit(cache=True, nogil=True, inline="always")
def _unpacked(k_max, rec_ints, rec_floats, scr_ints, scr_floats, spans, payoff, step_pay, over_last, order, profile,
              table, agent, outcome):  # pragma: no cover - compiled
    """``_play``'s arguments but the step count, cut from the blocks ``_play_flat`` is handed."""
    lk = Lookup(profile, table[0], table[1], table[2])
    at = spans[SCR_FLOATS + 7]  # the resource's numbers (``commons_table.SCRATCH_FLOATS``)
    res = Resource(scr_floats[at], scr_floats[at + 1], scr_floats[at + 2], scr_floats[at + 3],
                   _cut(scr_floats, spans, SCR_FLOATS + 6))
    ints = _cut(rec_ints, spans, REC_INTS + 4)
    st = State(payoff, step_pay, over_last, _cut(rec_floats, spans, REC_FLOATS + 3),
               _cut(rec_floats, spans, REC_FLOATS + 4), ints, order, _cut(scr_ints, spans, SCR_INTS + 1),
               _cut(scr_floats, spans, SCR_FLOATS), _cut(scr_floats, spans, SCR_FLOATS + 1),
               _cut(scr_floats, spans, SCR_FLOATS + 2))
    counts = _cut(rec_ints, spans, REC_INTS)
    group_sums = _cut(rec_floats, spans, REC_FLOATS)
    summary = _cut(rec_floats, spans, REC_FLOATS + 1)
    rec = Written(counts.reshape(k_max, counts.shape[0] // k_max), group_sums.reshape(k_max, group_sums.shape[0] // k_max),
                  summary.reshape(k_max, summary.shape[0] // k_max))
    env_flat = _cut(rec_floats, spans, REC_FLOATS + 2)
    env_cols = env_flat.reshape(k_max, env_flat.shape[0] // k_max)
    cf = Conflicts(agent, outcome, _cut(rec_ints, spans, REC_INTS + 1), _cut(rec_ints, spans, REC_INTS + 2),
                   _cut(rec_ints, spans, REC_INTS + 3))
    cl = Classes(_cut(scr_ints, spans, SCR_INTS + 2), _cut(scr_floats, spans, SCR_FLOATS + 3),
                 _cut(scr_ints, spans, SCR_INTS + 3), _cut(scr_floats, spans, SCR_FLOATS + 4),
                 _cut(scr_ints, spans, SCR_INTS + 4), _cut(scr_ints, spans, SCR_INTS + 5),
                 _cut(scr_ints, spans, SCR_INTS + 6), _cut(scr_floats, spans, SCR_FLOATS + 5))
    group_of = _cut(scr_ints, spans, SCR_INTS)
    return lk, res, st, group_of, rec, env_cols, cf, cl


@njit(cache=True, nogil=True)
def _play_joined(k_before, n_before, k_max, rec_ints, rec_floats, scr_ints, scr_floats, spans, payoff, step_pay,
                 over_last, order, profile, table, agent, outcome):  # pragma: no cover - compiled
    """``_play_flat``'s stretch with a join inside it (``Joined``): its first ``k_before`` steps
    played by the first ``n_before`` agents alone (the newcomers, the last agents, are not there
    yet: they neither decide, earn nor count), the rest by all. Each part is played as a
    stretch of its own would be (classes and types made afresh: the newcomers bring their own),
    by types where they fit, else agent by agent. Returns which parts played by types (bit 0:
    the first, bit 1: the second)."""
    lk, res, st, group_of, rec, env_cols, cf, cl = _unpacked(k_max, rec_ints, rec_floats, scr_ints, scr_floats, spans,
                                                             payoff, step_pay, over_last, order, profile, table,
                                                             agent, outcome)
    n = lk.profile.shape[0]
    first = st.ints[FIRST]
    logged = 0
    by_types = 0
    for part in range(2):
        lo, hi, m = (0, k_before, n_before) if part == 0 else (k_before, k_max, n)
        if hi == lo:
            continue
        lk_m = Lookup(lk.profile[:m], lk.act, lk.outcome, lk.conflicts)
        st_m = State(st.payoff[:m], st.step_pay[:m], st.over_last[:m], st.factors, st.scalars, st.ints,
                     st.order[:m], st.chosen[:m], st.demand[:m], st.xs[:m], st.buf[:m])
        rec_m = Written(rec.counts[lo:hi], rec.group_sums[lo:hi], rec.summary[lo:hi])
        cf_m = Conflicts(cf.agent, cf.outcome, cf.at[lo:], cf.rows[lo:hi], cf.lo[lo:hi])
        cl_m = Classes(cl.of[:m], cl.value, cl.count, cl.value2, cl.count2, cl.remap, cl.size, cl.eq[:m])
        st.ints[FIRST] = first + lo  # a collapse is booked at its own step's number
        _classify(st_m.payoff, st_m.order, st_m.xs, st_m.buf, cl_m)
        fits, types = _types(lk_m, st_m, cl_m)
        if fits:
            logged = _play_types(hi - lo, lk_m, res, st_m, group_of[:m], rec_m, env_cols[lo:hi], cf_m, types, logged)
            by_types |= 1 << part
        else:
            logged = _play(hi - lo, lk_m, res, st_m, group_of[:m], rec_m, env_cols[lo:hi], cf_m, cl_m, logged)
    st.ints[FIRST] = first
    return by_types


@njit(cache=True, nogil=True)
def _play(k_max, lk, res, st, group_of, rec, env_cols, cf, cl, logged):  # pragma: no cover - compiled
    """Play ``k_max`` steps of ``Commons.step`` (with ``SpecModel.step``'s payoff booking) for
    ``n`` living agents; per step the outcome counts, group sums, welfare, Gini and the
    environment's metrics. Mirrors the numpy operations in their order. The conflicts' entries
    start at ``logged`` (0 but after a join, ``_play_joined``); returns where they end."""
    n = lk.profile.shape[0]
    acts = res.take.shape[0]
    dem, got, big = _per_act(res.take)
    stock = st.scalars[0]
    ints = st.ints
    past = 0
    for i in range(n):
        past += st.over_last[i]
    for k in range(k_max):
        harvest = 0.0
        over = np.int64(0)  # not a literal 0: numba would compile its callees for one too
        takers = np.int64(0)
        if ints[COLLAPSE] < 0 and n > 0:
            # Every agent's demand is its act's: ((multiple x stock) x share) / n, as numpy rounds it.
            for a in range(acts):
                dem[a] = res.take[a] * stock * res.share / n
            row = 2 * math.floor(stock / res.capacity * STOCK_BUCKETS + 1e-9)
            for i in range(n):
                d = lk.profile[i]
                j = row + (1 if past - st.over_last[i] > 0 else 0)
                o = lk.outcome[j, d]
                rec.counts[k, o] += 1
                if lk.conflicts[j, d]:
                    cf.agent[logged] = i
                    cf.outcome[logged] = o
                    cf.rows[k] += lk.conflicts[j, d]
                    logged += 1
                a = lk.act[j, d]
                st.chosen[i] = a
                st.demand[i] = dem[a]
            asked = total(st.demand, n)
            for a in range(acts):
                got[a] = dem[a] * (stock / asked) if asked > stock else dem[a]
            classes = cl.size[0]
            fresh = 0
            for q in range(classes * acts):
                cl.remap[q] = -1
            for i in range(n):
                a = st.chosen[i]
                pay = 0.0 + (0.0 + got[a])  # a zeroed step payoff += bincount's sum from 0.0
                st.step_pay[i] = pay
                st.over_last[i] = big[a]
                over += big[a]
                st.payoff[i] += pay
                rec.group_sums[k, group_of[i]] += st.payoff[i]
                if classes:
                    at = cl.of[i] * acts + a
                    to = cl.remap[at]
                    if to < 0:
                        if fresh == cl.value.shape[0]:
                            classes = 0  # too many: sort the agents from here on
                            continue
                        to = cl.remap[at] = fresh
                        cl.value2[to] = st.payoff[i]
                        cl.count2[to] = 0
                        fresh += 1
                    cl.of[i] = to
                    cl.count2[to] += 1
            for q in range(fresh if classes else 0):  # a loop: a slice copy compiles its shape errors' text
                cl.value[q] = cl.value2[q]
                cl.count[q] = cl.count2[q]
            cl.size[0] = fresh if classes else 0
            past = over
            harvest = total(st.step_pay, n)
            takers = n
            stock = _regrow(stock, harvest, over, takers, res, st.factors, ints, k)
        else:
            for i in range(n):
                st.step_pay[i] = 0.0
                st.payoff[i] += 0.0  # nothing earned, added as stepping adds it
                rec.group_sums[k, group_of[i]] += st.payoff[i]
            for q in range(cl.size[0]):
                cl.value[q] += 0.0
        cf.lo[k] = cf.at[k]
        cf.at[k + 1] = logged
        if cl.size[0]:
            gini, eq = _sorted_by_class(st.payoff, cl.value[:cl.size[0]], cl.count, cl.eq, st.xs, st.buf, n)
        else:
            gini = gini_step(st.payoff, st.order, st.xs, st.buf)
            eq = _equality(st.payoff, st.order, st.xs, st.buf, n)
        _step_metrics(k, stock, harvest, over, takers, gini, eq, ints, rec.summary, env_cols)
    st.scalars[0] = stock
    return logged


@njit(cache=True, nogil=True)
def _per_act(take):  # pragma: no cover - compiled
    """Per act: room for a step's demand and take, and whether it is above the sustainable share."""
    acts = take.shape[0]
    big = np.empty(acts, np.int8)
    for a in range(acts):
        big[a] = 1 if take[a] > 1.0 + 1e-9 else 0
    return np.empty(acts), np.empty(acts), big


@njit(cache=True, nogil=True)
def _regrow(stock, harvest, over, takers, res, factors, ints, k):  # pragma: no cover - compiled
    """The stock after a harvest (``Commons.step``'s collapse and regrowth); counts the takes."""
    ints[TOTAL_OVER] += over
    ints[TOTAL_TAKES] += takers
    left = stock - harvest
    if left < 0.0:  # max(left, 0.0) as Python takes it
        left = 0.0
    if left < res.collapse_at:
        ints[COLLAPSE] = ints[FIRST] + k
        return left
    grown = left * (res.growth * factors[ints[USED]])  # Commons._growth_factor's product, then its use
    ints[USED] += 1
    return res.capacity if res.capacity < grown else grown


@njit(cache=True, nogil=True)
def _step_metrics(k, stock, harvest, over, takers, gini, eq, ints, summary, env_cols):  # pragma: no cover - compiled
    """Step ``k``'s row: the last step's counts, welfare and Gini, the environment's five columns."""
    ints[OVER] = over
    ints[TAKERS] = takers
    # Welfare sums every agent's step payoff, the harvest every taker's: the same sum here.
    summary[k, 0] = harvest
    summary[k, 1] = gini
    env_cols[k, 0] = stock
    env_cols[k, 1] = harvest
    env_cols[k, 2] = over / takers if takers else np.nan
    env_cols[k, 3] = eq
    env_cols[k, 4] = 0.0 if ints[COLLAPSE] >= 0 else 1.0


class Types(NamedTuple):
    """Agents by type: those alike in payoff, profile and last over-take act alike for the rest
    of the stretch (a decision reads only the stock level, shared, and whether others over-used,
    which the agent's own last take settles), so they stay alike. Per type its profile, state
    and agents; per agent its type (``State.chosen`` holds it: the per-agent loop's scratch)."""

    of: np.ndarray     # (n,) int64: each agent's type
    value: np.ndarray  # (T,) the type's cumulative payoff
    big: np.ndarray    # (T,) int64: took above its share last step
    profile: np.ndarray  # (T,) int64
    count: np.ndarray  # (T,) int64: agents
    act: np.ndarray    # (T,) int64: this step's act
    outcome: np.ndarray  # (T,) int64: this step's outcome
    logs: np.ndarray   # (T,) int64: the conflicts this step's outcome logs
    demand: np.ndarray  # (T,) this step's demand of one agent
    pay: np.ndarray    # (T,) this step's payoff of one agent
    rank: np.ndarray   # (T,) int64: the types by value at the last step (the next step's sort starts there)


@njit(cache=True, nogil=True, inline="always")
def _types(lk, st, cl):  # pragma: no cover - compiled
    """(True, the agents' types), or (False, ...) where they do not fit the classes' room (or a
    payoff's class does not hold its exact bits: signed zeros, NaN): the loop goes agent by agent."""
    n = lk.profile.shape[0]
    size = cl.size[0]
    room = cl.value.shape[0]
    profiles = lk.act.shape[1]
    fits = n > 0 and size > 0 and size * profiles * 2 <= 64 * room
    slot = np.full(size * profiles * 2 if fits else 0, -1, np.int64)
    of = st.chosen
    # No more types than agents: a village smaller than the room allocates (and zeroes) less.
    cap = min(room, n)
    value = np.empty(cap)
    big = np.empty(cap, np.int64)
    profile = np.empty(cap, np.int64)
    count = np.zeros(cap, np.int64)
    types = 0
    for i in range(n if fits else 0):
        x = st.payoff[i]
        if x != x or (x == 0.0 and math.copysign(1.0, x) < 0.0):
            fits = False
            break
        key = (cl.of[i] * profiles + lk.profile[i]) * 2 + st.over_last[i]
        t = slot[key]
        if t < 0:
            if types == cap:  # the room's: ``n`` types leave no agent to start another
                fits = False
                break
            t = slot[key] = types
            value[t], big[t], profile[t] = x, st.over_last[i], lk.profile[i]
            types += 1
        elif x != value[t]:
            fits = False
            break
        of[i] = t
        count[t] += 1
    return fits, Types(of, value[:types], big[:types], profile[:types], count[:types], np.empty(types, np.int64),
                       np.empty(types, np.int64), np.empty(types, np.int64), np.empty(types), np.zeros(types),
                       np.arange(types))


@njit(cache=True, nogil=True)
def _play_types(k_max, lk, res, st, group_of, rec, env_cols, cf, ty, logged):  # pragma: no cover - compiled
    """``_play`` by agent types: per step the decisions, counts and payoffs once per type, and per
    agent only the sums whose rounding depends on the agents' order (the demand, the harvest,
    the group sums, the Gini's total) and the conflicts' log; the agents' arrays are written back
    at the end. The same operations on the same values as ``_play`` (``logged`` and the return too)."""
    n = lk.profile.shape[0]
    types = ty.value.shape[0]
    acts = res.take.shape[0]
    dem, got, big = _per_act(res.take)
    stock = st.scalars[0]
    ints = st.ints
    past = 0
    for t in range(types):
        past += ty.count[t] * ty.big[t]
    for k in range(k_max):
        harvest = 0.0
        over = np.int64(0)  # not a literal 0: numba would compile its callees for one too
        takers = np.int64(0)
        if ints[COLLAPSE] < 0:
            for a in range(acts):
                dem[a] = res.take[a] * stock * res.share / n
            row = 2 * math.floor(stock / res.capacity * STOCK_BUCKETS + 1e-9)
            rows = 0
            again = k > 0  # the same decisions log as at the step before (their outcomes too)
            for t in range(types):
                d = ty.profile[t]
                j = row + (1 if past - ty.big[t] > 0 else 0)
                o = lk.outcome[j, d]
                logs = lk.conflicts[j, d]
                if (logs > 0) != (ty.logs[t] > 0) or (logs > 0 and o != ty.outcome[t]):
                    again = False
                ty.act[t] = lk.act[j, d]
                ty.outcome[t] = o
                ty.logs[t] = logs
                ty.demand[t] = dem[ty.act[t]]
                rec.counts[k, o] += ty.count[t]
                rows += ty.count[t] * logs
            cf.lo[k] = cf.lo[k - 1] if again and rows else logged
            if rows and not again:
                for i in range(n):
                    t = ty.of[i]
                    if ty.logs[t]:
                        cf.agent[logged] = i
                        cf.outcome[logged] = ty.outcome[t]
                        logged += 1
            cf.rows[k] += rows
            asked = total_at(ty.demand, ty.of, n)
            for a in range(acts):
                got[a] = dem[a] * (stock / asked) if asked > stock else dem[a]
            asked_all = True  # every pay is its demand, bit for bit: the harvest is the demand's sum
            for t in range(types):
                a = ty.act[t]
                ty.pay[t] = 0.0 + (0.0 + got[a])  # a zeroed step payoff += bincount's sum from 0.0
                ty.value[t] += ty.pay[t]
                ty.big[t] = big[a]
                over += ty.count[t] * big[a]
                asked_all = asked_all and _same_bits(ty.pay[t], ty.demand[t])
            past = over
            harvest = asked if asked_all else total_at(ty.pay, ty.of, n)
            takers = n
            stock = _regrow(stock, harvest, over, takers, res, st.factors, ints, k)
        else:
            cf.lo[k] = logged
            for t in range(types):
                ty.pay[t] = 0.0
                ty.value[t] += 0.0  # nothing earned, added as stepping adds it
        cf.at[k + 1] = logged
        gini, eq = _sorted_by_type(ty, group_of, rec.group_sums, k, st.xs, st.buf, st.demand, n)
        _step_metrics(k, stock, harvest, over, takers, gini, eq, ints, rec.summary, env_cols)
    st.scalars[0] = stock
    for i in range(n):
        t = ty.of[i]
        st.payoff[i] = ty.value[t]
        st.step_pay[i] = ty.pay[t]
        st.over_last[i] = ty.big[t]
    return logged


@njit(cache=True, nogil=True, inline="always")
def _same_bits(x, y):  # pragma: no cover - compiled
    """Whether two floats are one value, signed zeros told apart (no NaN is)."""
    return x == y and math.copysign(1.0, x) == math.copysign(1.0, y)


#: Most payoff classes ``_classify`` finds by looking each agent's payoff up among those found;
#: past them it sorts the agents.
FEW_CLASSES = 32


@njit(cache=True, nogil=True, inline="always")
def _classify(payoff, order, xs, buf, cl):  # pragma: no cover - compiled
    """The payoffs' classes, one per distinct value (a NaN is a class of its own: equal to none);
    none past the room. Which number a class has changes nothing the loop reports (``_types``
    and the classes' next step number them afresh, in the agents' order).

    Looked up among those found, the last agent's first (alike agents come in runs): a stretch
    after a join starts with few classes, where sorting the agents from a stale order took a
    merge sort, dearer than the stretch's first steps."""
    n = payoff.shape[0]
    size = 0
    c = 0
    run = 0  # agents in a row of class ``c``, counted in a register
    for i in range(n):
        x = payoff[i]
        if size == 0 or x != cl.value[c]:
            if size:
                cl.count[c] += run
            run = 0
            c = 0
            while c < size and x != cl.value[c]:
                c += 1
            if c == size:
                if size == FEW_CLASSES or size == cl.value.shape[0]:
                    _classify_sorted(payoff, order, xs, buf, cl)
                    return
                cl.value[size] = x
                cl.count[size] = 0
                size += 1
        cl.of[i] = c
        run += 1
    if size:
        cl.count[c] += run
    cl.size[0] = size


@njit(cache=True, nogil=True)
def _classify_sorted(payoff, order, xs, buf, cl):  # pragma: no cover - compiled
    """``_classify`` by sorting the payoffs (``order`` sorts them on return): many classes."""
    n = payoff.shape[0]
    gini_step(payoff, order, xs, buf)  # for its side effect: ``order`` sorts the payoffs
    size = 0
    for q in range(n):
        i = order[q]
        if size == 0 or payoff[i] != cl.value[size - 1]:
            if size == cl.value.shape[0]:
                cl.size[0] = 0  # too many: the loop sorts agents
                return
            cl.value[size] = payoff[i]
            cl.count[size] = 0
            size += 1
        cl.of[i] = size - 1
        cl.count[size - 1] += 1
    cl.size[0] = size


@njit(cache=True, nogil=True, inline="always")
def _sorted_by_class(payoff, value, count, eq, xs, buf, n):  # pragma: no cover - compiled
    """(Gini, equality) of ``payoff`` from its classes (``Classes``' values and counts):
    ``kernel_sums.gini_step`` and ``_equality``'s operations in their order, on payoffs sorted
    by sorting the classes."""
    low = payoff[0]
    for i in range(n):
        low = min(low, payoff[i])
    shift = min(0.0, low)
    plain = shift == 0.0 and math.copysign(1.0, shift) > 0.0  # x - 0.0 is x, bit for bit
    if plain:
        tot = total(payoff, n)
    else:
        for i in range(n):
            buf[i] = payoff[i] - shift
        tot = total(buf, n)
    order = np.empty(value.shape[0], np.int64)
    sort_order(value, order, value.shape[0])  # stable: ties are equal values, in any order alike
    _fill_sorted(value, count, order, plain, shift, xs, buf, eq)
    return _sorted_gini(tot, xs, buf, eq, n)


@njit(cache=True, nogil=True, inline="always")
def _sorted_by_type(ty, group_of, sums, k, xs, buf, eq, n):  # pragma: no cover - compiled
    """``_sorted_by_class`` of the agents' payoffs held by type (``Types``' values, agents' types
    and counts; each type's value, in any order: the minimum and the sorted values are the same;
    the total is summed in the agents' order), and step ``k``'s group sums: ``sums[k, g] +=
    value[of[i]]`` for each agent ``i`` of group ``g`` in turn.

    The sorted payoffs, their running sum and the group sums are written in one loop: the two
    sums are chains of dependent additions, which overlap there (the group's sum kept in a
    register while the group stays the same: the same additions in the same order)."""
    value, of, count = ty.value, ty.of, ty.count
    low = value[0]
    for t in range(value.shape[0]):
        low = min(low, value[t])
    shift = min(0.0, low)
    plain = shift == 0.0 and math.copysign(1.0, shift) > 0.0
    tot = 0.0  # unshifted, summed with the sorted payoffs' sums below (``totals3``)
    if not plain:  # shifted: summed here, before ``buf`` holds the running sum
        for i in range(n):
            buf[i] = value[of[i]] - shift
        tot = total(buf, n)
    _rank(value, ty.rank)
    g = group_of[0]
    group = sums[k, g]
    run = 0.0
    i = np.uint64(0)  # unsigned: no wraparound check per index (``kernel_sums._block``)
    for c in ty.rank:
        x = value[c]
        v = x if plain else x - shift
        for _ in range(count[c]):
            h = group_of[i]
            if h != g:
                sums[k, g] = group
                g = h
                group = sums[k, g]
            group += value[np.uint64(of[i])]
            run += v  # np.cumsum: a running sum, left to right
            buf[i] = run
            xs[i] = x
            i += _U1
            eq[i - _U1] = float(i) * x
    sums[k, g] = group
    if plain:
        tot, sorted_tot, eq_tot = totals3(value, of, xs, eq, n)
    else:
        sorted_tot, eq_tot = total(xs, n), total(eq, n)
    return _gini_eq(tot, sorted_tot, eq_tot, buf, n)


@njit(cache=True, nogil=True, inline="always")
def _rank(value, rank):  # pragma: no cover - compiled
    """``rank`` sorts ``value`` ascending, by insertion from the last step's ``rank``: the types'
    order changes little from step to step. Ties may sit in any order (the sorted values are the
    same); a NaN, or more than ``SORT_MOVES`` moves per type, sorts from scratch."""
    size = value.shape[0]
    for q in range(size):
        if value[q] != value[q]:  # no order by ``>``: numpy's puts NaN last
            sort_order(value, rank, size)
            return
    moves = 0
    for q in range(1, size):
        c = rank[q]
        v = value[c]
        j = q - 1
        while j >= 0 and value[rank[j]] > v:
            rank[j + 1] = rank[j]
            j -= 1
            moves += 1
        rank[j + 1] = c
        if moves > SORT_MOVES * size:
            sort_order(value, rank, size)
            return


@njit(cache=True, nogil=True, inline="always")
def _fill_sorted(value, count, order, plain, shift, xs, buf, eq):  # pragma: no cover - compiled
    """``xs``: ``count[c]`` payoffs ``value[c]`` each, for ``c`` in ``order`` (ascending values);
    ``buf`` their running sum, shifted by ``shift`` unless ``plain``; ``eq`` each times its rank."""
    run = 0.0
    i = np.uint64(0)  # unsigned: no wraparound check per index (``kernel_sums._block``)
    for c in order:
        x = value[c]
        v = x if plain else x - shift
        for _ in range(count[c]):
            run += v  # np.cumsum: a running sum, left to right
            buf[i] = run
            xs[i] = x
            i += _U1
            eq[i - _U1] = float(i) * x


@njit(cache=True, nogil=True)
def _sorted_gini(tot, xs, buf, eq, n):  # pragma: no cover - compiled
    """(Gini, equality) of the sorted payoffs ``xs`` whose total is ``tot``, ``buf`` their running
    sum (shifted as the Gini shifts them), ``eq`` their rank products (``_fill_sorted``)."""
    return _gini_eq(tot, total(xs, n), total(eq, n), buf, n)


@njit(cache=True, nogil=True)
def _gini_eq(tot, sorted_tot, eq_tot, buf, n):  # pragma: no cover - compiled
    """``_sorted_gini`` given the sorted payoffs' total and their rank products' (``eq_tot``).
    The quotients are taken apart from the running sum, in a loop that vectorises: the division
    is the dearest step, and taken in the running sum's loop it held that loop up."""
    spread = tot > 0  # else the Gini is 0 (and there is nothing to divide by)
    gini = 0.0
    if spread:
        for i in range(n):
            buf[i] = buf[i] / tot
        gini = (np.float64(n + 1) - 2.0 * total(buf, n)) / n
    if not sorted_tot > 0:
        return gini, 1.0
    return gini, 1.0 - (2.0 * eq_tot / (n * sorted_tot) - (n + 1) / n)


@njit(cache=True, nogil=True, inline="always")
def _equality(payoff, order, xs, buf, n):  # pragma: no cover - compiled
    """``scenarios.commons.equality`` of ``payoff``, which ``order`` sorts (``gini_step`` left it so)."""
    for i in range(n):
        xs[i] = payoff[order[i]]
    tot = total(xs, n)
    if n == 0 or not tot > 0:
        return 1.0
    for i in range(n):
        buf[i] = float(i + 1) * xs[i]
    return 1.0 - (2.0 * total(buf, n) / (n * tot) - (n + 1) / n)
