"""Discounting Q-learners' update of waiting decisions, compiled (``QLearning.learn``).

Why: with ``gamma > 0`` a step's update is some fifty numpy passes over the step's decisions
(look-ups in two sorted key lists, gathers, a merge), about a quarter of a learning step of
the trust game at 10^4 agents. Both key lists are sorted and distinct, so one merge walk
finds every waiting decision's next state and another lays out what waits next.

The arithmetic is numpy's, operation for operation and in the same order: every update
value is computed from the Q-values before any is applied, then applied in the order of the
waiting list (as ``np.add.at`` does), and the maximum over acts propagates NaN as
``np.maximum`` does. Imported only when a learner's step is large (numba loads slowly).
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
