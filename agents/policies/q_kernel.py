"""Discounting Q-learners' update of waiting decisions, compiled (``QLearning.learn``).

Why: with ``gamma > 0`` a step's update is some fifty numpy passes over the step's decisions
(look-ups in two sorted key lists, gathers, a merge), about a quarter of a learning step of
the trust game at 10^4 agents. Both key lists are sorted and distinct, so one merge walk
finds every waiting decision's next state and another lays out what waits next.

The arithmetic is numpy's, operation for operation and in the same order: every update
value is computed from the Q-values before any is applied, then applied in the order of the
waiting list (as ``np.add.at`` does), and the maximum over acts propagates NaN as
``np.maximum`` does. Imported only when a learner's step is large (numba loads slowly).

``step`` is a whole update (``QLearning.learn`` after its annealing count): the keys and Q-value
indices of the step's decisions, their distinct keys, and ``settle``.

``runs_by_row`` finds the step's distinct keys as ``agents.uniques.runs`` does, without its
sort (the larger part of a step's update on a slow machine): keys lead with the agent's row,
a small integer, so a counting sort by row and a sort of each row's few keys give the order.
"""

from __future__ import annotations

import numpy as np

from agents.jit import njit


@njit(cache=True, nogil=True)
def settle(wait: np.ndarray, wcell: np.ndarray, wr: np.ndarray, uniq: np.ndarray, first: np.ndarray,
           new_cell: np.ndarray, new_r: np.ndarray, rows: np.ndarray, s: np.ndarray, q: np.ndarray,
           n_states: int, n_acts: int, rate: float, gamma: float,
           n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Update ``q`` (flat) for the waiting decisions whose next state this step shows; returns
    the next waiting list (keys, Q-value indices, rewards), sorted by key."""
    nw = wait.shape[0]
    nu = uniq.shape[0]
    nxt = np.full(nw, -1, np.int64)
    # The same key (agent and partner) decided this step.
    i = 0
    j = 0
    while i < nw and j < nu:
        if wait[i] < uniq[j]:
            i += 1
        elif wait[i] > uniq[j]:
            j += 1
        else:
            nxt[i] = first[j]
            i += 1
            j += 1
    # Failing that, the agent's decision this step with the lowest partner (keys sort by row first).
    head_of = np.full(n_rows, -1, np.int64)
    for j in range(nu - 1, -1, -1):
        head_of[uniq[j] >> 32] = first[j]
    done = 0
    for i in range(nw):
        if nxt[i] < 0:
            nxt[i] = head_of[wait[i] >> 32]
        if nxt[i] >= 0:
            done += 1
    value = np.empty(done)
    at = np.empty(done, np.int64)
    t = 0
    for i in range(nw):
        k = nxt[i]
        if k < 0:
            continue
        base = (rows[k] * n_states + s[k]) * n_acts
        best = q[base]
        for a in range(1, n_acts):
            x = q[base + a]
            if x > best or x != x:  # np.maximum: the larger, NaN if either is
                best = x
        c = wcell[i]
        value[t] = rate * (wr[i] + gamma * best - q[c])
        at[t] = c
        t += 1
    for t in range(done):
        q[at[t]] += value[t]
    # What waits next: the waiting decisions not answered and this step's, merged by key
    # (an unanswered waiting key never equals a key of this step).
    size = nw - done + nu
    out_key = np.empty(size, np.int64)
    out_cell = np.empty(size, np.int64)
    out_r = np.empty(size)
    i = 0
    j = 0
    o = 0
    while o < size:
        while i < nw and nxt[i] >= 0:
            i += 1
        if j >= nu or (i < nw and wait[i] < uniq[j]):
            out_key[o] = wait[i]
            out_cell[o] = wcell[i]
            out_r[o] = wr[i]
            i += 1
        else:
            out_key[o] = uniq[j]
            out_cell[o] = new_cell[j]
            out_r[o] = new_r[j]
            j += 1
        o += 1
    return out_key, out_cell, out_r


#: A row's keys at most this many are sorted by insertion, more (a hub's) by a stable merge sort.
_INSERTION_MAX = 32


@njit(cache=True, nogil=True)
def runs_by_row(keys: np.ndarray, rows: np.ndarray,
                n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """``agents.uniques.runs(keys)`` for keys ``rows << 32 | low`` (``0 <= rows < n_rows``): the
    sorted distinct keys and the positions of each one's first and last occurrence."""
    m = keys.shape[0]
    start = np.zeros(n_rows + 1, np.int64)
    for i in range(m):
        start[rows[i] + 1] += 1
    for r in range(n_rows):
        start[r + 1] += start[r]
    order = np.empty(m, np.int64)  # positions, by row then key then position
    srt = np.empty(m, np.int64)  # their keys
    fill = start[:-1].copy()
    for i in range(m):  # by row, and by position within a row: stable
        at = fill[rows[i]]
        order[at] = i
        srt[at] = keys[i]
        fill[rows[i]] += 1
    for r in range(n_rows):
        lo, hi = start[r], start[r + 1]
        if hi - lo > _INSERTION_MAX:
            by = np.argsort(srt[lo:hi], kind="mergesort")
            order[lo:hi] = order[lo:hi][by]
            srt[lo:hi] = srt[lo:hi][by]
            continue
        for a in range(lo + 1, hi):  # stable: an equal key stays after the earlier position
            p = order[a]
            k = srt[a]
            b = a - 1
            while b >= lo and srt[b] > k:
                order[b + 1] = order[b]
                srt[b + 1] = srt[b]
                b -= 1
            order[b + 1] = p
            srt[b + 1] = k
    n = 0
    for a in range(m):
        if a == 0 or srt[a] != srt[a - 1]:
            n += 1
    uniq = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    j = -1
    for a in range(m):
        if a == 0 or srt[a] != srt[a - 1]:
            j += 1
            uniq[j] = srt[a]
            first[j] = order[a]
        last[j] = order[a]
    return uniq, first, last


@njit(cache=True, nogil=True)
def step(q: np.ndarray, rows: np.ndarray, s: np.ndarray, acts: np.ndarray, rewards: np.ndarray,
         partners: np.ndarray, wait: np.ndarray, wcell: np.ndarray, wr: np.ndarray, n_states: int,
         n_acts: int, rate: float, gamma: float,
         n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """One discounting update of flat ``q`` from a call's decisions (``partners`` empty: none
    known); returns what waits next, as ``settle`` does."""
    m = rows.shape[0]
    known = partners.shape[0] == m and m > 0
    key = np.empty(m, np.int64)
    cell = np.empty(m, np.int64)
    for i in range(m):
        key[i] = (rows[i] << 32) + (partners[i] + 1 if known else 0)
        cell[i] = (rows[i] * n_states + s[i]) * n_acts + acts[i]
    uniq, first, last = runs_by_row(key, rows, n_rows)
    new_cell = np.empty(uniq.shape[0], np.int64)
    new_r = np.empty(uniq.shape[0])
    for j in range(uniq.shape[0]):
        new_cell[j] = cell[last[j]]
        new_r[j] = rewards[last[j]]
    if wait.shape[0] == 0:
        return uniq, new_cell, new_r
    return settle(wait, wcell, wr, uniq, first, new_cell, new_r, rows, s, q, n_states, n_acts, rate, gamma,
                  n_rows)
