"""Grouping decisions by integer key, fast: which decision is the first or last of each key.

Learners join one step's decisions by (agent, partner) keys. ``np.unique`` with
``return_index`` needs a stable argsort, many times slower than sorting plain
int64 values; folding each decision's position into its key makes every key
distinct, so an ordinary sort gives the same answer (positions order each run).
"""

from __future__ import annotations

import numpy as np


def by_key(keys: np.ndarray, last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and, for each, the position of its first (or last) occurrence.

    Args:
        keys: non-negative int64 keys, one per decision.
        last: the last occurrence instead of the first.

    Returns:
        ``(uniq, index)``, as ``np.unique(keys, return_index=True)`` gives for the first.
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    if n == 0:
        return keys, np.zeros(0, dtype=np.int64)
    shift = n.bit_length()  # positions in the low bits: shifts and masks, no division
    if int(keys.max()) >= (1 << (62 - shift)):  # too large to fold: the stable sort
        order = np.argsort(keys, kind="stable")
        srt = keys[order]
        edge = np.flatnonzero(srt[1:] != srt[:-1])
        pick = np.append(edge, n - 1) if last else np.concatenate([[0], edge + 1])
        return srt[pick], order[pick]
    folded = np.sort((keys << shift) | np.arange(n, dtype=np.int64))
    group = folded >> shift
    change = group[1:] != group[:-1]
    pick = np.flatnonzero(np.append(change, True) if last else np.concatenate([[True], change]))
    return group[pick], folded[pick] & ((1 << shift) - 1)


def lookup(keys: np.ndarray, values: np.ndarray, want: np.ndarray, missing: int = -1) -> np.ndarray:
    """``values`` at each wanted key in the sorted distinct ``keys`` (``missing`` where absent)."""
    if not len(keys):
        return np.full(len(want), missing, dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return np.where(keys[pos] == want, values[pos], missing).astype(np.int64)
