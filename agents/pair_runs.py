"""``PairTable.index_runs`` compiled (used once numba is loaded anyway).

Why: numpy's version is some twenty array calls (searches, two stable sorts, ``np.insert``
of keys and rows, a second search), ~0.7 ms of a 5-step injection stretch at 10^3 agents
whose new pairs number a few hundred. This makes the same arrays in a few passes: the same
sorted keys, the same rows (new pairs numbered by run, then key) and the same count of runs
that made rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def index_runs(keys: np.ndarray, rowof: np.ndarray, k: np.ndarray,  # pragma: no cover - compiled
               bounds: np.ndarray) -> Any:
    """Rows of keys ``k`` (run ``r`` is ``k[bounds[r]:bounds[r + 1]]``) in the table of sorted
    ``keys`` and their ``rowof``: returns the keys and rows after the new pairs are added, each
    key's row, how many rows were added and how many times the run that made rows changed."""
    n, m = keys.shape[0], k.shape[0]
    pos = np.searchsorted(keys, k)
    miss = np.empty(m, np.int64)
    rows = np.empty(m, np.int64)
    nm = 0
    for q in range(m):
        p = pos[q]
        if p >= n or keys[p] != k[q]:
            miss[nm] = q
            nm += 1
        else:
            rows[q] = rowof[p]
    if nm == 0:
        return keys, rowof, rows, 0, 0
    miss = miss[:nm]
    run = np.empty(nm, np.int64)
    r = 0
    for x in range(nm):  # misses ascend: each one's run, walking the bounds forward
        while bounds[r + 1] <= miss[x]:
            r += 1
        run[x] = r
    km, head, inv = distinct(k[miss])
    u = km.shape[0]
    rm = run[head]  # each new key's first run: runs ascend along the misses
    # Rows by (run, key): runs are few, so counted (a stable counting sort, keys ascending within).
    runs = bounds.shape[0]
    start = np.zeros(runs + 1, np.int64)
    for x in range(u):
        start[rm[x] + 1] += 1
    made = -1
    for r in range(runs):
        made += start[r + 1] > 0  # one per run that made rows, less one: numpy's count of changes
        start[r + 1] += start[r]
    rank = np.empty(u, np.int64)
    for x in range(u):
        rank[x] = start[rm[x]]
        start[rm[x]] += 1
    keys2, rowof2 = merge_new(keys, rowof, km, n + rank)
    for x in range(nm):  # a new key's row, by its place among the new keys
        rows[miss[x]] = n + rank[inv[x]]
    return keys2, rowof2, rows, u, made


@njit(cache=True, nogil=True)
def distinct(q: np.ndarray) -> Any:  # pragma: no cover - compiled
    """The sorted distinct keys of ``q``, the position of each one's first occurrence and
    each position's key (an index into them): ``np.unique`` with index and inverse."""
    m = q.shape[0]
    order = sort_runs(q)
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


@njit(cache=True, nogil=True)
def sort_runs(q: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """A stable argsort of ``q`` that merges its ascending runs pairwise, pass after pass.

    Why: the keys a stretch looks up come a step at a time, each step's in key order, so a
    few passes sort them where a comparison sort of the whole costs ~log2(m) of them. Keys
    in many short runs are sorted by numpy's stable sort instead.
    """
    m = q.shape[0]
    bounds = np.empty(m + 1, np.int64)
    bounds[0] = 0
    runs = 1
    for i in range(1, m):
        if q[i] < q[i - 1]:
            bounds[runs] = i
            runs += 1
    bounds[runs] = m
    if runs > 8 and runs > m // 16:
        return np.argsort(q, kind="mergesort")
    order = np.arange(m)
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
