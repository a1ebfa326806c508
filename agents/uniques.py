"""Distinct values of integer arrays by sorting, as ``np.unique`` returns them.

numpy 2.3+ finds the distinct values of an integer array by hashing, and on
the keys this project makes (pair keys ``i * stride + j``, decision keys
``decider * space + code``: regular, widely spaced) that hash collides so
much that a million keys take seconds where a sort takes milliseconds. These
helpers sort instead and return exactly what ``np.unique`` returns (sorted
distinct values, inverse, first index), so results do not change.

Learners join one step's decisions by (agent, partner) keys and need the first
or last decision of each key. ``return_index`` needs a stable argsort, many
times slower than sorting plain int64 values; :func:`runs` folds each
decision's position into the low bits of its key, which makes every key
distinct, so an ordinary sort gives the same answer (positions order each run
of equal keys).
"""

from __future__ import annotations

import numpy as np


def _starts(s: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in sorted ``s``."""
    flag = np.empty(len(s), dtype=bool)
    if len(s):
        flag[0] = True
        np.not_equal(s[1:], s[:-1], out=flag[1:])
    return flag


def unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D array (``np.unique(a)``)."""
    s = np.sort(np.asarray(a).ravel())
    out: np.ndarray = s[_starts(s)]
    return out


def unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` for a 1-D array."""
    a = np.asarray(a).ravel()
    order = np.argsort(a, kind="stable")
    s = a[order]
    flag = _starts(s)
    inv = np.empty(len(a), dtype=np.intp)
    inv[order] = np.cumsum(flag) - 1
    return s[flag], inv


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
