"""Per-partner memory and trust, held as arrays over directed pairs.

Each directed pair (i, j) has a row: i's last two moves towards j, whether i
ever defected on j, whether i's last payoff against j was good (R or T), how
many rounds they played, and i's Beta reputation counts about j. Trust is the
Beta mean ``(kept + 1) / (kept + broken + 2)``.

Rows live in sorted arrays keyed by ``i * stride + j`` so a whole step's pairs
are found with one ``searchsorted``; new pairs (first meetings, rewired edges)
are merged in a batch. No Python object per pair, no dict per step.
"""

from __future__ import annotations

import numpy as np

NONE = -1

_INT8 = ("last", "last2", "defected", "good")
_FLOAT = ("kept", "broken")


class PairTable:
    """Directed-pair memory and Beta trust for a population of at most ``stride`` agents."""

    def __init__(self, stride: int = 1 << 31) -> None:
        self.stride = np.int64(stride)
        self.keys = np.empty(0, dtype=np.int64)
        self.cols: dict[str, np.ndarray] = {c: np.empty(0, dtype=np.int8) for c in _INT8}
        self.cols["turns"] = np.empty(0, dtype=np.int64)
        for c in _FLOAT:
            self.cols[c] = np.empty(0, dtype=np.float64)
        # Cache of row indices for a fixed list of pairs (the edges, while the graph is unchanged).
        self._cache: tuple[int, int, np.ndarray, np.ndarray] | None = None
        self.version = 0

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, col: str) -> np.ndarray:
        return self.cols[col]

    def index(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Row indices of pairs (i, j), creating rows for pairs not seen before."""
        k = i.astype(np.int64) * self.stride + j.astype(np.int64)
        pos = np.searchsorted(self.keys, k)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == k[found]
        if not found.all():
            self._insert(np.unique(k[~found]))
            pos = np.searchsorted(self.keys, k)
        return pos

    def rows_for(self, token: int, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of (i, j) and (j, i), cached while ``token`` (the graph's version) and the table hold."""
        c = self._cache
        if c is not None and c[0] == token and c[1] == self.version:
            return c[2], c[3]
        self.index(i, j)
        self.index(j, i)  # both inserted before positions are taken, so neither goes stale
        a, b = self.index(i, j), self.index(j, i)
        self._cache = (token, self.version, a, b)
        return a, b

    def _insert(self, new: np.ndarray) -> None:
        keys = np.concatenate([self.keys, new])
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        for c, arr in self.cols.items():
            fill = NONE if c in ("last", "last2") else 0
            ext = np.full(len(new), fill, dtype=arr.dtype)
            self.cols[c] = np.concatenate([arr, ext])[order]
        self.version += 1

    def trust(self, rows: np.ndarray) -> np.ndarray:
        kept = self.cols["kept"][rows]
        broken = self.cols["broken"][rows]
        return (kept + 1.0) / (kept + broken + 2.0)

    def all_trust(self) -> np.ndarray:
        return (self.cols["kept"] + 1.0) / (self.cols["kept"] + self.cols["broken"] + 2.0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(i, j) of every row."""
        return self.keys // self.stride, self.keys % self.stride

    def record_moves(self, rows: np.ndarray, coop: np.ndarray, good: np.ndarray) -> None:
        """Record one round: the row owner's move (1/0) and whether its payoff was R or T."""
        c = self.cols
        c["last2"][rows] = c["last"][rows]
        c["last"][rows] = coop
        c["defected"][rows] |= (coop == 0).astype(np.int8)
        c["good"][rows] = good
        c["turns"][rows] += 1

    def observe(self, rows: np.ndarray, kept: np.ndarray, broken: np.ndarray) -> None:
        """Add Beta evidence about the partner (rows are the observer's)."""
        self.cols["kept"][rows] += kept
        self.cols["broken"][rows] += broken
