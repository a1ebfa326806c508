"""A decision table's per-key dict mirrored in a compiled hash table (``agents.hashing``).

The dict (key -> cell) stays the record: entries are only ever added to it, by
``DecisionTable._fill``, or the dict is replaced whole (a restored state, its copy, entries
dropped past a decider). So the mirror holds the dict it was built from and its size then: a
different dict, or one of another size, is mirrored afresh.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

#: Keys of a call from which the compiled table is used: below it numba's import (most of a
#: second, once per process) would not pay unless already loaded.
HASHED_MIN = 1 << 13


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
