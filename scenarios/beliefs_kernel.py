"""``Beliefs.learn`` compiled (used once numba is loaded anyway).

Why: numpy's version is some twenty array calls (a sort for the runs of keys, a search,
``np.insert`` of keys and slots, a stable sort of the new keys by first hearing, scatters),
~0.7 ms of a 5-step injection stretch at 10^3 agents. This makes the same arrays in a few
passes: the same sorted keys, slots (new keys numbered in the order first heard), credences
and truths (the last row of a repeated key counting). A stretch hears its claims a step at a
time, each step's in key order, so the keys are sorted by merging those runs
(``agents.pair_runs.sort_runs``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.jit import njit
from agents.pair_runs import distinct, merge_new


@njit(cache=True, nogil=True)
def learn(keys: np.ndarray, slot: np.ndarray, cred: np.ndarray, true: np.ndarray,  # pragma: no cover - compiled
          r: np.ndarray, s: np.ndarray, facts: np.ndarray, credence: np.ndarray, truth: np.ndarray,
          has_truth: bool, senders: int, nfacts: int) -> Any:
    """The beliefs' arrays after rows (recipient ``r``, sender ``s``, ``facts``) are heard with
    ``credence`` (and ``truth`` where ``has_truth``); ok False, nothing made, where an id lies
    outside the key layout (the caller's numpy path says so)."""
    m, n = r.shape[0], keys.shape[0]
    q = np.empty(m, np.int64)
    for i in range(m):
        ri, si = r[i], s[i] + 1
        if ri < 0 or ri >= senders or si < 0 or si >= senders:
            return False, keys, slot, cred, true
        q[i] = (ri * senders + si) * nfacts + facts[i]
    uniq, _, inv = distinct(q)
    u = uniq.shape[0]
    pos = np.searchsorted(keys, uniq)
    uslot = np.full(u, -1, np.int64)  # -1: a new key
    fresh = 0
    for x in range(u):
        p = pos[x]
        if p < n and keys[p] == uniq[x]:
            uslot[x] = slot[p]
        else:
            fresh += 1
    base = cred.shape[0]
    if fresh:
        known = uslot >= 0  # before the new keys take their slots
        c = base
        for i in range(m):  # new keys take the next slots in the order first heard
            x = inv[i]
            if uslot[x] < 0:
                uslot[x] = c
                c += 1
        new = np.empty(fresh, np.int64)
        new_slot = np.empty(fresh, np.int64)
        w = 0
        for x in range(u):
            if not known[x]:
                new[w] = uniq[x]
                new_slot[w] = uslot[x]
                w += 1
        keys2, slot2 = merge_new(keys, slot, new, new_slot)
        cred2 = np.zeros(base + fresh)
        cred2[:base] = cred
        true2 = np.zeros(base + fresh, np.bool_)
        true2[:base] = true
        keys, slot, cred, true = keys2, slot2, cred2, true2
    for i in range(m):  # rows in the order heard: the last of a key counts
        cred[uslot[inv[i]]] = credence[i]
        if has_truth:
            true[uslot[inv[i]]] = truth[i]
    return True, keys, slot, cred, true
