"""numpy's pairwise summation as a list of leaves, so several sums share one pass.

Why: at 10^6 agents an IPD step's metrics were separate passes over the same
index arrays (welfare and the Gini's total over agents' profiles, trust and
calibration over 4M pair rows' codes), and the Gini wrote 10^6 running shares
to memory only to sum them. Each pass was bound by memory, not arithmetic.
numpy's pairwise sum of n values is a fixed tree (leaves of at most 128
values summed by ``kernel_sums._block``, halves on multiples of 8): walked
as ``leaves(n)`` - each leaf's size and how many pairs of partial sums close
after it - the sums can be taken leaf by leaf while the values are read or
made once, and still round exactly as numpy's (``tests/test_pairwise_tree.py``).
"""

from __future__ import annotations

import functools

import numpy as np

from agents.jit import INNER, OUTER, njit
from scenarios.kernel_sums import _U1, _U2, _U3, _U4, _U5, _U6, _U7, _U8, BLOCK, DEPTH, _block

#: Integers up to this magnitude are exact in float64, and so is a sum of integers whose
#: magnitudes add up to no more: in any order it is the exact sum.
EXACT = 2.0 ** 53


@functools.lru_cache(maxsize=64)
def leaves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """numpy's pairwise tree over ``n`` values: (size of each leaf in order, partial sums closed
    after it), as numpy recurses: up to ``BLOCK`` a leaf, else the halves (the first a multiple
    of 8), their sums added when the second closes. Kept per size (read-only arrays)."""
    if n <= BLOCK:
        size, close = np.array([n], np.int64), np.zeros(1, np.int64)
    else:
        half = n // 2
        half -= half % 8
        (ls, lc), (rs, rc) = leaves(half), leaves(n - half)
        size, close = np.concatenate([ls, rs]), np.concatenate([lc, rc])
        close[-1] += 1
    size.flags.writeable = close.flags.writeable = False
    return size, close


@njit(**INNER)
def push(vals, sp, leaf, closes):  # pragma: no cover - compiled
    """Put a leaf's sum on the partial-sum stack and close ``closes`` pairs; returns the new depth."""
    vals[sp] = leaf
    sp += 1
    for _ in range(closes):
        sp -= 1
        vals[sp - 1] = vals[sp - 1] + vals[sp]
    return sp


@njit(**INNER)
def pair_table(a, b):  # pragma: no cover - compiled
    """``a`` and ``b`` side by side, as the real and imaginary parts of one table."""
    ab = np.empty(a.shape[0], np.complex128)
    for u in range(a.shape[0]):
        ab[u] = complex(a[u], b[u])
    return ab


@njit(**INNER)
def block2_at(ab, code, lo, n):  # pragma: no cover - compiled
    """(``_block_at(ab.real, code, lo, n)``, ``_block_at(ab.imag, code, lo, n)``) as one complex
    sum, each code read once.

    Why: the two sums over 4M pair rows' codes were two passes, each loading every code; the
    loads, not the adds, bounded them. A complex add is two independent float adds, so each
    part adds what ``kernel_sums._block_at`` adds, in its order, and rounds as numpy's; one
    table entry is one 16-byte load."""
    i = np.uint64(lo)
    end = i + np.uint64(n)
    if n < 8:
        z = 0j
        while i < end:
            z += ab[np.uint64(code[i])]
            i += _U1
        return z
    z0, z1 = ab[np.uint64(code[i])], ab[np.uint64(code[i + _U1])]
    z2, z3 = ab[np.uint64(code[i + _U2])], ab[np.uint64(code[i + _U3])]
    z4, z5 = ab[np.uint64(code[i + _U4])], ab[np.uint64(code[i + _U5])]
    z6, z7 = ab[np.uint64(code[i + _U6])], ab[np.uint64(code[i + _U7])]
    stop = i + np.uint64(n - n % 8)
    i += _U8
    while i < stop:
        z0 += ab[np.uint64(code[i])]
        z1 += ab[np.uint64(code[i + _U1])]
        z2 += ab[np.uint64(code[i + _U2])]
        z3 += ab[np.uint64(code[i + _U3])]
        z4 += ab[np.uint64(code[i + _U4])]
        z5 += ab[np.uint64(code[i + _U5])]
        z6 += ab[np.uint64(code[i + _U6])]
        z7 += ab[np.uint64(code[i + _U7])]
        i += _U8
    z = ((z0 + z1) + (z2 + z3)) + ((z4 + z5) + (z6 + z7))
    while i < end:
        z += ab[np.uint64(code[i])]
        i += _U1
    return z


@njit(**OUTER)
def total2_at(a, b, code, size, close):  # pragma: no cover - compiled
    """(``a[code].sum()``, ``b[code].sum()``) as numpy computes each, in one pass over ``code``
    (``size``, ``close``: ``leaves(len(code))``)."""
    ab = pair_table(a, b)
    va = np.empty(DEPTH + 1)
    vb = np.empty(DEPTH + 1)
    sa, sb, lo = 0, 0, 0
    for leaf in range(size.shape[0]):
        s = size[leaf]
        z = block2_at(ab, code, lo, s)
        sa = push(va, sa, z.real, close[leaf])
        sb = push(vb, sb, z.imag, close[leaf])
        lo += s
    return 0.0 + va[0], 0.0 + vb[0]


@njit(**OUTER)
def shares_total(value, order, members, tot, size, close, buf):  # pragma: no cover - compiled
    """The sum, as numpy's, of the running shares ``cumsum(sorted values) / tot`` where the
    sorted values are ``value[p]`` repeated ``members[p]`` times for ``p`` in ``order``.

    The shares are made a leaf at a time into ``buf`` (``BLOCK`` floats: it stays in cache)
    instead of into an array of every agent's."""
    vals = np.empty(DEPTH + 1)
    sp = 0
    at, left = 0, members[order[0]] if order.shape[0] else 0
    run = 0.0
    for leaf in range(size.shape[0]):
        s = size[leaf]
        for i in range(s):
            while left == 0:
                at += 1
                left = members[order[at]]
            run += value[order[at]]  # np.cumsum: a running sum, left to right
            buf[i] = run / tot
            left -= 1
        sp = push(vals, sp, _block(buf, 0, s), close[leaf])
    return 0.0 + vals[0]


@njit(**OUTER)
def integer_shares_total(value, order, members, tot, size, close, buf):  # pragma: no cover - compiled
    """``shares_total`` when every ``value`` is an integer and ``members[p] * |value[p]|`` add up
    to at most ``EXACT`` (the caller checks): the running sums are then exact integers, so
    within a profile's run the k-th is the run's start plus k times its value, with no chain of
    dependent adds. The same quotients, summed in the same tree: the same float."""
    vals = np.empty(DEPTH + 1)
    sp = 0
    at, left = 0, members[order[0]] if order.shape[0] else 0
    start = 0.0  # the running sum before the next share's profile run (exact)
    for leaf in range(size.shape[0]):
        s = size[leaf]
        i = 0
        while i < s:
            while left == 0:
                at += 1
                left = members[order[at]]
            v = value[order[at]]
            take = min(left, s - i)
            for j in range(take):  # independent quotients: vectorised
                buf[i + j] = (start + np.float64(j + 1) * v) / tot
            start += np.float64(take) * v
            i += take
            left -= take
        sp = push(vals, sp, _block(buf, 0, s), close[leaf])
    return 0.0 + vals[0]
