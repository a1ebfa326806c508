"""The numbers of a block booking (``sim.summary_book``) in one compiled call.

Why: booking a summarised stretch with numpy took some twenty array calls (a product, its
sums, a division, efficiency, payoffs, the totals' parts, dropping the rows of principles
that never applied), each a few microseconds in a fresh model's run, together more than the
compiled loop that played a 10^3-agent stretch. This computes them in one pass. The same
values bit for bit: the sums are of integer counts (exact in any order), each ratio, mean and
efficiency the same IEEE division, the payoff parts' sums numpy's pairwise order
(``scenarios.kernel_sums``), the run's welfare and bounds added step by step as
``Totals.add_steps`` adds them. ``summary_book._numbers`` is the numpy twin it must equal
(``tests/test_summary_book.py`` runs both). Nothing is returned but two integers: numba
boxes a returned array at some microseconds' cost.
"""

from __future__ import annotations

import numpy as np

from agents.jit import OUTER, njit
from scenarios.kernel_sums import total, total_at

#: The count matrix's columns (``DecisionTable.count_matrix``: ``metrics.DECISION_SUMS``' order,
#: which ``tests/test_summary_book.py`` checks), frozen into the machine code.
_DECISIONS, _CONFLICTS, _COOPERATIVE, _MOVES, _SERVED = 0, 1, 5, 6, 7


@njit(**OUTER)
def fill(matrix, counts, k, width, summary, bounds, base, opt, pairwise, alive, group_sums, divisor, named,
         part_cols, part_ends, part_sizes, level_pair, level_outcome, conflicts, block, at, pay, counted, attempted,
         obeyed,
         welfare, baseline, optimum, applied, held, outcomes, by_level, out):  # pragma: no cover - compiled
    """Fill ``block``'s rows up to the injection counts (those served unless ``obeyed``; none
    attempted unless ``attempted``: the stretch's counters, then in the block), its ``alive``
    row (``pay - 1``) and its payoff rows (from ``pay``); then drop the compliance rows of
    principles that applied at no step, the rows below moving up. ``matrix``: the table's count
    matrix, read in the order of ``summary_book._rows``' rows (``at``: the first denominator);
    ``bounds`` with no rows: every step's are ``(base, opt)``; ``counted``: the counter rows from
    the injection counts on; ``level_pair``, ``level_outcome``: each conflict's.

    Into ``out``: the weighted counts' sums over the steps (a value per row); the
    run's ``welfare``, ``baseline`` and ``optimum`` after these steps; each counter row's sum;
    the run totals ``applied``, ``held``, ``outcomes`` and ``by_level`` with these steps' added
    (``metrics._add``: the shorter read as padded by zeros; ``by_level`` as it was unless
    ``conflicts`` and some step had one). Returns how many principles applied, and whether each
    of them applied at the first step."""
    n_out = matrix.shape[0]
    p = at - 6
    n_rows = 10 + 2 * p
    ratios = 2 + p
    src = _sources(p)
    sums = np.zeros((k, n_rows))
    counts_k = np.zeros(n_out)
    grand = out[:n_rows]
    grand[:] = 0.0
    for s in range(k):
        row = sums[s]
        for o in range(width):
            c = counts[s, o]
            if c != 0:
                counts_k[o] += c
                m = matrix[o]
                for i in range(n_rows):
                    if src[i] >= 0:
                        row[i] += m[src[i]] * c
        for q in range(p):  # the checks that held, and applied, of every principle
            row[5] += row[6 + q]
            row[7 + p] += row[8 + p + q]
        for i in range(n_rows):
            grand[i] += row[i]
    inj = 0
    for s in range(k):
        row = sums[s]
        for i in range(4):
            block[i, s] = row[i]
        for j in range(ratios):
            den = row[at + j]
            block[4 + j, s] = row[4 + j] / den if den > 0 else np.nan
        r = 4 + ratios
        w = summary[s, 0]
        block[r, s] = w
        if bounds.shape[0]:
            lo, hi = bounds[s, 0], bounds[s, 1]
        else:
            lo, hi = base, opt
        span = hi - lo
        block[r + 1, s] = (w - lo) / span if span > 0 else np.nan
        welfare += w
        baseline += lo
        optimum += hi
        block[r + 2, s] = summary[s, 1]
        r += 3
        if pairwise:
            block[r, s] = summary[s, 2]
            block[r + 1, s] = summary[s, 3]
            r += 2
        inj = r
        if not attempted:
            block[r, s] = 0.0
        if not obeyed:
            block[r + 1, s] = row[n_rows - 1]
    at_run = n_rows
    out[at_run] = welfare
    out[at_run + 1] = baseline
    out[at_run + 2] = optimum
    at_counted = at_run + 3
    for c in range(counted):  # as ``metrics._total``: one step's value as it is
        out[at_counted + c] = block[inj + c, 0] if k == 1 else total(block[inj + c], k)
    living = 0
    for a in range(alive.shape[0]):
        if alive[a]:
            living += 1
    for s in range(k):
        block[pay - 1, s] = living
        r = pay
        for g in named:
            block[r, s] = group_sums[s, g] / divisor[g]
            r += 1
        start = 0
        for j in range(part_ends.shape[0]):
            end = part_ends[j]
            block[r, s] = total_at(group_sums[s], part_cols[start:end], end - start) / part_sizes[j]
            start = end
            r += 1
    o = at_counted + counted
    o = _add(applied, grand[at + 2:at + 2 + p], out, o)
    o = _add(held, grand[6:at], out, o)
    o = _add(outcomes, counts_k, out, o)
    delta = np.zeros(by_level.shape[0])
    if conflicts and grand[0] > 0:
        for e in range(level_pair.shape[0]):
            if level_outcome[e] < n_out:
                delta[level_pair[e]] += counts_k[level_outcome[e]]
    for i in range(by_level.shape[0]):
        out[o + i] = by_level[i] + delta[i]
    # Drop the principles that applied at no step: their rows are NaN at every step.
    kept = 0
    first = True
    for q in range(p):
        if grand[at + 2 + q] > 0:
            first = first and sums[0, at + 2 + q] > 0
            if kept < q:
                for s in range(k):
                    block[6 + kept, s] = block[6 + q, s]
            kept += 1
    if kept < p:
        for r in range(6 + p, block.shape[0]):  # rows move up, the first first: none is overwritten unread
            for s in range(k):
                block[r - p + kept, s] = block[r, s]
    return kept, first


@njit(**OUTER)
def fill_joined(k_before, living, src, divisor_before, named_before, part_cols_before, part_ends_before,
                part_sizes_before, matrix, counts, k, width, summary, bounds, base, opt, pairwise, alive, group_sums,
                divisor, named, part_cols, part_ends, part_sizes, level_pair, level_outcome, conflicts, block, at, pay,
                counted, attempted, obeyed, welfare, baseline, optimum, applied, held, outcomes,
                by_level, out):  # pragma: no cover - compiled
    """``fill`` for a stretch with a join inside it (``summary_book.book_joined``): then its first
    ``k_before`` steps' ``alive`` row is ``living`` and each payoff row ``r`` the population's
    before the join, the ``src[r]``-th of its payoff columns (its groups' layout ``*_before``,
    computed as ``fill`` computes them), NaN where ``src[r]`` is -1 (a group the join populates).
    Returns ``fill``'s."""
    kept, first = fill(matrix, counts, k, width, summary, bounds, base, opt, pairwise, alive, group_sums, divisor,
                       named, part_cols, part_ends, part_sizes, level_pair, level_outcome, conflicts, block, at, pay,
                       counted, attempted, obeyed, welfare, baseline, optimum, applied, held, outcomes, by_level, out)
    r0 = pay - (at - 6 - kept)  # the first payoff row, after the principles' rows that dropped out
    values = np.empty(named_before.shape[0] + part_ends_before.shape[0])
    for s in range(k_before):
        block[r0 - 1, s] = living
        r = 0
        for g in named_before:
            values[r] = group_sums[s, g] / divisor_before[g]
            r += 1
        start = 0
        for j in range(part_ends_before.shape[0]):
            end = part_ends_before[j]
            values[r] = total_at(group_sums[s], part_cols_before[start:end], end - start) / part_sizes_before[j]
            start = end
            r += 1
        for c in range(src.shape[0]):
            block[r0 + c, s] = values[src[c]] if src[c] >= 0 else np.nan
    return kept, first


@njit(cache=True, nogil=True)
def _sources(p):  # pragma: no cover - compiled
    """Each row's column of the count matrix (``DECISION_SUMS``, then applied and held per
    principle), -1 for the sums over principles."""
    src = np.empty(10 + 2 * p, np.int64)
    src[0], src[1], src[2], src[3] = _CONFLICTS, _CONFLICTS + 1, _CONFLICTS + 2, _CONFLICTS + 3
    src[4] = _COOPERATIVE
    src[5] = -1
    src[7 + p] = -1
    for q in range(p):
        src[6 + q] = 8 + p + q
        src[8 + p + q] = 8 + q
    src[6 + p] = _MOVES
    src[8 + 2 * p] = _DECISIONS
    src[9 + 2 * p] = _SERVED
    return src


@njit(cache=True, nogil=True)
def _add(a, b, out, o):  # pragma: no cover - compiled
    """``metrics._add(a, b)`` into ``out`` from ``o``; returns the offset after it."""
    la, lb = a.shape[0], b.shape[0]
    for i in range(max(la, lb)):
        if i < la and i < lb:
            out[o + i] = a[i] + b[i]
        else:
            out[o + i] = a[i] if i < la else b[i]  # counts: never -0.0, so ``0.0 + b`` is ``b``
    return o + max(la, lb)
