"""``Beliefs.learn`` compiled (used once numba is loaded anyway).

Why: numpy's version is some twenty array calls (a sort for the runs of keys, a search,
``np.insert`` of keys and slots, a stable sort of the new keys by first hearing, scatters),
~0.7 ms of a 5-step injection stretch at 10^3 agents. This makes the same arrays in a few
passes: the same sorted keys, slots (new keys numbered in the order first heard), credences
and truths (the last row of a repeated key counting). A stretch hears its claims a step at a
time, each step's in key order; the keys are sorted by receiver, each receiver's few rows then
in order (``by_receiver``; ``agents.pair_runs.distinct`` where receivers are far apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.jit import njit
from agents.pair_runs import distinct, distinct_along, merge_new


@njit(cache=True, nogil=True)
def by_receiver(q: np.ndarray, r: np.ndarray, top: int) -> Any:  # pragma: no cover - compiled
    """``distinct(q)``'s sorted distinct keys and inverse, where each key's receiver ``r`` (at
    most ``top``) is its most significant part: a stable counting sort by receiver, then an
    insertion sort of each receiver's few rows (heard a step at a time: mostly in order
    already). ``sort_runs`` merges a stretch's ~30 step runs in ~5 passes over every row."""
    m = q.shape[0]
    end = np.zeros(top + 2, np.int64)
    for i in range(m):
        end[r[i] + 1] += 1
    for x in range(top + 1):
        end[x + 1] += end[x]
    order = np.empty(m, np.int64)
    for i in range(m):  # each receiver's rows in the order heard
        x = r[i]
        order[end[x]] = i
        end[x] += 1
    lo = 0
    for x in range(top + 1):  # ``end[x]``: receiver x's rows end (and x + 1's start) there now
        for a in range(lo + 1, end[x]):
            v = order[a]
            key = q[v]
            b = a - 1
            while b >= lo and q[order[b]] > key:  # ties keep their order: stable
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = v
        lo = end[x]
    uniq, _, inv = distinct_along(q, order)
    return uniq, inv


@njit(cache=True, nogil=True)
def learn(keys: np.ndarray, slot: np.ndarray, cred: np.ndarray, true: np.ndarray,  # pragma: no cover - compiled
          r: np.ndarray, s: np.ndarray, facts: np.ndarray, credence: np.ndarray, truth: np.ndarray,
          has_truth: bool, senders: int, nfacts: int) -> Any:
    """The beliefs' arrays after rows (recipient ``r``, sender ``s``, ``facts``) are heard with
    ``credence`` (and ``truth`` where ``has_truth``); ok False, nothing made, where an id lies
    outside the key layout (the caller's numpy path says so)."""
    m, n = r.shape[0], keys.shape[0]
    q = np.empty(m, np.int64)
    top = -1
    for i in range(m):
        ri, si = r[i], s[i] + 1
        if ri < 0 or ri >= senders or si < 0 or si >= senders:
            return False, keys, slot, cred, true
        q[i] = (ri * senders + si) * nfacts + facts[i]
        top = max(top, ri)
    # Receivers are agents, few beside the rows (a stretch's): bucketed by receiver.
    if top <= 4 * m + 1024:
        uniq, inv = by_receiver(q, r, top)
    else:  # receivers far apart (a few rows of large ids): no array by receiver
        uniq, _, inv = distinct(q)
    u = uniq.shape[0]
    # Each distinct key's slot (-1: new), its place found by bisection from the previous
    # key's (what ``searchsorted`` finds; numba's version cost ~0.5 s of a cold compile).
    uslot = np.empty(u, np.int64)
    fresh = 0
    p = 0
    for x in range(u):
        hi = n
        while p < hi:
            mid = (p + hi) >> 1
            if keys[mid] < uniq[x]:
                p = mid + 1
            else:
                hi = mid
        if p < n and keys[p] == uniq[x]:
            uslot[x] = slot[p]
        else:
            uslot[x] = -1
            fresh += 1
    if fresh:
        new = np.empty(fresh, np.int64)
        at = np.empty(fresh, np.int64)  # each new key's place among the distinct ones
        w = 0
        for x in range(u):
            if uslot[x] < 0:
                new[w] = uniq[x]
                at[w] = x
                w += 1
        c = cred.shape[0]
        for i in range(m):  # new keys take the next slots in the order first heard
            x = inv[i]
            if uslot[x] < 0:
                uslot[x] = c
                c += 1
        new_slot = np.empty(fresh, np.int64)
        for w in range(fresh):
            new_slot[w] = uslot[at[w]]
        keys, slot = merge_new(keys, slot, new, new_slot)
        # Element by element: a slice assignment pulls in numba's shape-error formatting
        # (~1 s of a cold compile).
        base = cred.shape[0]
        cred2 = np.empty(base + fresh)
        true2 = np.empty(base + fresh, np.bool_)
        for i in range(base):
            cred2[i] = cred[i]
            true2[i] = true[i]
        for i in range(base, base + fresh):
            cred2[i] = 0.0
            true2[i] = False
        cred, true = cred2, true2
    for i in range(m):  # rows in the order heard: the last of a key counts
        cred[uslot[inv[i]]] = credence[i]
        if has_truth:
            true[uslot[inv[i]]] = truth[i]
    return True, keys, slot, cred, true

