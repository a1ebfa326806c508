"""Distinct values of integer arrays by sorting, as ``np.unique`` returns them.

numpy 2.3+ finds the distinct values of an integer array by hashing, and on
the keys this project makes (pair keys ``i * stride + j``, decision keys
``decider * space + code``: regular, widely spaced) that hash collides so
much that a million keys take seconds where a sort takes milliseconds. These
helpers sort instead and return exactly what ``np.unique`` returns (sorted
distinct values, inverse, first index), so results do not change.
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


def unique_first(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_index=True)``: distinct values and the index of each one's first occurrence."""
    a = np.asarray(a).ravel()
    order = np.argsort(a, kind="stable")
    flag = _starts(a[order])
    return a[order][flag], order[flag]
