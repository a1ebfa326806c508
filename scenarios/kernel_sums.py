"""Per-step metrics inside compiled loops, rounded exactly as numpy rounds them.

Why: a fused stretch used to record every pair's trust and every agent's payoff
for every step, and the engine then computed trust, calibration, Gini and
welfare from those records with numpy: at 10,000 agents that was most of a
fused step's time and ~1 MB of records per step. A kernel that calls these
functions instead hands the engine four numbers per step
(``scenarios.stretch.SUMMARY``), the very values ``sim.metrics`` computes.

Bit-identical results need numpy's own summation order: ``_pairwise`` is
numpy's pairwise summation of float64 (8 accumulators up to 128 elements,
halves on multiples of 8 above; a reduction starts from the identity 0.0).
``tests/test_fused_network.py`` pins the sums and the Gini against their numpy twins.

Every kernel compiles these, so each distinct argument type costs every
scenario's cold start a compile of the callee and all it calls. numba types a
literal argument apart: ``f(a, 0)`` and ``f(a, n)`` are two compiles, and so
is a counter started at ``0`` and passed on after a loop adds to it (the
first typing pass sees the literal, and compiles for it). Counters and
offsets passed to a sum start as ``np.int64(0)``.
"""

from __future__ import annotations

import numpy as np

from agents.jit import njit

#: numpy's block below which a pairwise sum is a straight unrolled loop.
BLOCK = 128
#: Deepest split of a pairwise sum (halves of 2**64 elements end long before).
DEPTH = 64
#: Insertion-sort moves per agent allowed before a Gini step re-sorts from scratch.
SORT_MOVES = 8
#: Runs ``sort_order`` sorts by insertion before it merges.
SORT_RUN = 16


#: Unsigned index steps: numba wraps a negative (signed) index, and that check on every
#: element kept the leaf sums' loads from being plain offsets of one pointer (twice the time).
_U1, _U2, _U3, _U4 = np.uint64(1), np.uint64(2), np.uint64(3), np.uint64(4)
_U5, _U6, _U7, _U8 = np.uint64(5), np.uint64(6), np.uint64(7), np.uint64(8)


@njit(cache=True, nogil=True)
def _block(a, lo, n):  # pragma: no cover - compiled
    """numpy's pairwise sum of at most ``BLOCK`` elements: 8 accumulators, then the rest in turn."""
    i = np.uint64(lo)
    end = i + np.uint64(n)
    if n < 8:
        res = 0.0
        while i < end:
            res += a[i]
            i += _U1
        return res
    r0, r1, r2, r3 = a[i], a[i + _U1], a[i + _U2], a[i + _U3]
    r4, r5, r6, r7 = a[i + _U4], a[i + _U5], a[i + _U6], a[i + _U7]
    stop = i + np.uint64(n - n % 8)
    i += _U8
    while i < stop:
        r0 += a[i]
        r1 += a[i + _U1]
        r2 += a[i + _U2]
        r3 += a[i + _U3]
        r4 += a[i + _U4]
        r5 += a[i + _U5]
        r6 += a[i + _U6]
        r7 += a[i + _U7]
        i += _U8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < end:
        res += a[i]
        i += _U1
    return res


@njit(cache=True, nogil=True)
def _block_at(a, code, lo, n):  # pragma: no cover - compiled
    """``_block`` of ``a[code[lo:lo + n]]`` (codes are never negative: read unsigned, as ``_block``'s
    indices). Written out apart: a shared element accessor that branches on ``code`` made the
    plain sum three times slower (the branch stays in the loop)."""
    i = np.uint64(lo)
    end = i + np.uint64(n)
    if n < 8:
        res = 0.0
        while i < end:
            res += a[np.uint64(code[i])]
            i += _U1
        return res
    r0, r1 = a[np.uint64(code[i])], a[np.uint64(code[i + _U1])]
    r2, r3 = a[np.uint64(code[i + _U2])], a[np.uint64(code[i + _U3])]
    r4, r5 = a[np.uint64(code[i + _U4])], a[np.uint64(code[i + _U5])]
    r6, r7 = a[np.uint64(code[i + _U6])], a[np.uint64(code[i + _U7])]
    stop = i + np.uint64(n - n % 8)
    i += _U8
    while i < stop:
        r0 += a[np.uint64(code[i])]
        r1 += a[np.uint64(code[i + _U1])]
        r2 += a[np.uint64(code[i + _U2])]
        r3 += a[np.uint64(code[i + _U3])]
        r4 += a[np.uint64(code[i + _U4])]
        r5 += a[np.uint64(code[i + _U5])]
        r6 += a[np.uint64(code[i + _U6])]
        r7 += a[np.uint64(code[i + _U7])]
        i += _U8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < end:
        res += a[np.uint64(code[i])]
        i += _U1
    return res


@njit(cache=True, nogil=True)
def _pairwise(a, code, lo, n):  # pragma: no cover - compiled
    """Pairwise sum of ``a[lo:lo + n]`` (``code`` None), or of ``a[code[lo:lo + n]]``, in numpy's order.

    numpy recurses (halves on multiples of 8); this walks the same tree with an explicit
    stack, because numba's on-disk cache of recursive functions crashes when loaded.
    ``code is None`` is settled when numba types the call: the plain sum's machine code
    holds no ``_block_at`` (most kernels never compile it) and the coded one no ``_block``.
    Callers pass ``lo`` as an int64, never a literal: a literal 0 types (and compiles) the
    leaf sums once more.
    """
    if n <= BLOCK:
        if code is None:
            return _block(a, lo, n)
        return _block_at(a, code, lo, n)
    los = np.empty(DEPTH, np.int64)
    lens = np.empty(DEPTH, np.int64)
    stage = np.empty(DEPTH, np.int64)
    vals = np.empty(DEPTH + 1, np.float64)
    top, sp = 0, 0
    los[0], lens[0], stage[0] = lo, n, 0
    while top >= 0:
        at, size = los[top], lens[top]
        if size <= BLOCK:
            if code is None:
                vals[sp] = _block(a, at, size)
            else:
                vals[sp] = _block_at(a, code, at, size)
            sp += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stage[top] == 0:
            stage[top] = 1
            top += 1
            los[top], lens[top], stage[top] = at, half, 0
        elif stage[top] == 1:
            stage[top] = 2
            top += 1
            los[top], lens[top], stage[top] = at + half, size - half, 0
        else:
            sp -= 1
            vals[sp - 1] = vals[sp - 1] + vals[sp]
            top -= 1
    return vals[0]


@njit(cache=True, nogil=True)
def total(a, n):  # pragma: no cover - compiled
    """``a[:n].sum()`` as numpy computes it."""
    return 0.0 + _pairwise(a, None, np.int64(0), n)


@njit(cache=True, nogil=True)
def total_at(table, code, n):  # pragma: no cover - compiled
    """``table[code[:n]].sum()`` as numpy computes it, without building the gathered array."""
    return 0.0 + (_pairwise(table, code, np.int64(0), n) if n else 0.0)


@njit(cache=True, nogil=True)
def _block3(a, code, b, c, lo, n):  # pragma: no cover - compiled
    """``_block_at(a, code, lo, n)``, ``_block(b, lo, n)`` and ``_block(c, lo, n)`` in one loop: each
    lane's sum is a chain of dependent additions, and three sums' chains overlap."""
    i = np.uint64(lo)
    end = i + np.uint64(n)
    if n < 8:
        x, y, z = 0.0, 0.0, 0.0
        while i < end:
            x += a[np.uint64(code[i])]
            y += b[i]
            z += c[i]
            i += _U1
        return x, y, z
    a0, a1 = a[np.uint64(code[i])], a[np.uint64(code[i + _U1])]
    a2, a3 = a[np.uint64(code[i + _U2])], a[np.uint64(code[i + _U3])]
    a4, a5 = a[np.uint64(code[i + _U4])], a[np.uint64(code[i + _U5])]
    a6, a7 = a[np.uint64(code[i + _U6])], a[np.uint64(code[i + _U7])]
    b0, b1, b2, b3 = b[i], b[i + _U1], b[i + _U2], b[i + _U3]
    b4, b5, b6, b7 = b[i + _U4], b[i + _U5], b[i + _U6], b[i + _U7]
    c0, c1, c2, c3 = c[i], c[i + _U1], c[i + _U2], c[i + _U3]
    c4, c5, c6, c7 = c[i + _U4], c[i + _U5], c[i + _U6], c[i + _U7]
    stop = i + np.uint64(n - n % 8)
    i += _U8
    while i < stop:
        a0 += a[np.uint64(code[i])]
        a1 += a[np.uint64(code[i + _U1])]
        a2 += a[np.uint64(code[i + _U2])]
        a3 += a[np.uint64(code[i + _U3])]
        a4 += a[np.uint64(code[i + _U4])]
        a5 += a[np.uint64(code[i + _U5])]
        a6 += a[np.uint64(code[i + _U6])]
        a7 += a[np.uint64(code[i + _U7])]
        b0 += b[i]
        b1 += b[i + _U1]
        b2 += b[i + _U2]
        b3 += b[i + _U3]
        b4 += b[i + _U4]
        b5 += b[i + _U5]
        b6 += b[i + _U6]
        b7 += b[i + _U7]
        c0 += c[i]
        c1 += c[i + _U1]
        c2 += c[i + _U2]
        c3 += c[i + _U3]
        c4 += c[i + _U4]
        c5 += c[i + _U5]
        c6 += c[i + _U6]
        c7 += c[i + _U7]
        i += _U8
    x = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
    y = ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7))
    z = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))
    while i < end:
        x += a[np.uint64(code[i])]
        y += b[i]
        z += c[i]
        i += _U1
    return x, y, z


@njit(cache=True, nogil=True)
def totals3(table, code, b, c, n):  # pragma: no cover - compiled
    """(``total_at(table, code, n)``, ``total(b, n)``, ``total(c, n)``): the three sums walk one
    tree (numpy's for ``n``, ``_pairwise``'s walk) and take their leaves in one loop."""
    if n <= BLOCK:
        x, y, z = _block3(table, code, b, c, np.int64(0), n)
        return 0.0 + x, 0.0 + y, 0.0 + z
    los = np.empty(DEPTH, np.int64)
    lens = np.empty(DEPTH, np.int64)
    stage = np.empty(DEPTH, np.int64)
    vals = np.empty((DEPTH + 1, 3), np.float64)
    top, sp = 0, 0
    los[0], lens[0], stage[0] = 0, n, 0
    while top >= 0:
        at, size = los[top], lens[top]
        if size <= BLOCK:
            vals[sp, 0], vals[sp, 1], vals[sp, 2] = _block3(table, code, b, c, at, size)
            sp += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stage[top] == 0:
            stage[top] = 1
            top += 1
            los[top], lens[top], stage[top] = at, half, 0
        elif stage[top] == 1:
            stage[top] = 2
            top += 1
            los[top], lens[top], stage[top] = at + half, size - half, 0
        else:
            sp -= 1
            for q in range(3):
                vals[sp - 1, q] = vals[sp - 1, q] + vals[sp, q]
            top -= 1
    return 0.0 + vals[0, 0], 0.0 + vals[0, 1], 0.0 + vals[0, 2]


@njit(cache=True, nogil=True)
def sort_order(x, order, n):  # pragma: no cover - compiled
    """``order[:n] = np.argsort(x[:n], kind="stable")`` (NaN last, as numpy sorts it).

    A stable sort's order is unique, so this is numpy's to the last tie. Written out: numba's
    own ``argsort`` compiles its merge sort (or quicksort) machinery, ~1 s per kernel, where
    this short merge sort costs a fifth of that. Runs of ``SORT_RUN`` by insertion, then
    merged bottom-up through a scratch copy.
    """
    for i in range(n):
        order[i] = i
    for lo in range(0, n, SORT_RUN):
        for i in range(lo + 1, min(lo + SORT_RUN, n)):
            o = order[i]
            v = x[o]
            j = i - 1
            while j >= lo:
                w = x[order[j]]
                if not (v < w or (w != w and v == v)):  # v before w: numpy's NaN-last order
                    break
                order[j + 1] = order[j]
                j -= 1
            order[j + 1] = o
    src = order
    dst = np.empty(n, np.int64)
    back = False  # the merged order is in the scratch copy
    width = SORT_RUN
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, q = lo, mid, lo
            if mid < hi:
                v, w = x[src[mid]], x[src[mid - 1]]
                if not (v < w or (w != w and v == v)):
                    i = mid  # the halves are in order already: copied as they are
                    for q in range(lo, mid):
                        dst[q] = src[q]
                    q = mid
            while i < mid and j < hi:
                v, w = x[src[j]], x[src[i]]
                if v < w or (w != w and v == v):  # strictly before: ties keep their order
                    dst[q] = src[j]
                    j += 1
                else:
                    dst[q] = src[i]
                    i += 1
                q += 1
            while i < mid:
                dst[q] = src[i]
                i += 1
                q += 1
            while j < hi:
                dst[q] = src[j]
                j += 1
                q += 1
        src, dst = dst, src
        back = not back
        width *= 2
    if back:
        for i in range(n):
            order[i] = src[i]


@njit(cache=True, nogil=True)
def gini_step(x, order, xs, buf):  # pragma: no cover - compiled
    """``sim.metrics.gini_rows`` of one row ``x``; ``order`` sorts ``x`` ascending on return.

    ``order`` comes in as the previous step's order: cumulative payoffs move
    little between steps, so an insertion sort from it costs about one pass;
    when it would cost more than ``SORT_MOVES`` moves per agent the row is
    sorted from scratch. Ties may sit in any order: the sorted values, all
    the Gini reads, are the same. ``xs`` and ``buf`` are scratch of ``len(x)``.
    """
    n = x.shape[0]
    if n == 0:
        return 0.0
    low = x[0]
    for i in range(n):
        low = min(low, x[i])
    shift = min(0.0, low)
    for i in range(n):
        buf[i] = x[i] - shift
    tot = total(buf, n)
    for i in range(n):
        xs[i] = buf[order[i]]
    moves = 0
    budget = SORT_MOVES * n
    for i in range(1, n):
        v = xs[i]
        o = order[i]
        j = i - 1
        while j >= 0 and xs[j] > v:
            xs[j + 1] = xs[j]
            order[j + 1] = order[j]
            j -= 1
            moves += 1
        xs[j + 1] = v
        order[j + 1] = o
        if moves > budget:
            sort_order(buf, order, n)  # a merge sort: quicksort degrades on many ties
            for q in range(n):
                xs[q] = buf[order[q]]
            break
    if not tot > 0:
        return 0.0
    run = 0.0
    for i in range(n):
        run += xs[i]  # np.cumsum: a running sum, left to right
        buf[i] = run / tot
    return (np.float64(n + 1) - 2.0 * total(buf, n)) / n


@njit(cache=True, nogil=True)
def trust_step(kept, broken, turns, partner, truth_kept, truth_total, buf, gap, real):  # pragma: no cover
    """``sim.metrics.trust_of_rows`` over every pair row: (mean trust of pairs that met, calibration).

    ``buf`` and ``gap`` are scratch of one float per pair row, ``real`` of one per agent.
    """
    # Each agent's real conduct once, not once per pair: the same quotient, so the same double.
    for i in range(truth_total.shape[0]):
        real[i] = truth_kept[i] / truth_total[i] if truth_total[i] > 0 else -1.0
    m = np.int64(0)  # not a literal 0 (see the module's doc)
    for p in range(kept.shape[0]):
        if turns[p] > 0:
            t = (kept[p] + 1.0) / (kept[p] + broken[p] + 2.0)
            buf[m] = t
            r = real[partner[p]]
            gap[m] = abs(t - r) if r >= 0.0 else -1.0
            m += 1
    if m == 0:
        return np.nan, np.nan
    mean = total(buf, m) / m
    # Partners with no record yet are left out of the calibration (gap -1 marks them).
    c = np.int64(0)
    for q in range(m):
        if gap[q] >= 0.0:
            gap[c] = gap[q]
            c += 1
    cal = np.nan if c == 0 else 1.0 - total(gap, c) / c
    return mean, cal


@njit(cache=True, nogil=True)
def met_trust_step(trust, partner, truth_kept, truth_total, gap, real):  # pragma: no cover - compiled
    """``trust_step`` when every pair row has met and ``trust`` already holds each row's trust."""
    m = trust.shape[0]
    if m == 0:
        return np.nan, np.nan
    for i in range(truth_total.shape[0]):
        real[i] = truth_kept[i] / truth_total[i] if truth_total[i] > 0 else -1.0
    c = np.int64(0)
    for p in range(m):
        r = real[partner[p]]
        if r >= 0.0:
            gap[c] = abs(trust[p] - r)
            c += 1
    cal = np.nan if c == 0 else 1.0 - total(gap, c) / c
    return total(trust, m) / m, cal


@njit(cache=True, nogil=True)
def record_agents(rec, k, step_pay, payoff, truth_kept, truth_total):  # pragma: no cover - compiled
    """Step ``k``'s per-agent records of an unsummarised stretch (``StepArrays``' agent columns)."""
    for i in range(step_pay.shape[0]):
        rec.step_pay[k, i] = step_pay[i]
        rec.payoff[k, i] = payoff[i]
        rec.truth_kept[k, i] = truth_kept[i]
        rec.truth_total[k, i] = truth_total[i]


@njit(cache=True, nogil=True)
def record_pairs(rec, k, kept, broken, turns, rows):  # pragma: no cover - compiled
    """Step ``k``'s trust and met flag of the first ``rows`` pair rows (Beta(1, 1) trust)."""
    for p in range(rows):
        rec.trust[k, p] = (kept[p] + 1.0) / (kept[p] + broken[p] + 2.0)
        rec.met[k, p] = turns[p] > 0


def gini_chunk(rows: np.ndarray, tots: np.ndarray, out: np.ndarray) -> None:
    """``sim.metrics.gini_rows`` of each row of ``rows`` (payoffs in agent order) into ``out``.

    The sums that depend on the order are taken before sorting; the sort is numpy's own
    (vectorised: ~10x numba's at a million agents). The rows are overwritten.
    """
    _gini_shift(rows, tots)
    rows.sort(axis=1)
    _gini_sorted(rows, tots, out)


@njit(cache=True, nogil=True)
def any_nan(rows):  # pragma: no cover - compiled
    """Whether some entry of the 2-D ``rows`` is NaN (the Gini's own sorts then give way to numpy's,
    which places a NaN)."""
    m, n = rows.shape
    for j in range(m):
        for i in range(n):
            if np.isnan(rows[j, i]):
                return True
    return False


@njit(cache=True, nogil=True)
def _gini_shift(rows, tots):  # pragma: no cover - compiled
    """Shift each row as ``gini_rows`` does (negatives to 0) and take its total in agent order."""
    n = rows.shape[1]
    for j in range(rows.shape[0]):
        row = rows[j]
        low = row[0] if n else 0.0
        for i in range(n):
            low = min(low, row[i])
        shift = min(0.0, low)
        for i in range(n):
            row[i] = row[i] - shift
        tots[j] = total(row, n)


@njit(cache=True, nogil=True)
def _gini_sorted(rows, tots, out):  # pragma: no cover - compiled
    """The Gini of each sorted row from its total, as ``gini_rows`` (and :func:`gini_step`)."""
    n = rows.shape[1]
    for j in range(rows.shape[0]):
        tot = tots[j]
        if n == 0 or not tot > 0:
            out[j] = 0.0
            continue
        row = rows[j]
        run = 0.0
        for i in range(n):
            run += row[i]  # np.cumsum: a running sum, left to right
            row[i] = run / tot
        out[j] = (np.float64(n + 1) - 2.0 * total(row, n)) / n
