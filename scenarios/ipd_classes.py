"""Pair classes: an IPD stretch played once per kind of pair, then spread over every pair.

Why: in a plain IPD stretch a pair's rounds depend only on its two deciders
and its own memory (moves, trust, turns): nothing else is observed and
nothing is random. In a round robin of 120 agents (ten per strategy) there
are 7,140 pairs but only 78 kinds - the ``DeterministicCache`` idea of
axelrod, applied inside one run. When every pair row starts a stretch in the
same state (a run's start), the pairs are grouped by their (decider, decider)
class; one representative pair per class is played by the IPD loop's own
decision and settlement helpers, and each step is then spread over all the
rows (payoffs summed per agent in row order, trust written per row), with the
same floating-point operations in the same order as the per-row loop
(``scenarios.ipd_kernel._play``). Results are bit-identical
(``tests/test_ipd_classes.py``).

A step the representatives cannot play (a key without a cell, a conflict)
stops the stretch where the per-row loop would: the reason is the one of the
first row, in row order, whose class stopped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from scenarios.ipd_kernel import (
    CONFLICT,
    MISSING,
    Lookup,
    Pairs,
    advance_pairs,
    book_agents,
    decide_rows,
    project,
    trust_stats,
)
from scenarios.pairwise import swapped_rows, trust_buckets

#: Use classes only when they are at most this share of the pairs (else the per-row loop).
MAX_CLASS_SHARE = 0.5
_COLUMNS = Pairs._fields


class Classes:
    """The representative pairs of a stretch and, per aligned row, its representative row.

    Attributes:
        rows: (2C,) aligned rows of the representatives: side (i, j) of each class, then (j, i).
        of_row: (2E,) per aligned row, its representative's row in ``pairs`` (0..2C-1).
        pairs: the representatives' pair memory, played forward by the loop.
    """

    def __init__(self, rows: np.ndarray, of_row: np.ndarray, pairs: Pairs) -> None:
        self.rows = rows
        self.of_row = of_row
        self.pairs = pairs

    def write_back(self, cols: dict[str, np.ndarray]) -> None:
        """Every aligned row's memory is its representative's: copy it over."""
        m = len(self.of_row)
        for name, col in zip(_COLUMNS, self.pairs, strict=True):
            cols[name][:m] = col[self.of_row]


def pair_classes(cols: dict[str, np.ndarray], dec: np.ndarray, e: int) -> Classes | None:
    """Group the aligned rows by (decider, partner's decider), or None when it would not pay.

    Only when every aligned row holds the same memory (a run's first stretch): then a
    pair's future is a function of its two deciders alone.
    """
    m = 2 * e
    if e < 2:
        return None
    for name in _COLUMNS:
        col = cols[name][:m]
        if not (col == col[0]).all():
            return None
    width = int(dec.max()) + 1
    key = dec[:e] * width + dec[e:m]
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    c = len(uniq)
    if c > MAX_CLASS_SHARE * e:
        return None
    rows = np.concatenate([first, first + e]).astype(np.int64)
    of_row = np.concatenate([inverse, inverse + c]).astype(np.int64)
    pairs = Pairs(*(cols[name][rows].copy() for name in _COLUMNS))
    return Classes(rows, of_row, pairs)


def fill_classes(env: Any, model: Any, classes: Classes, dec: np.ndarray) -> np.ndarray:
    """Cells for the representatives' keys never seen (the keys of every row); returns the read mask.

    Mirrors ``ipd_kernel._fill``: the same set of keys, so the table grows identically.
    """
    table = model.decisions
    pr = classes.pairs
    mine = dec[classes.rows]
    theirs = swapped_rows(len(classes.rows) // 2)
    codes = env.codec.encode(
        my_last=pr.last, partner_last=pr.last[theirs], partner_last2=pr.last2[theirs],
        partner_defected=pr.defected[theirs], my_last_payoff_good=pr.good, parity=pr.turns % 2,
        trust=trust_buckets((pr.kept + 1.0) / (pr.kept + pr.broken + 2.0)), coin=0,
    )
    table.cells(0, mine, codes)
    keep = table.read_mask()
    table.cells(0, mine, project(env.codec, codes, keep[mine]))
    return keep


def play_classes(k0: int, k_max: int, lookup: Lookup, game: Any, classes: Classes, pop: Any, rec: Any,
                 partner: np.ndarray, cols: dict[str, np.ndarray], why: np.ndarray) -> int:
    """Play steps ``k0``.. of the stretch by classes; returns the next step (see ``_play_classes``)."""
    m = len(classes.of_row)
    fixed_trust = (cols["kept"] + 1.0) / (cols["kept"] + cols["broken"] + 2.0)
    return int(_play_classes(k0, k_max, lookup, game, classes.pairs, classes.of_row, pop, rec, partner,
                             fixed_trust, cols["turns"] > 0, m, why))


@njit(cache=True, nogil=True)
def _play_classes(k0, k_max, lk, game, pr, of_row, pop, rec, partner, fixed_trust, fixed_met, m,
                  why):  # pragma: no cover - compiled
    """``ipd_kernel._play`` with the decisions and pair memory of representatives only.

    ``lk.decider`` and ``pr`` are the representatives' (2C rows, aligned as the loop's);
    each aligned row r reads representative ``of_row[r]``. Pair rows past ``m`` are not
    on an edge: their trust and ``met`` stay ``fixed_trust`` / ``fixed_met``.
    """
    mc = lk.decider.shape[0]
    c = mc // 2
    n = pop.payoff.shape[0]
    rows = rec.trust.shape[1]
    chosen = np.empty(mc, np.int64)
    outcome = np.empty(mc, np.int64)
    status = np.zeros(mc, np.int64)
    coop = np.empty(mc, np.int8)
    rep_trust = np.empty(mc)
    rep_pay = np.empty(mc)
    gap = np.empty(rows)
    why[0] = 0
    for k in range(k0, k_max):
        bad = decide_rows(lk, pr, chosen, outcome, status) != 0
        if bad:
            # The per-row loop stops at its first row that cannot be played: the same reason here.
            for r in range(m):
                if status[of_row[r]] != 0:
                    why[0] = status[of_row[r]]
                    return k
        for r in range(mc):
            coop[r] = lk.coop_of[chosen[r]]
        for r in range(mc):
            o = r + c if r < c else r - c
            other = coop[o]
            rep_pay[r] = (game.R if other else game.S) if coop[r] else (game.T if other else game.P)
        advance_pairs(pr, coop, game)
        for q in range(mc):
            rep_trust[q] = (pr.kept[q] + 1.0) / (pr.kept[q] + pr.broken[q] + 2.0)
        for i in range(n):
            pop.step_pay[i] = 0.0
        # One pass over the rows, each sum in row order as the per-row loop adds it.
        for r in range(m):
            q = of_row[r]
            a = pop.agent[r]
            pop.step_pay[a] += rep_pay[q]
            pop.truth_kept[a] += 1.0 if coop[q] else 0.0
            pop.truth_total[a] += 1.0
            rec.counts[k, outcome[q]] += 1
            rec.trust[k, r] = rep_trust[q]
            rec.met[k, r] = pr.turns[q] > 0
        for p in range(m, rows):
            rec.trust[k, p] = fixed_trust[p]
            rec.met[k, p] = fixed_met[p]
        book_agents(pop, rec, k)
        if rec.stats_ok[0]:
            trust_stats(rec, k, partner, gap)
    return k_max


__all__ = ["CONFLICT", "MISSING", "Classes", "fill_classes", "pair_classes", "play_classes"]
