"""A decision table's per-key dict mirrored in a compiled hash table (``agents.hashing``).

The dict (key -> cell) stays the record: entries are only ever added to it, by
``DecisionTable._fill``, or the dict is replaced whole (a restored state, its copy, entries
dropped past a decider). So the mirror holds the dict it was built from and its size then: a
different dict, or one of another size, is mirrored afresh.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

#: Keys looked up through per-key dicts in this process past which numba is imported for the
#: mirror (once numba is loaded, by this or any kernel, the mirror is used from the first key).
#: Why a total, not a size per call: the mirror saves 65-90 ns a key (a call of 16,000 keys,
#: 1,411 distinct: 1.15 ms through a sort and the dict, 0.05 ms mirrored), and numba's import
#: with its first cache load costs ~0.7 s, paid back after ~10^7 keys. A size per call (it was
#: 8,192) loaded numba for a 40-run sweep of trust-network at 4,000 agents, 16,000 keys a call:
#: each worker paid 0.7 s to save 10 ms a run. Importing once the dicts have cost about what
#: the import costs is the ski-rental rule: never more than twice the better choice's cost.
HASHED_BUDGET = 10_000_000

#: Keys looked up through the dicts so far (:func:`count_keys`).
_looked_up = 0


def count_keys(n: int) -> int:
    """Add ``n`` keys to this process's look-ups through the dicts; the total so far."""
    global _looked_up
    _looked_up += n
    return _looked_up


class HashedCells:
    """The compiled mirror of one phase's key -> cell dict."""

    __slots__ = ("cells", "keys", "size", "source")

    def __init__(self, kernel: ModuleType, source: dict[int, int], room: int = 0) -> None:
        n = len(source)
        slots = 1 << kernel.table_bits(n + room)
        self.keys = np.full(slots, -1, dtype=np.int64)
        self.cells = np.zeros(slots, dtype=np.int64)
        if n:
            kernel.put(self.keys, self.cells, np.fromiter(source.keys(), np.int64, n),
                       np.fromiter(source.values(), np.int64, n))
        self.source, self.size = source, n

    def mirrors(self, source: dict[int, int]) -> bool:
        return self.source is source and self.size == len(source)

    def find(self, kernel: ModuleType, keys: np.ndarray) -> np.ndarray:
        """The cell of each key, -1 where the dict has none."""
        found: np.ndarray = kernel.find(self.keys, self.cells, keys)
        return found

    def added(self, kernel: ModuleType, keys: np.ndarray, cells: np.ndarray) -> HashedCells:
        """This mirror with ``keys`` filed (just added to its dict), or a fresh one when full."""
        if 2 * len(self.source) > len(self.keys):
            return HashedCells(kernel, self.source, len(self.source))  # room to grow: twice over
        kernel.put(self.keys, self.cells, keys, cells)
        self.size = len(self.source)
        return self
