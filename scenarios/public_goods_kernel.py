"""The public-goods fast-forward: stretches of neighbourhood rounds, Roth-Erev learners included, in one loop.

Why: a generic ``PublicGoods.step`` is two ``model.decide`` calls (the learners'
choices sampled and booked in numpy), some thirty array passes and a one-step
booking of the engine's metrics; at 10^3 agents that is ~2.5 ms a round where
the plain Mesa model does a few float operations per agent. ``fast_forward``
plays a stretch of rounds in one numba loop and returns its per-step state
(``scenarios.stretch.Stretch``), booked once.

What the loop mirrors, operation for operation (``PublicGoods.step``,
``SpecModel.decide``, ``sim.learning.Learning`` with
``agents.policies.learners.RothErev``): each round it first decides everything
and changes nothing: every agent's contribution (its key looked up in the
decision table's dense look-up: the cell the chain of command resolved), the
learners' choices within the cell's tier (favourites drawn from the learners'
stream in agent order, overridden ones counted and drawn again in order, as
``Learning.choose`` draws them), then every sanction of a pledge breaker (half
edges in ``model.edge_agents`` order, learners likewise). It stops before a
round with a key that has no cell (``MISSING``: the wrapper asks
``DecisionTable.cells`` for that phase's whole decision, as ``decide`` would,
and the round is replayed), a decision that logs a conflict, or a round whose
sanctions differ from the stretch's first round's (stepping counts no
``punishments`` in a round without a broken pledge: a stretch's rounds all
count them or none does). A round given back returns its learner draws (the
stream is restored and the kept rounds' draws drawn again). Then it settles:
neighbourhood pots and shares in ``np.bincount``'s order, fines, pair memory
and evidence, the trust each agent reads next round, the truth record,
counters, and the Roth-Erev updates (decay per decision, then every reward,
then the floor, as ``np.multiply.at``/``np.add.at`` leave them). Results equal
stepping bit for bit (``tests/test_public_goods_loop.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.jit import njit
from agents.policies import TRUST_BUCKETS
from scenarios.ipd_rows import Pairs
from scenarios.kernel_sums import gini_chunk, record_agents, record_pairs, total, trust_step
from scenarios.stretch import SUMMARY, Stretch
from scenarios.trust_game_learners import (
    _draw,  # sim.learning._sample of one row, compiled
    drop_untouched,
    overrides_per_principle,
)

if TYPE_CHECKING:
    from scenarios.public_goods import PublicGoods

#: Slots of the loop's ``state``: why it stopped (a key without a cell in phase ``state[PHASE]``;
#: a decision that logs a conflict or lies past the records' width; a round whose sanctions differ
#: from the stretch's first), the learners' draws (all, and those of rounds played), the
#: punishers listed when a sanction key had no cell, and whether the stretch's rounds sanction
#: anyone (-1 not yet known: stepping counts no ``punishments`` in a round without a breaker).
WHY, PHASE, DRAWN, DRAWN_DONE, PUNISHERS, SANCTIONED = 0, 1, 2, 3, 4, 5
MISSING, STOP = 1, 2
#: The observation layout the loop encodes (checked against the environment's codec).
OBS_FIELDS = ("trust", "punished", "target_broke")
#: Added before flooring the share of contributing neighbours into buckets, as the step does.
BUCKET_EPS = 1e-9
#: Bytes of per-step records a stretch may hold.
RECORD_BUDGET = 64 << 20
#: Outcomes that keys first met during a stretch may add before it must end.
OUTCOME_HEADROOM = 256


class Lookup(NamedTuple):
    """The decision table as the loop reads it: dense look-ups per phase, cell and outcome columns."""

    lut0: np.ndarray   # (deciders * space,) int32 cell + 1, 0 missing
    lut1: np.ndarray
    dec0: np.ndarray   # (n,) decider per agent and phase
    dec1: np.ndarray
    space: int
    radix: np.ndarray  # (3,) of the codec's fields
    code1: int         # the one observation of a sanction decision
    full: np.ndarray   # per cell: the resolver's act
    base: np.ndarray   # per cell: its first outcome
    tier: np.ndarray   # per cell: the acts a learner may play
    nconf: np.ndarray  # per outcome: conflicts it logs
    gives: np.ndarray  # per act of the contribution phase: 1 contributes
    breaks: np.ndarray  # per act: 1 a broken pledge


class Game(NamedTuple):
    rc: float          # r * cost, as the step multiplies them
    cost: float
    punish_cost: float
    fine: float
    lie: float
    sanctions: bool


class Board(NamedTuple):
    """The graph's half-edges and pair rows, the pair table's columns, and per agent state."""

    e0: np.ndarray          # (E,) edges, as ``model.edges``
    e1: np.ndarray
    hi: np.ndarray          # (2E,) half-edges (observer, neighbour), as ``model.edge_agents``
    hj: np.ndarray
    rows: np.ndarray        # (2E,) their pair-table rows
    size: np.ndarray        # (n,) each agent's group size, float
    pr: Pairs               # the pair table's columns
    partner: np.ndarray     # per physical pair row (the trust metrics read every row)
    last_share: np.ndarray
    punished: np.ndarray    # (n,) int64 0/1
    payoff: np.ndarray
    step_pay: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    group_of: np.ndarray


class Learners(NamedTuple):
    """One Roth-Erev group: its propensities (flat per phase) and parameters, and per-step tallies."""

    on: bool
    row: np.ndarray         # (n,) agent -> row of the group's state, -1 not a learner
    radix: np.ndarray       # the learner state's fields: codec radix and cardinality
    cards: np.ndarray
    states: int
    q0: np.ndarray
    q1: np.ndarray
    forgetting: float
    experimentation: float
    reference: float
    ovr: np.ndarray         # (K, width) overridden favourites by outcome
    novr: np.ndarray        # (K,)
    touched: np.ndarray     # (2,) a learner decided in the phase


class Work(NamedTuple):
    """One round's decisions and scratch, and the stretch's per-step outputs."""

    code0: np.ndarray       # (n,) observation codes of the round's contributions
    cell0: np.ndarray
    act0: np.ndarray
    out0: np.ndarray
    pi: np.ndarray          # (2E,) sanction decisions: punisher, target
    pj: np.ndarray
    cell1: np.ndarray
    act1: np.ndarray
    out1: np.ndarray
    x: np.ndarray           # (n,) 1.0 contributed
    broke: np.ndarray       # (n,) int64
    share: np.ndarray       # (n,) float scratch
    t1: np.ndarray
    t2: np.ndarray
    fined: np.ndarray       # (n,) int64: punished this round
    cnt: np.ndarray         # (n,) learner decisions this round
    prefs: np.ndarray       # (max(n, 2E), acts) a decide call's learner preferences
    fav: np.ndarray
    bad: np.ndarray
    tally: np.ndarray       # (K, 4) punishments, contributions, pledges broken, choices
    payrows: np.ndarray     # (K, n) payoffs after each round, for the Gini (summarised stretches)
    trust: np.ndarray       # (pair rows,) scratch of the trust metrics
    gap: np.ndarray
    real: np.ndarray        # (n,)


def fast_forward(env: PublicGoods, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` rounds; None when not even the first could be played this way.

    The caller has checked that the model is eligible (``PublicGoods.can_fast_forward``).
    """
    codec = env.codec
    if codec.fields != OBS_FIELDS:
        raise AssertionError(f"the public-goods kernel encodes {OBS_FIELDS}, the environment observes {codec.fields}")
    e = len(model.edges)
    n = len(model.alive)
    if not e or limit <= 0 or len(env.last_share) != n:
        return None  # no sanctions or evidence without neighbours
    table = model.decisions
    if not table.fits_dense():
        return None
    lay = env.layout(model)
    if lay is None:
        return None  # a self-tie: its two half-edges are one pair row
    e0, e1, hi, hj, rows, size, fsize, partner = lay
    prm = env.params
    # The welfare bounds of every round alike (the graph and the living stay put).
    env.bounds = env.welfare_bounds(size)
    pairs = model.pairs
    groups = len(model.groups)
    summarised = bool(getattr(model, "summarisable", False))
    width = table.n_outcomes + OUTCOME_HEADROOM
    per_step = 8 * (width + groups + len(SUMMARY) + 4 + (n if summarised else 5 * n + 2 * len(pairs)))
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    rec = Stretch.empty(k, width, n, groups, len(pairs), summarised)
    board = Board(e0, e1, hi, hj, rows, fsize, Pairs(*(pairs.cols[c] for c in Pairs._fields)), partner,
                  env.last_share, env.punished.astype(np.int64), model.payoff, model.step_payoff, model.truth_kept,
                  model.truth_total, model.group_of.astype(np.int64))
    game = Game(float(prm.r) * float(prm.cost), float(prm.cost), float(prm.punish_cost), float(prm.fine),
                float(prm.lie_penalty), bool(prm.sanctions))
    work = _work(n, e, k, len(pairs), summarised)
    got = _learners(model, k, width)
    if got is None:
        return None
    lr, created = got
    lrng = model.learning.rng if lr.on else model.rng_env  # never drawn from without learners
    before = lrng.bit_generator.state
    state = np.zeros(6, np.int64)
    state[SANCTIONED] = -1
    dec0 = model.decider_of[0].astype(np.int64)
    dec1 = model.decider_of[1].astype(np.int64)
    code1 = int(codec.encode(trust=0, punished=0, target_broke=1))
    last_fill = (-1, -1)
    while rec.steps < k:
        lk = _lookup(env, table, dec0, dec1, code1)
        if lk is None:
            break
        rec.steps = int(_play(rec.steps, k, lk, game, board, lr, work, rec.arrays, state, lrng))
        if lr.on and state[DRAWN] != state[DRAWN_DONE]:
            lrng.bit_generator.state = before  # the round left to the generic path draws again
            lrng.random(int(state[DRAWN_DONE]))
            state[DRAWN] = state[DRAWN_DONE]
        if state[WHY] != MISSING or (rec.steps, int(state[PHASE])) == last_fill:
            break  # done, a stop, or a fill that served nothing new (the round is stepped)
        last_fill = (rec.steps, int(state[PHASE]))
        if state[PHASE] == 0:
            table.cells(0, dec0, work.code0.copy())  # the round's whole decision, as decide asks it
        else:
            m = int(state[PUNISHERS])
            table.cells(1, dec1[work.pi[:m]], np.full(m, code1, np.int64))
        if table.n_outcomes > width:
            break  # the records have no room: the generic step plays the round
    table.keep()  # offered to later runs of this population (sim.cell_memo.TABLES)
    env.punished = board.punished.astype(bool)
    if lr.on:
        _book_learners(model, lr, created, rec.steps)
    if not rec.steps:
        return None
    steps = rec.steps
    if summarised:
        gini = np.empty(steps)
        gini_chunk(work.payrows[:steps], np.empty(steps), gini)
        rec.arrays.summary[:steps, 1] = gini
    tally = work.tally[:steps]
    env.n_contrib = float(tally[-1, 1])
    env.n_agents = float(tally[-1, 3])
    rec.env_metrics = {"contribution_rate": tally[:, 1] / tally[:, 3]}
    counters = {"contributions": tally[:, 1].copy(), "pledges_broken": tally[:, 2].copy(),
                "choices": tally[:, 3].copy()}
    # In the order a round counts them: the sanctions' first, when they are on.
    sanctioned = prm.sanctions and state[SANCTIONED] == 1
    rec.counters = {"punishments": tally[:, 0].copy(), **counters} if sanctioned else counters
    return rec


def _work(n: int, e: int, k: int, rows: int, summarised: bool) -> Work:
    i64, f64 = np.int64, np.float64
    h = 2 * e
    return Work(np.zeros(n, i64), np.zeros(n, i64), np.zeros(n, i64), np.zeros(n, i64), np.zeros(h, i64),
                np.zeros(h, i64), np.zeros(h, i64), np.zeros(h, i64), np.zeros(h, i64), np.zeros(n), np.zeros(n, i64),
                np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, i64), np.zeros(n, i64),
                np.zeros((max(n, h), 4)), np.zeros(max(n, h), i64), np.zeros(max(n, h), i64), np.zeros((k, 4)),
                np.empty((k if summarised else 0, n), f64), np.empty(rows), np.empty(rows), np.empty(n))


def _lookup(env: PublicGoods, table: Any, dec0: np.ndarray, dec1: np.ndarray, code1: int) -> Lookup | None:
    """The table's dense look-ups and columns now (a fill may have replaced them)."""
    codec = env.codec
    luts = []
    for phase in (0, 1):
        lut = table.dense(phase)
        if lut is None:
            table.cells(phase, np.zeros(0, np.int64), np.zeros(0, np.int64))  # made as a first look-up makes it
            lut = table.dense(phase)
        if lut is None:
            return None
        luts.append(lut)
    return Lookup(luts[0], luts[1], dec0, dec1, int(codec.space), np.asarray(codec.radix, np.int64), code1,
                  table.full, table.base, table.tier, table.outcome_column("nconf"),
                  env.contributes.astype(np.int64), env.breaks.astype(np.int64))


def _learners(model: Any, k: int, width: int) -> tuple[Learners, list[int]] | None:
    """The loop's view of the learners (off when none), and the phases whose state it created;
    None when a newcomer joined the learning group (it has no learner row: stepping says so)."""
    lr = model.learning
    i64 = np.int64
    if lr is None:
        none = np.zeros(0)
        return Learners(False, np.full(len(model.payoff), -1, i64), np.zeros(0, i64), np.zeros(0, i64), 1, none,
                        none, 0.0, 0.0, 0.0, np.zeros((k, 0)), np.zeros(k), np.zeros(2, i64)), []
    gl = next(iter(lr.groups.values()))
    n = len(model.payoff)
    had = len(gl.rows)
    if bool((model.group_of[had:] == gl.group).any()):
        return None
    rows = np.full(n, -1, i64)
    rows[:had] = gl.rows  # newcomers of other groups: no learner row
    created = [p for p in (0, 1) if p not in gl.state]
    st = [lr.state_of(gl.group, p, len(model.phases[p])) for p in (0, 1)]
    codec = model.env.codec
    pol = gl.policy
    return Learners(True, rows, np.array([codec.radix[f] for f in gl.fields], i64),
                    np.asarray(gl.cards, i64), int(st[0]["q"].shape[1]), st[0]["q"].reshape(-1),
                    st[1]["q"].reshape(-1), float(pol.forgetting), float(pol.experimentation), float(pol.reference),
                    np.zeros((k, width)), np.zeros(k), np.zeros(2, i64)), created


def _book_learners(model: Any, lr: Learners, created: list[int], steps: int) -> None:
    """Overrides per step and principle (``Learning.book_stretch``); states created for a phase no
    learner decided in are dropped, as stepping would never have made them."""
    drop_untouched(model, lr.touched, created)
    if not steps:
        return
    learning, table = model.learning, model.decisions
    if not lr.novr[:steps].any():  # nothing overridden: no principle to sum per step
        learning.book_stretch(np.zeros((steps, len(table.principle_ids))), np.zeros(steps))
        return
    learning.book_stretch(overrides_per_principle(table, lr.ovr, steps), lr.novr[:steps].copy())


# --- compiled -------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _choose(lr, phase, q, na, who, codes, cells, acts, count, k, tier, base, prefs, fav, bad, lrng,
            state):  # pragma: no cover - compiled
    """``Learning.choose`` for the learners among decisions ``0..count-1`` (agent ``who[d]``); False:
    an overridden favourite's outcome lies past the records' width. ``tier`` and ``base`` are
    ``Lookup``'s, ``prefs``, ``fav`` and ``bad`` ``Work``'s (passed apart: a whole tuple's
    arrays cost every call's typing and reference counts)."""
    # Fields read once: each read of a tuple's array inside a loop costs a reference count.
    row, radix, cards, states = lr.row, lr.radix, lr.cards, lr.states
    ovr, novr = lr.ovr, lr.novr
    width = ovr.shape[1]
    m = 0
    for d in range(count):
        r = row[who[d]]
        if r < 0:
            continue
        s = 0
        for t in range(radix.shape[0]):
            s = s * cards[t] + (codes[d] // radix[t]) % cards[t]
        at = (r * states + s) * na
        tot = q[at]
        for x in range(1, na):
            tot += q[at + x]
        for x in range(na):
            prefs[m, x] = q[at + x] / tot
        fav[m] = d
        m += 1
    if m == 0:
        return True
    lr.touched[phase] = 1
    state[DRAWN] += m
    nbad = 0
    for i in range(m):
        d = fav[i]
        f = _draw(prefs, i, na, lrng.random())
        c = cells[d]
        if (tier[c] >> f) & 1:
            acts[d] = f
        else:
            o = base[c] + f
            if o >= width:
                return False
            ovr[k, o] += 1
            novr[k] += 1
            bad[nbad] = i
            nbad += 1
    # The spec's overrides, drawn again among the tier's acts (none left: uniformly).
    for b in range(nbad):
        i = bad[b]
        d = fav[i]
        t = tier[cells[d]]
        tot = 0.0
        for x in range(na):
            prefs[i, x] = prefs[i, x] * (1.0 if (t >> x) & 1 else 0.0)
        tot = prefs[i, 0]
        for x in range(1, na):
            tot += prefs[i, x]
        if tot <= 0:
            for x in range(na):
                prefs[i, x] = 1.0 if (t >> x) & 1 else 0.0
        acts[d] = _draw(prefs, i, na, lrng.random())
    state[DRAWN] += nbad
    return True


@njit(cache=True, nogil=True)
def _learn(lr, q, na, who, codes, acts, count, step_pay, cnt):  # pragma: no cover - compiled
    """``RothErev.learn`` of one decide call's learner decisions, each rewarded with its agent's
    payoff per learner decision (``Learning.after_play``): every decay, then every gain, then the floor."""
    row, radix, cards, states = lr.row, lr.radix, lr.cards, lr.states
    forgetting, reference = lr.forgetting, lr.reference
    keep = 1.0 - forgetting
    exp = lr.experimentation
    spread = max(na - 1, 1)
    mine = 1.0 - exp if na > 1 else 1.0
    for p in range(3):
        for d in range(count):
            a = who[d]
            r = row[a]
            if r < 0:
                continue
            s = 0
            for t in range(radix.shape[0]):
                s = s * cards[t] + (codes[d] // radix[t]) % cards[t]
            at = (r * states + s) * na
            if p == 0:
                if forgetting:
                    for x in range(na):
                        q[at + x] = q[at + x] * keep
            elif p == 1:
                gain = step_pay[a] / max(cnt[a], 1) - reference
                share = gain * exp / spread
                own = gain * mine
                for x in range(na):
                    q[at + x] += own if acts[d] == x else share
            else:
                for x in range(na):
                    if q[at + x] < 1e-9:
                        q[at + x] = 1e-9


@njit(cache=True, nogil=True)
def _look(lut, dec, who, codes, count, space, full, cells, acts):  # pragma: no cover - compiled
    """Cells and the resolver's acts of decisions ``0..count-1`` (agent ``who[d]``, code ``codes[d]``)
    from a dense look-up; False: some key has no cell (the others are still looked up)."""
    found = True
    for d in range(count):
        c = np.int64(lut[dec[who[d]] * space + codes[d]]) - 1
        if c < 0:
            found = False
            continue
        cells[d] = c
        acts[d] = full[c]
    return found


@njit(cache=True, nogil=True)
def _outcomes(cells, acts, count, base, nconf, width, out):  # pragma: no cover - compiled
    """Each decision's outcome; False: one logs a conflict or lies past the records' width."""
    for d in range(count):
        o = base[cells[d]] + acts[d]
        if o >= width or nconf[o] > 0:
            return False
        out[d] = o
    return True


@njit(cache=True, nogil=True)
def _play(k0, k_max, lk, gm, bd, lr, wk, rec, state, lrng):  # pragma: no cover - compiled
    """Play rounds ``k0``..``k_max - 1``; returns the next round (``state[WHY]`` says why it stopped)."""
    n = bd.payoff.shape[0]
    e = bd.e0.shape[0]
    h = 2 * e
    width = rec.counts.shape[1]
    summarised = rec.summary.shape[1] > 0
    space, radix, full, base, nconf = lk.space, lk.radix, lk.full, lk.base, lk.nconf
    code0, cell0, act0, out0 = wk.code0, wk.cell0, wk.act0, wk.out0
    pi, pj, cell1, act1, out1 = wk.pi, wk.pj, wk.cell1, wk.act1, wk.out1
    x, broke, cnt = wk.x, wk.broke, wk.cnt
    last_share, punished, payoff, step_pay, group_of = bd.last_share, bd.punished, bd.payoff, bd.step_pay, bd.group_of
    hi, hj, gives, breaks, lrow = bd.hi, bd.hj, lk.gives, lk.breaks, lr.row
    counts, group_sums, payrows = rec.counts, rec.group_sums, wk.payrows
    everyone = np.arange(n)
    codes1 = np.full(h, lk.code1)  # a sanction's observation: the same for every decision
    # Phases, act counts and counters passed on as int64, never literals: numba compiles a
    # callee once per literal value it is called with (and a counter started at 0 is one).
    zero, one, two, four = np.int64(0), np.int64(1), np.int64(2), np.int64(4)
    state[WHY] = 0
    for k in range(k0, k_max):
        if lr.on:
            lr.novr[k] = 0
            for o in range(lr.ovr.shape[1]):
                lr.ovr[k, o] = 0
        # Contributions: decide all, change nothing.
        for a in range(n):
            bucket = np.int64(np.floor(last_share[a] * TRUST_BUCKETS + BUCKET_EPS))
            code0[a] = bucket * radix[0] + punished[a] * radix[1]
        if not _look(lk.lut0, lk.dec0, everyone, code0, n, space, full, cell0, act0):
            state[WHY] = MISSING
            state[PHASE] = 0
            return k
        if lr.on and not _choose(lr, zero, lr.q0, four, everyone, code0, cell0, act0, n, k, lk.tier, lk.base, wk.prefs, wk.fav,
                                 wk.bad, lrng, state):
            state[WHY] = STOP
            return k
        if not _outcomes(cell0, act0, n, base, nconf, width, out0):
            state[WHY] = STOP
            return k
        for a in range(n):
            x[a] = 1.0 if gives[act0[a]] else 0.0
            broke[a] = breaks[act0[a]]
        # Sanctions of this round's pledge breakers by their neighbours, half-edges in order.
        m = zero
        if gm.sanctions:
            for q in range(h):
                if broke[hj[q]]:
                    pi[m] = hi[q]
                    pj[m] = hj[q]
                    m += 1
            if not _look(lk.lut1, lk.dec1, pi, codes1, m, space, full, cell1, act1):
                state[WHY] = MISSING
                state[PHASE] = 1
                state[PUNISHERS] = m
                return k
            if lr.on and not _choose(lr, one, lr.q1, two, pi, codes1, cell1, act1, m, k, lk.tier, lk.base, wk.prefs,
                                     wk.fav, wk.bad, lrng, state):
                state[WHY] = STOP
                return k
            if not _outcomes(cell1, act1, m, base, nconf, width, out1):
                state[WHY] = STOP
                return k
        # The round is decided; its punishments counted or absent, as the stretch's first round's.
        sanctioned = 1 if m > 0 else 0
        if state[SANCTIONED] < 0:
            state[SANCTIONED] = sanctioned
        elif state[SANCTIONED] != sanctioned:
            state[WHY] = STOP
            return k
        _settle(gm, bd, wk, k, m)
        for a in range(n):
            counts[k, out0[a]] += 1
        for q in range(m):
            counts[k, out1[q]] += 1
        for a in range(n):
            payoff[a] += step_pay[a]
        if lr.on:
            for a in range(n):
                cnt[a] = 1 if lrow[a] >= 0 else 0
            for q in range(m):
                if lrow[pi[q]] >= 0:
                    cnt[pi[q]] += 1
            _learn(lr, lr.q0, four, everyone, code0, act0, n, step_pay, cnt)
            if m:
                _learn(lr, lr.q1, two, pi, codes1, act1, m, step_pay, cnt)
            state[DRAWN_DONE] = state[DRAWN]
        for a in range(n):
            group_sums[k, group_of[a]] += payoff[a]
        if summarised:
            rec.summary[k, 0] = total(step_pay, n)
            for a in range(n):
                payrows[k, a] = payoff[a]  # Gini: sorted by numpy after the loop
            mean, cal = trust_step(bd.pr.kept, bd.pr.broken, bd.pr.turns, bd.partner, bd.truth_kept, bd.truth_total,
                                   wk.trust, wk.gap, wk.real)
            rec.summary[k, 2] = mean
            rec.summary[k, 3] = cal
            continue
        record_agents(rec, k, bd.step_pay, bd.payoff, bd.truth_kept, bd.truth_total)
        record_pairs(rec, k, bd.pr.kept, bd.pr.broken, bd.pr.turns, bd.pr.kept.shape[0])
    return k_max


@njit(cache=True, nogil=True)
def _settle(gm, bd, wk, k, m):  # pragma: no cover - compiled
    """Payoffs, fines, pair memory and evidence, trust read next round, truth and tallies of a
    decided round (``PublicGoods.step`` and ``neighbourhood_payoffs``, in their summing order)."""
    n = bd.payoff.shape[0]
    e = bd.e0.shape[0]
    x, share, t1, t2, fined = wk.x, wk.share, wk.t1, wk.t2, wk.fined
    e0, e1, size, step_pay, rows, hi, hj = bd.e0, bd.e1, bd.size, bd.step_pay, bd.rows, bd.hi, bd.hj
    act1, pi, pj, broke = wk.act1, wk.pi, wk.pj, wk.broke
    last_share, punished, truth_kept, truth_total = bd.last_share, bd.punished, bd.truth_kept, bd.truth_total
    pr = bd.pr
    last, last2, defected, good, turns, kept, broken_ev = pr.last, pr.last2, pr.defected, pr.good, pr.turns, \
        pr.kept, pr.broken
    # Pots: whole numbers of contributors (exact in any order); shares of every group one belongs to.
    for a in range(n):
        t1[a] = x[a]
    for g in range(e):
        t1[e0[g]] += x[e1[g]]
        t1[e1[g]] += x[e0[g]]
    for a in range(n):
        share[a] = gm.rc * t1[a] / size[a]
        t1[a] = 0.0
        t2[a] = 0.0
    for g in range(e):  # np.bincount(i, weights=share[j]), then np.bincount(j, weights=share[i])
        t1[e0[g]] += share[e1[g]]
    for g in range(e):
        t2[e1[g]] += share[e0[g]]
    for a in range(n):
        pay = (share[a] + t1[a]) + t2[a] - gm.cost * x[a] * size[a]
        step_pay[a] = 0.0 + (0.0 + pay)
        fined[a] = 0
    points = 0
    if m:
        for a in range(n):
            t1[a] = 0.0
            t2[a] = 0.0
        for q in range(m):
            if act1[q] == 0:
                t1[pi[q]] += -gm.punish_cost
                points += 1
        for q in range(m):
            if act1[q] == 0:
                t2[pj[q]] += -gm.fine
                fined[pj[q]] = 1
        for a in range(n):
            step_pay[a] += t1[a]
        for a in range(n):
            step_pay[a] += t2[a]
    # Pair memory and Beta evidence (rows are distinct: no self-ties), the share each agent
    # saw contribute, the truth record.
    for a in range(n):
        t1[a] = 0.0
        t2[a] = 0.0
    for q in range(2 * e):
        r = rows[q]
        j = hj[q]
        gave = x[j] > 0
        last2[r] = last[r]
        last[r] = 1 if gave else 0
        if not gave:
            defected[r] = 1
        good[r] = 1 if gave else 0
        turns[r] += 1
        kept[r] += 1.0 if gave else 0.0
        broken_ev[r] += (0.0 if gave else 1.0) + gm.lie * (1.0 if broke[j] else 0.0)
        t1[hi[q]] += 1.0
        t2[hi[q]] += x[j]
    contributions = 0.0
    broken = 0
    for a in range(n):
        if t1[a] > 0:
            last_share[a] = t2[a] / t1[a]
        else:
            last_share[a] = 1.0
        punished[a] = fined[a]
        truth_kept[a] += 0.0 + (1.0 if x[a] > 0 else 0.0)
        truth_total[a] += 1.0
        contributions += x[a]
        broken += broke[a]
    wk.tally[k, 0] = points
    wk.tally[k, 1] = contributions
    wk.tally[k, 2] = broken
    wk.tally[k, 3] = n
