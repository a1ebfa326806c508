"""The IPD fast-forward: stretches of plain prisoner's-dilemma steps played in one compiled loop.

Why: a generic step is about a hundred numpy calls whatever the population,
so at a dozen agents that fixed cost, not the game, is the run time (the
12-strategy round robin was no faster than axelrod). Most IPD steps change
nothing but pair memory, payoffs and counters: the graph is fixed, nothing
is random, every (decider, observation) key already has its cell and no
decision logs a conflict. ``IPD.fast_forward`` hands such a stretch to
:func:`fast_forward`, which plays it with one numba loop and returns its
per-step state (``scenarios.stretch.Stretch``) for the engine to book.

The loop decides every interaction of a step before it changes anything; at
the first step that needs the generic path (a key never seen, a conflict to
log) it stops, and the engine plays that step the generic way. Results are
bit-identical to stepping one at a time (``tests/test_fused.py``).

Everything the loop reads comes through the model it is given (its decision
table's public API, the pair table, the population arrays): this module
imports nothing from the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numba import njit

from agents.policies import TRUST_BUCKETS
from scenarios.environment import ObsCodec
from scenarios.pairwise import observe_pairs, swapped_rows
from scenarios.stretch import Stretch

if TYPE_CHECKING:
    from scenarios.ipd import IPD
    from scenarios.ipd_classes import Classes

#: Bytes of per-step records a stretch may hold; longer runs are played in several stretches.
RECORD_BUDGET = 64 << 20
#: Outcomes that new keys may add before a stretch must end (its count records have that width).
OUTCOME_HEADROOM = 256
#: Why ``_play`` stopped early: a key without a cell, or a decision that logs a conflict.
MISSING, CONFLICT = 1, 2
#: The observation layout the loop encodes, field by field (checked against the IPD codec).
OBS_FIELDS = ("my_last", "partner_last", "partner_last2", "partner_defected",
              "my_last_payoff_good", "parity", "trust", "coin")
MY_LAST, PARTNER_LAST, PARTNER_LAST2, PARTNER_DEFECTED, GOOD, PARITY, TRUST, COIN = range(len(OBS_FIELDS))
#: Added before flooring trust into buckets, as ``scenarios.pairwise.trust_buckets`` does.
BUCKET_EPS = 1e-9


class Lookup(NamedTuple):
    """How the loop finds a decision: per pair row its decider, the fields each decider reads,
    the codec, and the decision table's dense look-up table and cell and outcome columns."""

    decider: np.ndarray   # (2E,) int64
    keep: np.ndarray      # (deciders, fields) int64, 1 where read
    space: int
    radix: np.ndarray     # (fields,) int64
    offset: np.ndarray    # (fields,) int64
    buckets: int
    lut: np.ndarray       # int32, cell + 1 per key, 0 missing
    full: np.ndarray      # per cell: the act chosen
    base: np.ndarray      # per cell: its first outcome
    nconf: np.ndarray     # per outcome: conflicts it logs
    coop_of: np.ndarray   # per act: 1 cooperative


class Game(NamedTuple):
    """Payoffs: R, S, T, P and the extra broken evidence of a detected lie."""

    R: float
    S: float
    T: float
    P: float
    lie: float


class Pairs(NamedTuple):
    """The pair table's columns, aligned: rows 0..E-1 are (i, j), rows E..2E-1 are (j, i)."""

    last: np.ndarray
    last2: np.ndarray
    defected: np.ndarray
    good: np.ndarray
    turns: np.ndarray
    kept: np.ndarray
    broken: np.ndarray


class Population(NamedTuple):
    """Per pair row its agent; per agent payoffs, truth record and group."""

    agent: np.ndarray
    payoff: np.ndarray
    step_pay: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    group_of: np.ndarray


def fast_forward(env: IPD, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` steps; None when not even the first could be played this way.

    The caller has checked that the model is eligible (``IPD.can_fast_forward``).
    """
    if limit <= 0 or not len(model.edges):
        return None
    codec = env.codec
    if codec.fields != OBS_FIELDS:
        raise AssertionError(f"the IPD kernel encodes {OBS_FIELDS}, the environment observes {codec.fields}")
    table = model.decisions
    if not table.fits_dense():
        return None  # too many deciders for a dense table: cells live in a dict the loop cannot read
    if not table.n_cells:
        table.warm()  # a population an earlier run of the process played: its table, whole
    edges = model.edges
    e = len(edges)
    model.pairs.align(model.graph_version, edges[:, 0], edges[:, 1])
    agents, _ = model.edge_agents()
    dec = model.decider_of[0][agents]
    # A run's first stretch: one representative pair per (decider, decider) class.
    from scenarios.ipd_classes import fill_classes, pair_classes  # it builds on this module

    classes = pair_classes(model.pairs.cols, dec, e)
    if table.dense(0) is None:
        # A run's first step, or deciders added by an event: grow the table.
        _fill(env, model, e, dec) if classes is None else fill_classes(env, model, classes, dec)
    n, rows, groups = len(model.payoff), len(model.pairs), len(model.groups)
    # Room for outcomes that keys first seen during the stretch may add.
    width = table.n_outcomes + OUTCOME_HEADROOM
    per_step = 8 * (width + 5 * n + 2 * rows + groups)
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    rec = Stretch.empty(k, width, n, groups, rows)
    rec.arrays.stats_ok[0] = 1  # the loop computes the trust metrics (cleared where it cannot)
    why = np.zeros(1, np.int64)
    keep = table.read_mask()
    while rec.steps < k:
        rec.steps = _play_from(env, model, rec, k, agents, dec, keep, why, classes)
        if why[0] != MISSING:
            break
        keep = _fill(env, model, e, dec) if classes is None else fill_classes(env, model, classes, dec)
        if table.n_outcomes > width:
            break
    if classes is not None:
        classes.write_back(model.pairs.cols)
    table.keep()
    if not rec.steps:
        return None
    env.bounds = env.welfare_bounds(e)
    return rec


def _fill(env: IPD, model: Any, e: int, dec: np.ndarray) -> np.ndarray:
    """Give this step's keys never seen their cells the generic way; returns the read mask after.

    The loop looks keys up projected on the fields read, so the projected keys get cells too.
    """
    table = model.decisions
    codes = observe_pairs(model, env.codec, slice(0, 2 * e), swapped_rows(e), 0)
    table.cells(0, dec, codes)
    keep = table.read_mask()
    table.cells(0, dec, project(env.codec, codes, keep[dec]))
    return keep


def project(codec: ObsCodec, codes: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``codes`` with the digits of fields not kept (``keep``: one row per code) set to 0.

    Sound because a table entry is the cell of its own code, and a projected code agrees
    with the real one on every field its decider's decisions ever read.
    """
    out = np.zeros_like(codes)
    for f, (r, c) in enumerate(zip(codec.radix, codec.card, strict=True)):
        out += (codes // r % c) * r * keep[:, f]
    return out


def _play_from(env: IPD, model: Any, rec: Stretch, k: int, agents: np.ndarray, dec: np.ndarray,
               keep: np.ndarray, why: np.ndarray, classes: Classes | None = None) -> int:
    prm = env.params
    codec = env.codec
    table = model.decisions
    cols = model.pairs.cols
    lookup = Lookup(dec if classes is None else dec[classes.rows], keep, codec.space, np.asarray(codec.radix, np.int64),
                    np.asarray(codec.offset, np.int64), TRUST_BUCKETS, table.dense(0), table.full,
                    table.base, table.outcome_column("nconf"),
                    np.array([bool(a.cooperative) for a in env.acts], np.int8))
    game = Game(float(prm.R), float(prm.S), float(prm.T), float(prm.P), float(prm.lie_penalty))
    pairs = Pairs(cols["last"], cols["last2"], cols["defected"], cols["good"], cols["turns"],
                  cols["kept"], cols["broken"])
    people = Population(agents, model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
                        model.group_of.astype(np.int64))
    partner = model.pairs.pairs()[1]
    if classes is not None:
        from scenarios.ipd_classes import play_classes

        return play_classes(rec.steps, k, lookup, game, classes, people, rec.arrays, partner, cols, why)
    return int(_play(rec.steps, k, lookup, game, pairs, people, rec.arrays, partner, why))


@njit(cache=True, nogil=True)
def _block_sum(a, lo, n):  # pragma: no cover - compiled
    """numpy's sum of at most 128 contiguous float64 values: 8 partial sums, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, nogil=True)
def pairwise_sum(a, lo, n):  # pragma: no cover - compiled
    """``a[lo:lo + n].sum()`` rounded exactly as numpy rounds it (its pairwise summation).

    numpy adds a contiguous float64 row in blocks of at most 128 and halves
    longer ones (the first half a multiple of 8), adding the halves' sums. The
    metrics' trust means are numpy row means, so a kernel reporting them must
    add in that order to be bit-identical. The halving is walked with explicit
    stacks: numba's on-disk cache cannot reload a recursive function.
    """
    if n <= 128:
        return _block_sum(a, lo, n)
    todo_lo = np.empty(192, np.int64)
    todo_n = np.empty(192, np.int64)
    todo_join = np.zeros(192, np.int8)  # 1: both halves are summed, add them
    sums = np.empty(96)
    top, got = 0, 0
    todo_lo[0], todo_n[0] = lo, n
    while top >= 0:
        start, size, join = todo_lo[top], todo_n[top], todo_join[top]
        top -= 1
        if join:
            got -= 1
            sums[got - 1] = sums[got - 1] + sums[got]
        elif size <= 128:
            sums[got] = _block_sum(a, start, size)
            got += 1
        else:
            half = size // 2
            half -= half % 8
            # Popped in reverse: the first half, then the second, then their join.
            todo_lo[top + 1], todo_n[top + 1], todo_join[top + 1] = start, size, 1
            todo_lo[top + 2], todo_n[top + 2], todo_join[top + 2] = start + half, size - half, 0
            todo_lo[top + 3], todo_n[top + 3], todo_join[top + 3] = start, half, 0
            top += 3
    return sums[0]


@njit(cache=True, nogil=True)
def trust_stats(rec, k, partner, gap):  # pragma: no cover - compiled
    """Step ``k``'s trust mean and calibration, as ``sim.metrics`` computes them from ``rec``'s rows.

    Written to ``rec.trust_mean[k]`` / ``rec.trust_cal[k]`` when every pair has met and
    every partner has a truth record (the metrics' vectorised path); otherwise
    ``rec.stats_ok[0]`` is cleared and the metrics compute them from the arrays.
    """
    rows = rec.trust.shape[1]
    if rows == 0:
        rec.stats_ok[0] = 0
        return
    for p in range(rows):
        j = partner[p]
        if not rec.met[k, p] or rec.truth_total[k, j] <= 0.0:
            rec.stats_ok[0] = 0
            return
        gap[p] = abs(rec.trust[k, p] - rec.truth_kept[k, j] / rec.truth_total[k, j])
    rec.trust_mean[k] = pairwise_sum(rec.trust[k], 0, rows) / rows
    rec.trust_cal[k] = 1.0 - pairwise_sum(gap, 0, rows) / rows


@njit(cache=True, nogil=True)
def decide_rows(lk, pr, chosen, outcome, status):  # pragma: no cover - compiled
    """Decide every aligned pair row from the pair memory, changing nothing else.

    ``status[r]``: ``MISSING`` (a key without a cell), ``CONFLICT`` (the decision logs
    one) or 0. Returns the status of the first row that cannot be played, 0 if none.
    (One loop with the row's work written out: a helper called per row costs ten times more.)
    """
    m = lk.decider.shape[0]
    e = m // 2
    radix, offset, keep = lk.radix, lk.offset, lk.keep
    first = 0
    for r in range(m):
        o = r + e if r < e else r - e
        tr = (pr.kept[r] + 1.0) / (pr.kept[r] + pr.broken[r] + 2.0)
        bucket = np.int64(np.floor(tr * lk.buckets + BUCKET_EPS))
        d = lk.decider[r]
        # The code projected on the fields the decider reads (see ``project``).
        code = ((np.int64(pr.last[r]) + offset[MY_LAST]) * radix[MY_LAST] * keep[d, MY_LAST]
                + (np.int64(pr.last[o]) + offset[PARTNER_LAST]) * radix[PARTNER_LAST] * keep[d, PARTNER_LAST]
                + (np.int64(pr.last2[o]) + offset[PARTNER_LAST2]) * radix[PARTNER_LAST2]
                * keep[d, PARTNER_LAST2]
                + (np.int64(pr.defected[o]) + offset[PARTNER_DEFECTED]) * radix[PARTNER_DEFECTED]
                * keep[d, PARTNER_DEFECTED]
                + (np.int64(pr.good[r]) + offset[GOOD]) * radix[GOOD] * keep[d, GOOD]
                + (pr.turns[r] % 2 + offset[PARITY]) * radix[PARITY] * keep[d, PARITY]
                + (bucket + offset[TRUST]) * radix[TRUST] * keep[d, TRUST]
                + offset[COIN] * radix[COIN] * keep[d, COIN])
        cell = np.int64(lk.lut[d * lk.space + code]) - 1  # entries are cell + 1; 0 is missing
        st = 0
        act = np.int64(0)
        out = np.int64(0)
        if cell < 0:
            st = MISSING
        else:
            act = np.int64(lk.full[cell])
            out = np.int64(lk.base[cell] + act)
            if lk.nconf[out] > 0:
                st = CONFLICT
        status[r] = st
        chosen[r] = act
        outcome[r] = out
        if st != 0 and first == 0:
            first = st
    return first


@njit(cache=True, nogil=True)
def advance_pairs(pr, coop, game):  # pragma: no cover - compiled
    """Book one round in every aligned pair row, as ``PairTable.record_moves`` and ``observe`` do."""
    m = coop.shape[0]
    e = m // 2
    for r in range(m):
        o = r + e if r < e else r - e
        other = coop[o]
        pr.last2[r] = pr.last[r]
        pr.last[r] = coop[r]
        if coop[r] == 0:
            pr.defected[r] = 1
        pr.good[r] = other
        pr.turns[r] += 1
        pr.kept[r] += 1.0 if other else 0.0
        # No promises: no lie is ever seen, as IPD.step adds lie_penalty * 0.
        pr.broken[r] += (0.0 if other else 1.0) + game.lie * 0.0


@njit(cache=True, nogil=True)
def book_agents(pop, rec, k):  # pragma: no cover - compiled
    """Add the step's payoffs to the totals and record step ``k``'s per-agent state."""
    for i in range(pop.payoff.shape[0]):
        pop.payoff[i] += pop.step_pay[i]
        rec.step_pay[k, i] = pop.step_pay[i]
        rec.payoff[k, i] = pop.payoff[i]
        rec.truth_kept[k, i] = pop.truth_kept[i]
        rec.truth_total[k, i] = pop.truth_total[i]
        rec.group_sums[k, pop.group_of[i]] += pop.payoff[i]


@njit(cache=True, nogil=True)
def _play(k0, k_max, lk, game, pr, pop, rec, partner, why):  # pragma: no cover - compiled
    """Play IPD steps ``k0``..``k_max - 1`` of a stretch over aligned pair rows; returns the next step.

    ``why[0]`` says why it stopped early (``MISSING``, ``CONFLICT``), 0 when it did not.
    Mirrors ``IPD.step`` + ``SpecModel.decide`` for the eligible case, operation for operation.
    """
    m = lk.decider.shape[0]
    e = m // 2
    n = pop.payoff.shape[0]
    rows = pr.kept.shape[0]
    chosen = np.empty(m, np.int64)
    outcome = np.empty(m, np.int64)
    status = np.empty(m, np.int64)
    coop = np.empty(m, np.int8)
    gap = np.empty(rows)
    why[0] = 0
    for k in range(k0, k_max):
        # Decide everything first and change nothing: a step the loop cannot play is left whole.
        why[0] = decide_rows(lk, pr, chosen, outcome, status)
        if why[0] != 0:
            return k
        for r in range(m):
            coop[r] = lk.coop_of[chosen[r]]
        for i in range(n):
            pop.step_pay[i] = 0.0
        for r in range(m):
            o = r + e if r < e else r - e
            other = coop[o]
            pay = (game.R if other else game.S) if coop[r] else (game.T if other else game.P)
            pop.step_pay[pop.agent[r]] += pay
        advance_pairs(pr, coop, game)
        for r in range(m):
            pop.truth_kept[pop.agent[r]] += 1.0 if coop[r] else 0.0
            pop.truth_total[pop.agent[r]] += 1.0
            rec.counts[k, outcome[r]] += 1
        book_agents(pop, rec, k)
        for p in range(rows):
            rec.trust[k, p] = (pr.kept[p] + 1.0) / (pr.kept[p] + pr.broken[p] + 2.0)
            rec.met[k, p] = pr.turns[p] > 0
        if rec.stats_ok[0]:
            trust_stats(rec, k, partner, gap)
    return k_max
