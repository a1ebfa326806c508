"""Grouping decisions by integer key, fast: which decision is the first or last of each key.

Learners join one step's decisions by (agent, partner) keys. ``np.unique`` with
``return_index`` needs a stable argsort, many times slower than sorting plain
int64 values; folding each decision's position into the low bits of its key
makes every key distinct, so an ordinary sort gives the same answer (positions
order each run of equal keys).
"""

from __future__ import annotations

import numpy as np


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct keys, and the positions of each one's first and last occurrence.

    Args:
        keys: non-negative int64 keys, one per decision.

    Returns:
        ``(uniq, first, last)``: ``uniq`` and ``first`` as ``np.unique(keys, return_index=True)``.
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    if n == 0:
        return keys, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    shift = n.bit_length()  # positions in the low bits: shifts and masks, no division
    if int(keys.max()) >= (1 << (62 - shift)):  # too large to fold: the stable sort
        order = np.argsort(keys, kind="stable")
        srt = keys[order]
        edge = np.flatnonzero(srt[1:] != srt[:-1])
        return (srt[np.append(edge, n - 1)], order[np.concatenate([[0], edge + 1])],
                order[np.append(edge, n - 1)])
    folded = np.sort((keys << shift) | np.arange(n, dtype=np.int64))
    group = folded >> shift
    pos = folded & ((1 << shift) - 1)
    edge = np.flatnonzero(group[1:] != group[:-1])
    ends = np.append(edge, n - 1)
    return group[ends], pos[np.concatenate([[0], edge + 1])], pos[ends]


def by_key(keys: np.ndarray, last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and, for each, the position of its first (or last) occurrence."""
    uniq, first, final = runs(keys)
    return uniq, final if last else first


def lookup(keys: np.ndarray, values: np.ndarray, want: np.ndarray, missing: int = -1) -> np.ndarray:
    """``values`` at each wanted key in the sorted distinct ``keys`` (``missing`` where absent)."""
    if not len(keys):
        return np.full(len(want), missing, dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[pos] == want, values[pos], missing).astype(np.int64)
