"""Per-partner memory and trust, held as arrays over directed pairs.

Each directed pair (i, j) has a row: i's last two moves towards j, whether i
ever defected on j, whether i's last payoff against j was good (R or T), how
many rounds they played, and i's Beta reputation counts about j. Trust is the
Beta mean ``(kept + 1) / (kept + broken + 2)``.

Rows are found through a sorted key index (``i * stride + j``), so a whole
step's pairs are looked up with one ``searchsorted`` and new pairs (first
meetings, rewired edges) are added in a batch. While the graph is unchanged,
:meth:`PairTable.align` lays the rows of the step's pairs out contiguously, so
environments read and write them as slices (views) instead of gathers and
scatters. No Python object per pair, no dict per step.
"""

from __future__ import annotations

import sys
from typing import Protocol

import numpy as np

from agents.uniques import unique

NONE = -1

_INT8 = ("last", "last2", "defected", "good")
_FLOAT = ("kept", "broken")
Rows = np.ndarray | slice


class Deferred(Protocol):
    """A write to every row's memory left for when the columns are next read (``PairTable.defer``)."""

    def write_back(self, cols: dict[str, np.ndarray]) -> None: ...


#: ``_fresh_layout``'s results by (stride, pairs), for pair lists of at most ``LAYOUT_MEMO_ROWS``.
_LAYOUTS: dict[tuple[int, bytes, bytes], tuple[np.ndarray, ...] | None] = {}
LAYOUT_MEMO_ROWS = 1 << 12
MAX_LAYOUTS = 32


def _fresh_layout(stride: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """The sorted keys of pairs (i, j), each key's row (its position in the list), and, for a
    remembered layout, what ``PairTable.pairs`` computes from them; None when a pair repeats.

    Small lists' layouts are remembered: every run of a sweep or a bench lays the same graph's
    rows out anew (a sort, a check of repeats and the pairs of the rows, ~25 us at 12 agents).
    Each caller gets copies, since a table's arrays are its own."""
    memo = len(i) <= LAYOUT_MEMO_ROWS
    if memo:
        key = (stride, np.ascontiguousarray(i, np.int64).tobytes(), np.ascontiguousarray(j, np.int64).tobytes())
        if key in _LAYOUTS:
            got = _LAYOUTS[key]
            return None if got is None else tuple(a.copy() for a in got)
    k = np.asarray(i, dtype=np.int64) * np.int64(stride) + np.asarray(j, dtype=np.int64)
    order = np.argsort(k, kind="stable")
    keys = k[order]
    if len(keys) > 1 and bool((keys[1:] == keys[:-1]).any()):
        out = None
    else:
        rowof = order.astype(np.int64)
        if not memo:
            return keys, rowof
        pi = np.empty(len(keys), dtype=np.int64)
        pj = np.empty(len(keys), dtype=np.int64)
        pi[rowof] = keys // np.int64(stride)  # as ``PairTable.pairs`` computes them
        pj[rowof] = keys % np.int64(stride)
        out = (keys, rowof, pi, pj)
    if memo:
        if len(_LAYOUTS) >= MAX_LAYOUTS:
            _LAYOUTS.clear()
        _LAYOUTS[key] = None if out is None else tuple(a.copy() for a in out)
    return out


class PairTable:
    """Directed-pair memory and Beta trust for a population of at most ``stride`` agents."""

    def __init__(self, stride: int = 1 << 31) -> None:
        self.stride = np.int64(stride)
        self.keys = np.empty(0, dtype=np.int64)  # sorted
        self.rowof = np.empty(0, dtype=np.int64)  # physical row of each sorted key
        self._cols: dict[str, np.ndarray] = {c: np.empty(0, dtype=np.int8) for c in _INT8}
        self._cols["turns"] = np.empty(0, dtype=np.int64)
        for c in _FLOAT:
            self._cols[c] = np.empty(0, dtype=np.float64)
        self._deferred: Deferred | None = None  # see ``defer``
        self._bufs: dict[str, np.ndarray] = {}  # the columns' backing buffers (see _grow)
        # Keys added one at a time, not yet merged into ``keys`` -> their rows (see ``index``).
        self._extra: dict[int, int] = {}
        self._aligned: tuple[int, int, int] | None = None  # (token, version, E)
        self._pairs: tuple[int, np.ndarray, np.ndarray] | None = None
        self.version = 0
        #: Times rows were laid out anew (``align``): until it changes, a pair keeps its row.
        self.moved = 0

    def __len__(self) -> int:
        return len(self.keys) + len(self._extra)

    @property
    def cols(self) -> dict[str, np.ndarray]:
        """The columns by name; a deferred write (``defer``) is made first."""
        if self._deferred is not None:
            owner, self._deferred = self._deferred, None
            owner.write_back(self._cols)
        return self._cols

    def defer(self, owner: Deferred) -> None:
        """Leave ``owner.write_back(cols)`` to be made when the columns are next asked for.

        Why: a compiled stretch that plays pair classes (``scenarios.ipd_classes``) holds every
        row's memory in a few representatives; writing 4M rows back and checking them again at
        the next stretch was a fifth of a stretch at 10^6 agents, although between two stretches
        nothing may read them. The next stretch takes the write over (``take_deferred``) when no
        one asked for the columns meanwhile, so nothing can have changed them.
        """
        self.cols  # noqa: B018  (an earlier deferred write first)
        self._deferred = owner

    def deferred(self) -> Deferred | None:
        """The owner of the write still deferred, if any (the columns are untouched since)."""
        return self._deferred

    def take_deferred(self) -> None:
        """Drop the deferred write: its owner now holds the rows' memory and must write it back
        (or defer it again) before the columns are read."""
        self._deferred = None

    def __getstate__(self) -> dict[str, object]:
        self.cols  # noqa: B018  (a copy carries the columns as written)
        return self.__dict__.copy()

    def __getitem__(self, col: str) -> np.ndarray:
        return self.cols[col]

    def index(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Physical rows of pairs (i, j), creating rows for pairs not seen before."""
        k = np.asarray(i, dtype=np.int64) * self.stride + np.asarray(j, dtype=np.int64)
        if k.shape == (1,):
            return np.array([self._one(int(k[0]))], dtype=np.int64)
        pos, found = self._positions(k)
        if not found.all():
            self._insert(unique(k[~found]))
            pos = np.searchsorted(self.keys, k)
        rows: np.ndarray = self.rowof[pos]
        return rows

    def find(self, k: np.ndarray) -> np.ndarray:
        """Rows of the pairs of keys ``k`` (``i * stride + j``), -1 where a pair has none; none made."""
        pos, ok = self._positions(k)
        out = np.full(len(k), NONE, dtype=np.int64)
        out[ok] = self.rowof[pos[ok]]
        return out

    def _positions(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where keys ``k`` sit (or would go) in the sorted keys, and whether each is there."""
        self._merge()
        pos = np.searchsorted(self.keys, k)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == k[found]
        return pos, found

    def adopt(self, keys: np.ndarray, rowof: np.ndarray, added: int, runs: int) -> None:
        """Take the sorted ``keys`` and their ``rowof``, which hold ``added`` new rows after the
        others, made by ``runs`` look-ups (a version each, as :meth:`index` counts them): how a
        compiled stretch that numbers its new pairs itself hands them over."""
        n = len(self.keys)
        self.keys, self.rowof = keys, rowof
        self._grow(n, added)
        self.version += runs - 1

    def _one(self, key: int) -> int:
        """The row of one pair's key, created if new: a message heard or a claim checked asks
        for one pair at a time, and a merge into the sorted keys per pair would copy them all."""
        row = self._extra.get(key)
        if row is not None:
            return row
        pos = int(np.searchsorted(self.keys, key))
        if pos < len(self.keys) and int(self.keys[pos]) == key:
            return int(self.rowof[pos])
        row = self._extra[key] = len(self)
        self._grow(row, 1)
        return row

    def _merge(self) -> None:
        """Merge the keys added one at a time into the sorted keys (their rows stay)."""
        if self._extra:
            new = np.array(sorted(self._extra), dtype=np.int64)
            rows = np.array([self._extra[k] for k in new.tolist()], dtype=np.int64)
            pos = np.searchsorted(self.keys, new)
            self.keys = np.insert(self.keys, pos, new)
            self.rowof = np.insert(self.rowof, pos, rows)
            self._extra = {}

    def align(self, token: int, i: np.ndarray, j: np.ndarray) -> tuple[slice, slice]:
        """Lay out rows (i, j) as rows 0..E-1 and (j, i) as E..2E-1; return the two slices.

        ``token`` identifies the pair list (the graph's version): while it and
        the table are unchanged the layout is kept and this costs nothing.
        """
        e = len(i)
        self._merge()
        if self._aligned == (token, self.version, e):
            return slice(0, e), slice(e, 2 * e)
        if not len(self.keys) and self._lay_out_fresh(np.concatenate([i, j]), np.concatenate([j, i])):
            self._aligned = (token, self.version, e)
            return slice(0, e), slice(e, 2 * e)
        if "numba" in sys.modules and self._realign_compiled(np.concatenate([i, j]), np.concatenate([j, i])):
            self._aligned = (token, self.version, e)
            return slice(0, e), slice(e, 2 * e)
        # One look-up for both directions, so an insertion cannot leave either stale.
        first = self.index(np.concatenate([i, j]), np.concatenate([j, i]))
        # The rows not laid out, ascending (``setdiff1d`` of a range, without its sorts).
        left = np.ones(len(self.keys), dtype=bool)
        left[first] = False
        rest = np.flatnonzero(left)
        perm = np.concatenate([first, rest])
        for c, arr in self.cols.items():
            self.cols[c] = arr[perm]
        inverse = np.empty_like(perm)
        inverse[perm] = np.arange(len(perm))
        self.rowof = inverse[self.rowof]
        self.moved += 1
        self._pairs = None
        self._aligned = (token, self.version, e)
        return slice(0, e), slice(e, 2 * e)

    def _realign_compiled(self, i: np.ndarray, j: np.ndarray) -> bool:
        """``align``'s look-up, insertion and permutation in a few compiled passes
        (``agents.pair_align``), when a kernel run has loaded numba anyway; the same keys, rows,
        columns and version. False: not mirrored (a pair asked for twice); nothing changed."""
        from agents.pair_align import realign

        known = self._pairs if self._pairs is not None and self._pairs[0] == self.version else None
        half = self._aligned[2] if self._aligned is not None else 0
        out = realign(self.keys, self.rowof, self.cols, int(self.stride), i, j,
                      None if known is None else (known[1], known[2]), half)
        if out is None:
            return False
        self.keys, self.rowof, cols, added, pi, pj = out
        self._cols.update(cols)
        if added:
            self.version += 1  # as ``_insert``'s ``_grow`` counts new rows
        self.moved += 1
        self._pairs = (self.version, pi, pj)  # what ``pairs`` would compute
        return True

    def _lay_out_fresh(self, i: np.ndarray, j: np.ndarray) -> bool:
        """An empty table's rows for distinct pairs (i, j), in the order given (what ``index``,
        ``_insert`` and the permutation of ``align`` would leave, without them); False on repeats."""
        laid = _fresh_layout(int(self.stride), i, j)
        if laid is None:
            return False
        self.keys, self.rowof = laid[0], laid[1]
        cols = self.cols
        for c, arr in cols.items():
            cols[c] = np.full(len(self.keys), NONE if c in ("last", "last2") else 0, dtype=arr.dtype)
        self.version += 1
        self._pairs = None if len(laid) == 2 else (self.version, laid[2], laid[3])
        return True

    def _insert(self, new: np.ndarray) -> None:
        """Rows for the sorted, distinct keys ``new`` (none present yet), appended after the others."""
        n = len(self.keys)
        pos = np.searchsorted(self.keys, new)
        self.keys = np.insert(self.keys, pos, new)
        self.rowof = np.insert(self.rowof, pos, np.arange(n, n + len(new), dtype=np.int64))
        self._grow(n, len(new))

    def _grow(self, n: int, extra: int) -> None:
        """``extra`` fresh rows after the ``n`` rows: the columns are views of buffers that grow
        by doubling, so a row added costs no reallocation of every column."""
        need = n + extra
        for c, arr in self.cols.items():
            buf = self._buffer(c, arr, need, max(need, 2 * n, 16))
            buf[n:need] = NONE if c in ("last", "last2") else 0
            self.cols[c] = buf[:need]
        self.version += 1
        self._pairs = None

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more rows in the columns' buffers now, so that adding them later
        copies no column (a model's build can make it for rows its run will add)."""
        for c, arr in self.cols.items():
            n = len(arr)
            buf = self._buffer(c, arr, n + extra, max(n + extra, 16))
            if arr.base is not buf:
                self.cols[c] = buf[:n]

    def _buffer(self, c: str, arr: np.ndarray, need: int, size: int) -> np.ndarray:
        """Column ``c``'s buffer (``arr`` its first rows) with room for ``need`` rows: a new one
        of ``size`` rows, ``arr`` copied in, where the one kept is smaller or not ``arr``'s."""
        buf = self._bufs.get(c)
        if buf is None or arr.base is not buf or len(buf) < need:
            buf = np.empty(size, dtype=arr.dtype)
            buf[:len(arr)] = arr
            self._bufs[c] = buf
        return buf

    def trust(self, rows: Rows) -> np.ndarray:
        kept = self.cols["kept"][rows]
        broken = self.cols["broken"][rows]
        out: np.ndarray = (kept + 1.0) / (kept + broken + 2.0)
        return out

    def all_trust(self) -> np.ndarray:
        """Trust of every physical row."""
        out: np.ndarray = (self.cols["kept"] + 1.0) / (self.cols["kept"] + self.cols["broken"] + 2.0)
        return out

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) of every physical row (cached until rows move)."""
        self._merge()
        if self._pairs is None or self._pairs[0] != self.version:
            i = np.empty(len(self.keys), dtype=np.int64)
            j = np.empty(len(self.keys), dtype=np.int64)
            i[self.rowof] = self.keys // self.stride
            j[self.rowof] = self.keys % self.stride
            self._pairs = (self.version, i, j)
        return self._pairs[1], self._pairs[2]

    def record_moves(self, rows: Rows, coop: np.ndarray, good: np.ndarray) -> None:
        """Record one round: the row owner's move (1/0) and whether its payoff was R or T."""
        c = self.cols
        c["last2"][rows] = c["last"][rows]
        c["last"][rows] = coop
        c["defected"][rows] |= coop == 0
        c["good"][rows] = good
        c["turns"][rows] += 1

    def forget(self) -> None:
        """Every pair starts afresh: no moves remembered, no evidence (rows and layout stay)."""
        for c, arr in self.cols.items():
            arr[:] = NONE if c in ("last", "last2") else 0

    def observe(self, rows: Rows, kept: np.ndarray, broken: np.ndarray) -> None:
        """Add Beta evidence about the partner (rows are the observer's)."""
        self.cols["kept"][rows] += kept
        self.cols["broken"][rows] += broken
