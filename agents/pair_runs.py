"""Sorted-key helpers shared by the compiled ledgers (pair rows, beliefs, pair alignment).

Why: numpy's ``np.unique``/``np.insert`` over keys that arrive a step at a time, each step's
in order, cost some twenty array calls a stretch; these make the same arrays in a few passes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.jit import njit


@njit(cache=True, nogil=True, inline="always")
def distinct(q: np.ndarray) -> Any:  # pragma: no cover - compiled
    """The sorted distinct keys of ``q``, the position of each one's first occurrence and
    each position's key (an index into them): ``np.unique`` with index and inverse."""
    return distinct_along(q, sort_runs(q))


@njit(cache=True, nogil=True, inline="always")
def distinct_along(q: np.ndarray, order: np.ndarray) -> Any:  # pragma: no cover - compiled
    """``distinct`` given ``order``, positions of ``q`` that sort it stably."""
    m = q.shape[0]
    uniq = np.empty(m, np.int64)
    head = np.empty(m, np.int64)
    inv = np.empty(m, np.int64)
    u = 0
    for x in range(m):
        i = order[x]
        if u == 0 or uniq[u - 1] != q[i]:
            uniq[u] = q[i]
            head[u] = i
            u += 1
        inv[i] = u - 1
    return uniq[:u], head[:u], inv


@njit(cache=True, nogil=True)
def merge_new(keys: np.ndarray, vals: np.ndarray, new: np.ndarray,  # pragma: no cover - compiled
              new_vals: np.ndarray) -> Any:
    """Sorted ``keys`` (and their ``vals``) with the sorted keys ``new``, none of them present
    (and their ``new_vals``), merged: each new key where ``np.insert`` at its ``searchsorted``
    place puts it."""
    n, u = keys.shape[0], new.shape[0]
    keys2 = np.empty(n + u, np.int64)
    vals2 = np.empty(n + u, np.int64)
    a = 0
    for x in range(u):
        while a < n and keys[a] < new[x]:
            keys2[a + x] = keys[a]
            vals2[a + x] = vals[a]
            a += 1
        keys2[a + x] = new[x]
        vals2[a + x] = new_vals[x]
    while a < n:
        keys2[a + u] = keys[a]
        vals2[a + u] = vals[a]
        a += 1
    return keys2, vals2


@njit(cache=True, nogil=True, inline="always")
def sort_runs(q: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """A stable argsort of ``q`` that merges its ascending runs pairwise, pass after pass.

    Why: the keys a stretch looks up come a step at a time, each step's in key order, so a
    few passes sort them where a comparison sort of the whole costs ~log2(m) of them. Keys in
    many short runs take as many passes as a merge sort; numba's own ``argsort`` (kind
    mergesort) is not called: compiling it cost more than a second of a cold cache.
    """
    m = q.shape[0]
    bounds = np.empty(m + 2, np.int64)  # m + 1 run bounds at most; one more: no keys is one empty run
    bounds[0] = 0
    runs = 1
    for i in range(1, m):
        if q[i] < q[i - 1]:
            bounds[runs] = i
            runs += 1
    bounds[runs] = m
    order = np.empty(m, np.int64)
    for i in range(m):
        order[i] = i
    tmp = np.empty(m, np.int64)
    while runs > 1:
        merged = 0
        for r in range(0, runs, 2):
            lo = bounds[r]
            hi = bounds[min(r + 2, runs)]
            mid = bounds[r + 1] if r + 1 < runs else hi
            a, b = lo, mid
            for x in range(lo, hi):  # the left run's first on ties: stable
                if b >= hi or (a < mid and q[order[a]] <= q[order[b]]):
                    tmp[x] = order[a]
                    a += 1
                else:
                    tmp[x] = order[b]
                    b += 1
            bounds[merged] = lo
            merged += 1
        bounds[merged] = m
        runs = merged
        order, tmp = tmp, order
    return order
