"""Rewiring on an edge array, compiled (``Network.rewire`` in a process that has numba loaded).

Why: a rewiring step of trust-game at 10^4 agents cuts ~14,000 ties, ~4 us each in
networkx's adjacency dicts (a third of the run). The rule only asks which ties exist
(``has_edge``), and ``Network.edges`` sorts what it hands out, so the graph can live as a
set of edge keys here and networkx's graph be built only when something reads it: the same
edges, the same partners tried, the same draws (``tests/test_network_rewire.py``).
"""

from __future__ import annotations

import numpy as np

from agents.hashing import EMPTY, shift_of, slot
from agents.jit import njit
from agents.pair_align import radix_sort

#: A hash slot whose key was removed (probing goes on past it; empty is ``agents.hashing.EMPTY``).
GONE = -2


def rewire_keys(edges: np.ndarray, cut: np.ndarray, distrusts_first: np.ndarray, living: np.ndarray,
                tries: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The edges (u <= v, sorted) after cutting rows ``cut`` of ``edges`` in order, each cut's
    distrusting side trying up to ``tries`` random living agents for a new partner; and the
    partners drawn. The generator is left where one ``integers`` per try leaves it."""
    stride = np.int64(max(int(edges.max()) + 1, int(living.max()) + 1))
    size = 16
    while size < 2 * (len(edges) + len(cut)):  # at most half full, tombstones included
        size *= 2
    table = np.full(size, EMPTY, np.int64)
    _fill(table, edges, stride)
    n = len(living)
    # Partners drawn in blocks no larger than the cuts left (each takes one at least), so none
    # goes unused: the stream is where one ``integers`` per try leaves it, with no rewind.
    picks = living[rng.integers(n, size=len(cut))]
    done, drawn = 0, len(cut)
    added = np.empty(len(cut), np.int64)  # the ties made, in order (at most one a cut)
    counts = np.zeros(3, np.int64)  # ties made; tries of the cut under way; its tie removed
    first, second = edges[cut, 0], edges[cut, 1]
    while True:
        done = _rewire(table, stride, first, second, distrusts_first, picks, done, tries, added, counts)
        if done == len(cut):
            break
        picks = living[rng.integers(n, size=len(cut) - done)]  # ran out mid-way: more partners
        drawn += len(picks)
    # The sorted edges left: those never cut (in order already) and the ties made (a cut tie
    # made again is only among the latter; a tie never cut was there throughout, so never made).
    # Keys are never negative: their bits sort as unsigned integers (``radix_sort``).
    return _finish(edges, cut, added, added.view(np.uint64), counts[0], stride), drawn


@njit(cache=True, nogil=True)
def _fill(table, edges, stride):  # pragma: no cover - compiled
    # ``_add`` written out: a call taking the table costs two atomic reference counts a key.
    mask = table.shape[0] - 1
    shift = shift_of(table.shape[0])
    for q in range(edges.shape[0]):
        key = edges[q, 0] * stride + edges[q, 1]
        i = slot(key, shift)
        while table[i] >= 0:
            i = (i + 1) & mask
        table[i] = key


@njit(cache=True, nogil=True)
def _rewire(table, stride, first, second, lo, picks, done, tries, added, counts):  # pragma: no cover
    """Cuts ``done``.. in order (``Network.rewire``'s loop) with the partners ``picks``; returns
    the cuts done when they ran out, possibly mid-cut (``counts[1:]`` say where, for the next
    call). The ties made are listed in ``added`` (``counts[0]`` of them)."""
    # ``_slot`` and ``_add`` written out: a call taking the table costs two atomic reference
    # counts, several a cut.
    used = 0
    mask = table.shape[0] - 1
    shift = shift_of(table.shape[0])
    for q in range(done, first.shape[0]):
        i, j = first[q], second[q]
        if not counts[2]:
            key = min(i, j) * stride + max(i, j)
            s = slot(key, shift)
            at = -1
            while table[s] != EMPTY:
                if table[s] == key:
                    at = s
                    break
                s = (s + 1) & mask
            table[at] = GONE
            counts[2] = 1
        who = i if lo[q] else j
        while counts[1] < tries:
            if used == picks.shape[0]:
                return q
            c = picks[used]
            used += 1
            counts[1] += 1
            if c != who:
                key = min(who, c) * stride + max(who, c)
                s = slot(key, shift)
                free = -1  # the first slot a new key may take: a removed key's, else the empty one
                tied = False
                while table[s] != EMPTY:
                    if table[s] == key:
                        tied = True
                        break
                    if free < 0 and table[s] == GONE:
                        free = s
                    s = (s + 1) & mask
                if not tied:
                    table[s if free < 0 else free] = key
                    added[counts[0]] = key
                    counts[0] += 1
                    break
        counts[1] = 0
        counts[2] = 0
    return first.shape[0]


@njit(cache=True, nogil=True)
def _finish(edges, cut, made, bits, m, stride):  # pragma: no cover - compiled
    """The rows of ``edges`` not cut merged with the ``m`` keys ``made`` (``bits``: their view
    as unsigned integers), sorted first."""
    left = np.ones(edges.shape[0], np.bool_)
    for q in range(cut.shape[0]):
        left[cut[q]] = False
    radix_sort(bits[:m], np.empty(m, np.uint64), np.zeros(256, np.int64))
    return _merge(edges, left, made[:m], stride)


@njit(cache=True, nogil=True)
def _merge(edges, left, made, stride):  # pragma: no cover - compiled
    """The rows of ``edges`` still ``left`` (sorted) merged with the sorted keys ``made``, as rows."""
    e = edges.shape[0]
    total = made.shape[0]
    for q in range(e):
        total += left[q]
    out = np.empty((total, 2), np.int64)
    q = 0
    b = 0
    for x in range(total):
        while q < e and not left[q]:
            q += 1
        if b < made.shape[0] and (q >= e or made[b] < edges[q, 0] * stride + edges[q, 1]):
            out[x, 0] = made[b] // stride
            out[x, 1] = made[b] % stride
            b += 1
        else:
            out[x, 0] = edges[q, 0]
            out[x, 1] = edges[q, 1]
            q += 1
    return out
