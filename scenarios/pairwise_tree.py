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
from scenarios.kernel_sums import BLOCK, DEPTH, _block, _block_at


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


@njit(**OUTER)
def total2_at(a, b, code, size, close):  # pragma: no cover - compiled
    """(``a[code].sum()``, ``b[code].sum()``) as numpy computes each, in one pass over ``code``
    (``size``, ``close``: ``leaves(len(code))``)."""
    va = np.empty(DEPTH + 1)
    vb = np.empty(DEPTH + 1)
    sa, sb, lo = 0, 0, 0
    for leaf in range(size.shape[0]):
        s = size[leaf]
        sa = push(va, sa, _block_at(a, code, lo, s), close[leaf])
        sb = push(vb, sb, _block_at(b, code, lo, s), close[leaf])
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
