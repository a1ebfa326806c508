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
            i: np.ndarray, j: np.ndarray, pairs: tuple[np.ndarray, np.ndarray] | None = None,
            half: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], int,
                                    np.ndarray, np.ndarray] | None:
    """Rows (i, j) laid out first: returns the keys, rows of keys, columns, how many rows
    were added, and each physical row's (i, j); None when a pair is asked for twice (numpy's
    layout then repeats rows, which this does not mirror).

    ``pairs``: each physical row's (i, j) now, when known, and ``half`` how many pairs the last
    alignment laid out first (rows ``r`` and ``r + half`` mirrored each other then): with them
    most look-ups and the new rows' pairs are copies (``_fused``).
    """
    k = np.asarray(i, np.int64) * np.int64(stride) + np.asarray(j, np.int64)
    # A power-of-two stride (the table's default) splits keys by shifts: a division per key was
    # a third of the passes.
    shift = stride.bit_length() - 1 if stride & (stride - 1) == 0 else -1
    n = len(keys)
    if (shift >= 0 and tuple(cols) == COLUMNS and len(k) and int(k.min()) >= 0
            and int(k.max()) < 1 << (62 - len(k).bit_length())):
        pi0, pj0 = pairs if pairs is not None and len(pairs[0]) == n else (_NO_PAIRS, _NO_PAIRS)
        out = _fused(keys, rowof, k, np.int64(stride), np.int64(shift), pi0, pj0, np.int64(half),
                     *(cols[c] for c in COLUMNS))
        if out is None:
            return None
        new_keys, new_rowof, pi, pj, added = out[:5]
        return new_keys, new_rowof, dict(zip(COLUMNS, out[5:], strict=True)), added, pi, pj
    return _realign_parts(keys, rowof, cols, stride, k, shift)


#: The pair table's columns, in ``PairTable``'s order: ``_fused`` copies them in one pass.
COLUMNS = ("last", "last2", "defected", "good", "turns", "kept", "broken")
#: Keys ``_fused`` walks past before it gallops.
WALK = 32
#: No pairs known (``realign``'s ``pairs`` absent).
_NO_PAIRS = np.zeros(0, np.int64)


def _realign_parts(keys: np.ndarray, rowof: np.ndarray, cols: dict[str, np.ndarray], stride: int,
                   k: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], int,
                                                       np.ndarray, np.ndarray] | None:
    """``realign`` for other columns, keys too wide to fold with their positions, or any stride."""
    found = np.empty(len(k), np.int64)
    # numpy's search and sort: several times numba's (a search per key, a quicksort).
    missing = _find(keys, rowof, k, np.searchsorted(keys, k), found)
    got = _distinct(missing)
    if got is None:
        return None  # a key asked for twice: ``_realign`` would find its new row taken
    new, which = got
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


@njit(cache=True, nogil=True)
def _fused(keys: np.ndarray, rowof: np.ndarray, k: np.ndarray, stride: np.int64, shift: np.int64,
           pi0: np.ndarray, pj0: np.ndarray, half: np.int64, last: np.ndarray, last2: np.ndarray,
           defected: np.ndarray, good: np.ndarray, turns: np.ndarray, kept: np.ndarray,
           broken: np.ndarray) -> Any:  # pragma: no cover - compiled
    """``_realign_parts`` in one call, for ``PairTable``'s columns, a power-of-two stride and keys
    that fold with their positions: (keys, rows of keys, each row's i and j, rows added, then the
    columns in ``COLUMNS``' order); None when a pair is asked for twice.

    Why: the parts were eight numpy and compiled calls and some fourteen passes over every row
    (~0.25 ms a rewiring at 10^3 agents, the table four times the step's rows by the end of a
    run). Here the look-up gallops through ascending queries (a step's first half, in edge
    order) and finds a query's mirror (the second half) at the row mirroring its pair's
    (``pi0``, ``pj0``, ``half``: checked, else searched); the permutation and its inverse are
    one pass, the merge maps rows as it goes, and every column is copied in one more.
    """
    n = keys.shape[0]
    m = k.shape[0]
    h = m // 2
    known = pi0.shape[0] == n and half > 0
    found = np.empty(m, np.int64)
    missing = np.empty(m, np.int64)
    nm = 0
    pos = np.int64(0)
    pkey = np.int64(0)
    searched = False
    low = stride - 1
    for q in range(m):
        key = k[q]
        if known and q >= h and 2 * h == m:
            f = found[unsigned(q - h)]
            if 0 <= f < half:
                c = f + half
                if c < n and pi0[unsigned(c)] == (key >> shift) and pj0[unsigned(c)] == (key & low):
                    found[q] = c
                    continue
        if searched and key > pkey:
            # An ascending run (a step's first half): the keys between two queries are a few, so
            # a walk (its branch predicted) beats a search; a long gap gallops.
            stop = min(pos + WALK, n)
            while pos < stop and keys[unsigned(pos)] < key:
                pos += 1
            if pos == stop:
                pos = _gallop(keys, key, pos, n)
        else:
            pos = _search(keys, key, np.int64(0), n)
        searched = True
        pkey = key
        if pos < n and keys[unsigned(pos)] == key:
            found[q] = rowof[unsigned(pos)]
        else:
            found[q] = -1
            missing[unsigned(nm)] = key
            nm += 1
    # The absent keys, sorted and numbered (``_distinct``): folded with their positions.
    fold = np.int64(0)
    while (np.int64(1) << fold) <= nm:
        fold += 1
    folded = np.empty(nm, np.int64)
    for x in range(nm):
        folded[x] = (missing[x] << fold) | x
    radix_sort(folded.view(np.uint64), np.empty(nm, np.uint64), np.zeros(256, np.int64))
    new = np.empty(nm, np.int64)
    which = np.empty(nm, np.int64)
    posmask = (np.int64(1) << fold) - 1
    for x in range(nm):
        new[x] = folded[x] >> fold
        if x and new[x] == new[x - 1]:
            return None  # a key asked for twice
        which[folded[x] & posmask] = x
    total = n + nm
    if m > total:
        return None
    # Rows asked for first, in order; then the others ascending (new rows n, n+1, ... by key).
    perm = np.empty(total, np.int64)
    inverse = np.full(total, -1, np.int64)  # -1: not placed yet
    miss = 0
    for q in range(m):
        r = found[q]
        if r < 0:
            r = n + which[unsigned(miss)]  # the absent keys in query order: ``which`` is each one's new key
            miss += 1
        if inverse[unsigned(r)] >= 0:
            return None  # a pair asked for twice
        perm[q] = r
        inverse[unsigned(r)] = q
    p = m
    for r in range(total):
        if inverse[r] < 0:
            perm[unsigned(p)] = r
            inverse[r] = p
            p += 1
    # ``merge_new``'s merge, each key's row mapped to its new place.
    merged = np.empty(total, np.int64)
    mrow = np.empty(total, np.int64)
    a = 0
    for x in range(nm):
        while a < n and keys[unsigned(a)] < new[x]:
            merged[unsigned(a + x)] = keys[unsigned(a)]
            mrow[unsigned(a + x)] = inverse[unsigned(rowof[unsigned(a)])]
            a += 1
        merged[unsigned(a + x)] = new[x]
        mrow[unsigned(a + x)] = inverse[unsigned(n + x)]
    while a < n:
        merged[unsigned(a + nm)] = keys[unsigned(a)]
        mrow[unsigned(a + nm)] = inverse[unsigned(rowof[unsigned(a)])]
        a += 1
    pi = np.empty(total, np.int64)
    pj = np.empty(total, np.int64)
    o_last = np.empty(total, last.dtype)
    o_last2 = np.empty(total, last2.dtype)
    o_defected = np.empty(total, defected.dtype)
    o_good = np.empty(total, good.dtype)
    o_turns = np.empty(total, turns.dtype)
    o_kept = np.empty(total, kept.dtype)
    o_broken = np.empty(total, broken.dtype)
    # Two passes of a few columns each: one over all of them spilled registers every row.
    for x in range(total):
        r = perm[x]
        u = unsigned(r)
        if r < n:
            o_last[x] = last[u]
            o_last2[x] = last2[u]
            o_defected[x] = defected[u]
            o_good[x] = good[u]
        else:
            # ``PairTable._grow``'s fresh row: no move remembered, zeros elsewhere.
            o_last[x] = _NONE
            o_last2[x] = _NONE
            o_defected[x] = 0
            o_good[x] = 0
    for x in range(total):
        r = perm[x]
        u = unsigned(r)
        if r < n:
            o_turns[x] = turns[u]
            o_kept[x] = kept[u]
            o_broken[x] = broken[u]
            if known:
                pi[x] = pi0[u]
                pj[x] = pj0[u]
        else:
            o_turns[x] = 0
            o_kept[x] = 0
            o_broken[x] = 0
            key = new[unsigned(r - n)]
            pi[x] = key >> shift
            pj[x] = key & low
    if not known:
        for x in range(total):
            row = unsigned(mrow[x])
            key = merged[x]
            pi[row] = key >> shift
            pj[row] = key & low
    return merged, mrow, pi, pj, nm, o_last, o_last2, o_defected, o_good, o_turns, o_kept, o_broken


@njit(cache=True, nogil=True, inline="always")
def unsigned(index: Any) -> Any:  # pragma: no cover - compiled
    """``index`` (never negative) as unsigned: numba then indexes without wrapping a negative
    index around (a compare and a select per access, much of a pass over rows)."""
    return np.uint64(index)


@njit(cache=True, nogil=True, inline="always")
def _search(keys: np.ndarray, key: Any, lo: Any, hi: Any) -> Any:  # pragma: no cover - compiled
    """The first index in ``lo..hi`` whose key is not below ``key`` (``hi`` if none), without
    branches on the keys (a search per query: mispredictions were most of its cost)."""
    length = hi - lo
    if length <= 0:
        return lo
    base = lo
    while length > 1:
        half = length >> 1
        base += half * np.int64(keys[base + half - 1] < key)  # a product: LLVM made the choice a branch
        length -= half
    return base + (1 if keys[base] < key else 0)


@njit(cache=True, nogil=True, inline="always")
def _gallop(keys: np.ndarray, key: Any, lo: Any, n: Any) -> Any:  # pragma: no cover - compiled
    """``_search`` from ``lo`` (every key before it is below ``key``): steps doubling forward,
    then a search of the last step (an ascending query lies a few keys past the one before)."""
    if lo >= n or keys[lo] >= key:
        return lo
    step = np.int64(1)
    prev = lo  # keys[prev] < key
    cur = lo + 1
    while cur < n and keys[cur] < key:
        prev = cur
        step *= 2
        cur = prev + step
    return _search(keys, key, prev + 1, min(cur, n))


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
