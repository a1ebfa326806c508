"""``PairTable.align`` on a table that has rows, compiled (used once numba is loaded anyway).

Why: after trust-game's rewiring the step's pairs are ~70% new rows; numpy's realignment
(a look-up, ``np.insert`` of the new keys, columns grown, a second look-up, a gather of
every column through the permutation, its inverse) is some thirty array calls, ~0.7 ms a
rewiring at 10^3 agents, as much as the compiled rewiring itself. This makes the same
arrays in a few passes: the same sorted keys, the same physical rows (rows of the pairs
asked for first, in the order asked, then the others ascending), the same column values
(new rows take the fresh values ``PairTable._grow`` gives them) and each row's (i, j).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import literal_unroll

from agents.jit import njit
from agents.pair_runs import merge_new
from agents.uniques import unique_inverse

#: Fresh values of the int8 move columns (``agents.trust.NONE``).
_NONE = -1


def realign(keys: np.ndarray, rowof: np.ndarray, cols: dict[str, np.ndarray], stride: int,
            i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], int,
                                                   np.ndarray, np.ndarray] | None:
    """Rows (i, j) laid out first: returns the keys, rows of keys, columns, how many rows
    were added, and each physical row's (i, j); None when a pair is asked for twice (numpy's
    layout then repeats rows, which this does not mirror)."""
    k = np.asarray(i, np.int64) * np.int64(stride) + np.asarray(j, np.int64)
    found = np.empty(len(k), np.int64)
    # numpy's search and sort: several times numba's (a search per key, a quicksort).
    missing = _find(keys, rowof, k, np.searchsorted(keys, k), found)
    got = _distinct(missing)
    if got is None:
        return None  # a key asked for twice: ``_realign`` would find its new row taken
    new, which = got
    # A power-of-two stride (the table's default) splits keys by shifts: a division per key was
    # a third of the passes.
    shift = stride.bit_length() - 1 if stride & (stride - 1) == 0 else -1
    out = _realign(keys, rowof, found, new, which.astype(np.int64, copy=False), np.int64(stride), np.int64(shift))
    if out is None:
        return None
    new_keys, new_rowof, perm, pi, pj = out
    n = len(keys)
    gathered = {c: np.empty(len(perm), arr.dtype) for c, arr in cols.items()}
    # ``_grow``'s fresh rows: no move remembered in ``last``/``last2``, zeros elsewhere.
    _gather_all(tuple((arr, gathered[c], arr.dtype.type(_NONE if c in ("last", "last2") else 0))
                      for c, arr in cols.items()), perm, n)
    return new_keys, new_rowof, gathered, len(new), pi, pj


def _distinct(missing: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``unique_inverse(missing)`` of distinct keys; None when a key repeats.

    Why: ``unique_inverse`` sorts stably (an argsort, ~0.1 ms of a rewiring at 10^3 agents);
    keys with each one's position folded into their low bits are all distinct, so numpy's
    plain sort orders them the same way, several times faster.
    """
    n = len(missing)
    shift = n.bit_length()
    if not n or int(missing.min()) < 0 or int(missing.max()) >= 1 << (62 - shift):
        new, which = unique_inverse(missing)  # keys too wide to fold
        return None if len(new) < n else (new, which)
    folded = (missing << shift) | np.arange(n, dtype=np.int64)
    radix_sort(folded.view(np.uint64), np.empty(n, np.uint64), np.zeros(256, np.int64))  # never negative
    new = folded >> shift
    if n > 1 and bool((new[1:] == new[:-1]).any()):
        return None
    which = np.empty(n, np.int64)
    which[folded & ((1 << shift) - 1)] = np.arange(n, dtype=np.int64)
    return new, which


@njit(cache=True, nogil=True)
def _find(keys: np.ndarray, rowof: np.ndarray, k: np.ndarray, pos: np.ndarray,
          found: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Each query's row (``found``; -1 absent) and the absent keys, in query order."""
    n = keys.shape[0]
    missing = np.empty(k.shape[0], np.int64)
    nm = 0
    for q in range(k.shape[0]):
        p = pos[q]
        if p < n and keys[p] == k[q]:
            found[q] = rowof[p]
        else:
            found[q] = -1
            missing[nm] = k[q]
            nm += 1
    return missing[:nm]


@njit(cache=True, nogil=True)
def _realign(keys: np.ndarray, rowof: np.ndarray, found: np.ndarray, new: np.ndarray, which: np.ndarray,
             stride: np.int64, shift: np.int64) -> Any:  # pragma: no cover - compiled
    """The merged keys and their rows, the permutation and each physical row's (i, j)."""
    n = keys.shape[0]
    m = found.shape[0]
    added = new.shape[0]
    total = n + added
    if m > total:
        return None
    # New keys take rows n, n+1, ... in order.
    merged, mrow = merge_new(keys, rowof, new, n + np.arange(added))
    # Rows asked for first, in order; then the others ascending.
    taken = np.zeros(total, np.bool_)
    perm = np.empty(total, np.int64)
    miss = 0
    for q in range(m):
        r = found[q]
        if r < 0:
            r = n + which[miss]  # the absent keys in query order: ``which`` is each one's new key
            miss += 1
        if taken[r]:
            return None  # a pair asked for twice
        perm[q] = r
        taken[r] = True
    p = m
    for r in range(total):
        if not taken[r]:
            perm[p] = r
            p += 1
    inverse = np.empty(total, np.int64)
    for x in range(total):
        inverse[perm[x]] = x
    pi = np.empty(total, np.int64)
    pj = np.empty(total, np.int64)
    low = stride - 1
    for x in range(total):
        row = inverse[mrow[x]]
        mrow[x] = row
        key = merged[x]
        if shift >= 0:
            pi[row] = key >> shift
            pj[row] = key & low
        else:
            pi[row] = key // stride
            pj[row] = key % stride
    return merged, mrow, perm, pi, pj


@njit(cache=True, nogil=True)
def _gather_all(items: Any, perm: np.ndarray, n: int) -> None:  # pragma: no cover - compiled
    """Each (column, out, fresh value) of ``items``: ``out`` the column's rows ``perm`` (fresh
    past its ``n`` rows). One call for every column: a call per column cost more than its copy."""
    for item in literal_unroll(items):
        col, out, fresh = item
        for x in range(perm.shape[0]):
            r = perm[x]
            out[x] = col[r] if r < n else fresh


@njit(cache=True, nogil=True)
def radix_sort(keys: np.ndarray, spare: np.ndarray, counts: np.ndarray) -> None:  # pragma: no cover
    """Sort unsigned ``keys`` in place, a byte at a time from the least significant, only the
    bytes in which some keys differ (``spare``: as many keys; ``counts``: 256 scratch counts).
    Why: numpy's sort is a comparison sort on these short arrays (~20 us for 10^3 keys);
    keys of a few significant bytes sort here in a few linear passes."""
    n = keys.shape[0]
    if n < 2:
        return
    ones = keys[0]
    zeros = keys[0]
    for i in range(n):
        ones |= keys[i]
        zeros &= keys[i]
    differ = ones ^ zeros
    src, dst = keys, spare
    moved = False
    for b in range(8):
        shift = np.uint64(8 * b)
        if not (differ >> shift) & np.uint64(255):
            continue  # every key has this byte: the pass would move nothing
        for d in range(256):
            counts[d] = 0
        for i in range(n):
            counts[(src[i] >> shift) & np.uint64(255)] += 1
        at = np.int64(0)
        for d in range(256):
            t = counts[d]
            counts[d] = at
            at += t
        for i in range(n):
            v = src[i]
            d = (v >> shift) & np.uint64(255)
            dst[counts[d]] = v
            counts[d] += 1
        src, dst = dst, src
        moved = not moved
    if moved:  # the sorted keys are in ``spare``
        keys[:] = src
