"""Pair classes: an IPD stretch decided once per kind of pair, then spread over every pair.

Why: in a plain IPD stretch (no promises, no coin) a pair's rounds depend only on
its two deciders and its own memory: nothing else is observed and nothing is
random. A round robin of 120 agents (ten per strategy) has 7,140 pairs but 78
kinds - axelrod's ``DeterministicCache`` idea, applied inside one run. When
every pair row starts a stretch with the same memory (a run's start), the rows
are grouped by (decider, partner's decider); one representative pair per class
is decided and advanced, and each step is then spread over all the rows:
payoffs and truth records summed per agent in row order, every row's trust
written for the metrics, with the same floating-point operations in the same
order as the per-row loop (``scenarios.ipd_kernel._play``). Outcome counts are
integers, added per class. Results are bit-identical (``tests/test_ipd_classes.py``).

Representatives are taken in row order (each class's first row, side (i, j)
first), so a step with keys never seen lists the same rows as the per-row loop
would and the decision table grows identically. The pair table is not touched
while classes play: their memory is written back to every row before a fill
and when the stretch ends.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from agents.jit import INNER, OUTER, njit
from scenarios import ipd_agents
from scenarios.ipd_rows import (
    CONFLICT,
    DRAW,
    MISSED,
    MISSING,
    WHY,
    Game,
    Lookup,
    Pairs,
    Population,
    Scratch,
    advance_all,
    decide_all,
    reads_history,
)
from scenarios.kernel_sums import gini_step, met_trust_step, total
from scenarios.stretch import Stretch

#: The pair table's memory columns, in ``Pairs`` order.
COLUMNS = Pairs._fields


class Classes(NamedTuple):
    """The representatives of a stretch's pair classes.

    Attributes:
        rows: (2C,) the representatives' aligned pair rows: side (i, j) of each class, then (j, i).
        of_row: (2E,) per aligned row, its representative (0..2C-1).
        mult: (2C,) rows each representative stands for.
        pairs: the representatives' memory, played forward by the loop.
        agents: agent classes, when agents can be booked by profile.
    """

    rows: np.ndarray
    of_row: np.ndarray
    mult: np.ndarray
    pairs: Pairs
    agents: ipd_agents.Agents | None = None

    def write_back(self, cols: dict[str, np.ndarray]) -> None:
        """Every aligned row's memory is its representative's: copy it over."""
        m = len(self.of_row)
        _spread(Pairs(*(cols[name][:m] for name in COLUMNS)), self.pairs, self.of_row)


def resume(table: Any, dec: np.ndarray, e: int, memo: dict[str, Any]) -> Classes | None:
    """The classes whose write-back the last stretch deferred on the pair ``table``
    (``PairTable.defer``), taken over, when nothing has read the columns since and the rows'
    deciders are those they were grouped by (``memo``, as ``pair_classes`` keeps it); else None.

    Their representatives then hold every row's memory as it is: no row needs checking.
    """
    held, last = table.deferred(), memo.get("pairs")
    if (not isinstance(held, Classes) or last is None or held.of_row is not last[2]
            or len(held.of_row) != 2 * e or not (last[0] is dec or np.array_equal(last[0], dec))):
        return None
    table.take_deferred()
    return Classes(held.rows, held.of_row, held.mult, held.pairs)


def pair_classes(cols: dict[str, np.ndarray], dec: np.ndarray, e: int,
                 memo: dict[str, Any] | None = None) -> Classes | None:
    """Group the aligned rows by (decider, partner's decider); None unless each class's rows
    share their representative's memory.

    Only then is a pair's future a function of its class alone: at a run's start, and
    later too when pairs of the same deciders have played alike (deterministic deciders).
    ``memo`` (one per model) keeps the grouping, a function of ``dec`` alone, for later
    stretches with equal deciders: at 10^6 agents grouping was a large part of a stretch.
    """
    m = 2 * e
    if e < 1:
        return None
    last = memo.get("pairs") if memo is not None else None
    if last is not None and len(last[0]) == m and (last[0] is dec or np.array_equal(last[0], dec)):
        _, rows, of_row, mult = last
        if not _alike(Pairs(*(cols[name][:m] for name in COLUMNS)), rows, of_row):
            return None
        return Classes(rows, of_row, mult, Pairs(*(cols[name][rows].copy() for name in COLUMNS)))
    width = int(dec.max()) + 1
    key = dec[:e] * width + dec[e:m]
    # Classes in the order of their first row, as the per-row loop meets them.
    if width * width <= 4 * e + 64:
        number, _, first = ipd_agents.first_seen(key, width * width)
        of_edge = number.astype(np.int64)
    else:
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        first = first[order].astype(np.int64)
        of_edge = rank[inverse].astype(np.int64)
    c = len(first)
    rows = np.concatenate([first, first + e])
    of_row = np.concatenate([of_edge, of_edge + c])
    if not _alike(Pairs(*(cols[name][:m] for name in COLUMNS)), rows, of_row):
        return None
    mult = np.bincount(of_row, minlength=2 * c).astype(np.int64)
    if memo is not None:
        memo["pairs"] = (dec, rows, of_row, mult)
    pairs = Pairs(*(cols[name][rows].copy() for name in COLUMNS))
    return Classes(rows, of_row, mult, pairs)


@njit(**OUTER)
def _spread(out, pr, of_row):  # pragma: no cover - compiled
    """Every row's memory from its representative's, all columns in one pass over the rows
    (a gather per column read ``of_row`` seven times and made a temporary each)."""
    for r in range(of_row.shape[0]):
        q = of_row[r]
        out.last[r] = pr.last[q]
        out.last2[r] = pr.last2[q]
        out.defected[r] = pr.defected[q]
        out.good[r] = pr.good[q]
        out.turns[r] = pr.turns[q]
        out.kept[r] = pr.kept[q]
        out.broken[r] = pr.broken[q]


@njit(**OUTER)
def _alike(pr, rows, of_row):  # pragma: no cover - compiled
    """Whether every aligned row's memory equals its representative's, column by column."""
    for r in range(of_row.shape[0]):
        q = rows[of_row[r]]
        if (pr.last[r] != pr.last[q] or pr.last2[r] != pr.last2[q] or pr.defected[r] != pr.defected[q]
                or pr.good[r] != pr.good[q] or pr.turns[r] != pr.turns[q] or pr.kept[r] != pr.kept[q]
                or pr.broken[r] != pr.broken[q]):
            return False
    return True


def play_classes(model: Any, rec: Stretch, k: int, agents: np.ndarray, dec: np.ndarray,
                 keep: np.ndarray, state: np.ndarray, missing: np.ndarray, scratch: Scratch,
                 pending: np.ndarray, classes: Classes, lookup: Lookup, game: Game) -> int:
    """Play steps ``rec.steps``.. of a summarised stretch by classes; returns the next step.

    ``lookup`` is the per-row loop's (its ``decider`` column is replaced by the representatives');
    on ``MISSING``, ``missing`` holds representatives (indices into ``classes.rows``).
    """
    lk = lookup._replace(decider=dec[classes.rows])
    if classes.agents is not None:
        # Profiles hold the groups: no per-agent copy of them (8 MB, page-faulted, at 10^6 agents).
        return int(_play_profiles(rec.steps, k, lk, game, classes.pairs, classes.mult, classes.agents,
                                  model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
                                  rec.arrays, state, missing, scratch, pending))
    people = Population(agents, model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
                        model.group_of.astype(np.int64))
    return int(_play_classes(rec.steps, k, lk, game, classes.pairs, classes.of_row, classes.mult, people,
                             rec.arrays, state, missing, scratch, pending))


@njit(**INNER)
def _buffers(mc, game, pr):  # pragma: no cover - compiled
    """The representatives' per-step buffers: act, outcome, move, payoff, detected lie, trust."""
    trust_now = np.empty(mc)
    for q in range(mc):
        trust_now[q] = (pr.kept[q] + 1.0) / (pr.kept[q] + pr.broken[q] + 2.0)
    lie = np.full(mc, game.lie * 0.0)  # no draws: no lie is ever detected
    return np.empty(mc, np.int64), np.empty(mc, np.int64), np.empty(mc, np.int8), np.empty(mc), lie, trust_now


@njit(**INNER)
def _rep_step(k, lk, game, pr, mult, rec, state, missing, pending, history, chosen, outcome, coop,
              pay, lie, trust_now):  # pragma: no cover - compiled
    """Decide and advance the representatives for step ``k``: 0, or why the step is left (``WHY``).

    Leaves each representative's move in ``coop`` and its payoff in ``pay``; counts outcomes.
    """
    mc = lk.decider.shape[0]
    c = mc // 2
    betrayals = decide_all(lk, pr, trust_now, history, chosen, outcome, state, missing, pending)
    if betrayals < 0:
        return CONFLICT
    if state[MISSED]:
        return MISSING
    if betrayals:
        return DRAW  # detection is drawn per row: the per-row loop plays this step
    for q in range(mc):
        coop[q] = lk.coop_of[chosen[q]]
    for q in range(mc):
        o = q + c if q < c else q - c
        pay[q] = (game.R if coop[o] else game.S) if coop[q] else (game.T if coop[o] else game.P)
        rec.counts[k, outcome[q]] += mult[q]
    advance_all(pr, coop, lie, trust_now)
    return 0


@njit(**OUTER)
def _play_classes(k0, k_max, lk, game, pr, of_row, mult, pop, rec, state, missing, sc,
                  pending):  # pragma: no cover - compiled
    """``ipd_kernel._play`` for a summarised stretch without detection draws, deciding representatives only.

    ``lk.decider`` and ``pr`` are the representatives' (2C rows, aligned as the loop's); each
    aligned row r reads representative ``of_row[r]``; every pair row is on an edge.
    """
    mc = lk.decider.shape[0]
    n = pop.payoff.shape[0]
    m = of_row.shape[0]
    chosen, outcome, coop, pay, lie, trust_now = _buffers(mc, game, pr)
    history = reads_history(lk.keep)
    trust_row = sc.trust
    state[WHY] = 0
    for k in range(k0, k_max):
        why = _rep_step(k, lk, game, pr, mult, rec, state, missing, pending, history, chosen, outcome,
                        coop, pay, lie, trust_now)
        if why:
            state[WHY] = why
            return k
        for i in range(n):
            pop.step_pay[i] = 0.0
        # One pass in row order (the order the per-row loop adds in): pay, truth, each row's trust.
        for r in range(m):
            q = of_row[r]
            a = pop.agent[r]
            pop.step_pay[a] += pay[q]
            pop.truth_kept[a] += 1.0 if coop[q] else 0.0
            pop.truth_total[a] += 1.0
            trust_row[r] = trust_now[q]
        for i in range(n):
            pop.payoff[i] += pop.step_pay[i]
            rec.group_sums[k, pop.group_of[i]] += pop.payoff[i]
        rec.summary[k, 0] = total(pop.step_pay, n)
        rec.summary[k, 1] = gini_step(pop.payoff, sc.order, sc.xs, sc.buf)
        mean, cal = met_trust_step(trust_row, sc.partner, pop.truth_kept, pop.truth_total, sc.gap, sc.real)
        rec.summary[k, 2] = mean
        rec.summary[k, 3] = cal
    return k_max


@njit(**OUTER)
def _play_profiles(k0, k_max, lk, game, pr, mult, ag, payoff, step_pay, truth_kept, truth_total, rec, state,
                   missing, sc, pending):  # pragma: no cover - compiled
    """``_play_classes`` with agents booked by profile (``scenarios.ipd_agents``); the agents'
    arrays (``payoff``.. ``truth_total``) are written back before it returns."""
    chosen, outcome, coop, pay, lie, trust_now = _buffers(lk.decider.shape[0], game, pr)
    history = reads_history(lk.keep)
    state[WHY] = 0
    done = k_max
    for k in range(k0, k_max):
        why = _rep_step(k, lk, game, pr, mult, rec, state, missing, pending, history, chosen, outcome,
                        coop, pay, lie, trust_now)
        if why:
            state[WHY] = why
            done = k
            break
        ipd_agents.settle(ag, pay, coop)
        welfare, gini, mean, cal = ipd_agents.summary(ag, trust_now, sc.gap, rec.group_sums[k])
        rec.summary[k, 0] = welfare
        rec.summary[k, 1] = gini
        rec.summary[k, 2] = mean
        rec.summary[k, 3] = cal
    ipd_agents.write_back(ag, payoff, step_pay, truth_kept, truth_total)
    return done
