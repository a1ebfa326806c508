"""Fictitious play's greedy preferences and its update, compiled (``agents.policies.beliefs``).

Why: in numpy each is some fifteen passes over a step's decisions (gathers of beliefs and
act values, a column per act, ``np.add.at`` three times), together about a quarter of what
fictitious play costs beyond fixed policies in the trust game at 10^4 agents; here each is
one pass (the update two: every value it adds is read before any is added).

The arithmetic is numpy's, operation for operation and in the same precision (float32
beliefs and values, float64 expected rewards), as ``scenarios.trust_game_learners`` mirrors
it inside the trust game's loop; the maximum over acts propagates NaN as ``np.maximum``
does. Imported only when a step is large (numba loads slowly).

The per-decision arithmetic is in scalar helpers the trust game's loop shares
(``scenarios.trust_game_learners.choose``): one definition of what numpy computes, so the
two cannot drift apart (they once did on NaN, where the loop divided by zero).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.jit import njit


# Scalars only, inlined: an inlined helper taking an array costs a reference count a call.
@njit(cache=True, nogil=True, inline="always")
def belief(s0: Any, s1: Any) -> Any:  # pragma: no cover - compiled
    """``FictitiousPlay.belief`` of float32 counts (partner defected, cooperated): float32."""
    return np.float64(np.float32(s1 / np.float32(s0 + s1)))


@njit(cache=True, nogil=True, inline="always")
def act_value(u0: Any, u1: Any, b: Any) -> Any:  # pragma: no cover - compiled
    """An act's expected reward under belief ``b`` from its float32 values against each move."""
    return np.float64(u0) + b * np.float64(np.float32(u1 - u0))


@njit(cache=True, nogil=True, inline="always")
def higher(top: Any, value: Any) -> Any:  # pragma: no cover - compiled
    """``np.maximum(top, value)``: the larger, NaN if either is (the builtin ``max`` keeps
    ``top`` against a NaN ``value``)."""
    return value if value > top or value != value else top


@njit(cache=True, nogil=True, inline="always")
def shares(best: Any, keep: Any, spread: Any) -> Any:  # pragma: no cover - compiled
    """The preference of a best act and of another when ``best`` acts are within the cut:
    ``(1 - eps) * (is_best / best) + eps / acts`` as numpy computes it; both NaN when no act is
    (every value NaN: numpy's 0 / 0, which compiled code would raise on)."""
    if best == 0:
        return np.nan, np.nan
    return keep * (1.0 / best) + spread, spread  # (1 - eps) * 0.0 + spread is spread


@njit(cache=True, nogil=True)
def greedy(seen: np.ndarray, u: np.ndarray, cells: np.ndarray, n_acts: int,
           epsilon: float) -> np.ndarray:  # pragma: no cover - compiled
    """``FictitiousPlay.preferences`` at temperature 0 of the (agent, state) ``cells`` (flat
    ``seen`` and ``u``): (acts, decisions), C order (its transpose is numpy's F-order result)."""
    m = cells.shape[0]
    out = np.empty((n_acts, m))
    value = np.empty(n_acts)
    keep = 1 - epsilon
    spread = epsilon / n_acts
    for i in range(m):
        c = cells[i]
        b = belief(seen[2 * c], seen[2 * c + 1])
        base = c * n_acts * 2
        for a in range(n_acts):
            value[a] = act_value(u[base + 2 * a], u[base + 2 * a + 1], b)
        top = value[0]
        for a in range(1, n_acts):
            top = higher(top, value[a])
        cut = top - 1e-6
        count = 0
        for a in range(n_acts):
            if value[a] >= cut:
                count += 1
        hi, lo = shares(count, keep, spread)
        for a in range(n_acts):
            out[a, i] = hi if value[a] >= cut else lo
    return out


@njit(cache=True, nogil=True)
def learn(seen: np.ndarray, u: np.ndarray, tried: np.ndarray, cells: np.ndarray, acts: np.ndarray,
          rewards: np.ndarray, move: np.ndarray, n_acts: int) -> None:  # pragma: no cover - compiled
    """``FictitiousPlay.learn`` on flat ``seen``, ``u``, ``tried`` for the (agent, state) ``cells``.

    A decision whose partner had no say (``move`` -1) counts against both moves: against the
    first in its turn, against the second after every decision, in order (numpy's entries)."""
    m = cells.shape[0]
    extra = 0
    for i in range(m):
        if move[i] >= 0:
            seen[2 * cells[i] + move[i]] += np.float32(1.0)
        else:
            extra += 1
    flat = np.empty(m + extra, np.int64)
    reward = np.empty(m + extra)
    j = m
    for i in range(m):
        key = (cells[i] * n_acts + acts[i]) * 2
        flat[i] = key + max(move[i], 0)
        reward[i] = rewards[i]
        if move[i] < 0:
            flat[j] = key + 1
            reward[j] = rewards[i]
            j += 1
    for i in range(m + extra):
        tried[flat[i]] += np.float32(1.0)
    # Running means against the values before this call: every delta read before any is added.
    delta = np.empty(m + extra, np.float32)
    for i in range(m + extra):
        f = flat[i]
        delta[i] = np.float32((reward[i] - np.float64(u[f])) / np.float64(tried[f]))
    for i in range(m + extra):
        u[flat[i]] += delta[i]
