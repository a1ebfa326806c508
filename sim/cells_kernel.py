"""Decision keys to cells through a compiled hash table (``DecisionTable.cells``, ``sim.hashing``).

Why: a table too large to be dense finds each call's cells through a dict: a stable sort of
the call's keys for the distinct ones, then a Python look-up each. Learners' observations
vary more than fixed policies' (a thousand distinct keys a call in the trust game at 10^4
agents, against some twenty), so that path cost them about three times what it costs fixed
policies, a third of what learning costs beyond them. This table mirrors the dict (key ->
cell) and finds every known key in one compiled pass; only keys the dict lacks go its way.
"""

from __future__ import annotations

import numpy as np

from agents.jit import OUTER, njit
from sim.hashing import slot, table_bits

__all__ = ["find", "put", "table_bits"]


@njit(**OUTER)
def put(slot_key: np.ndarray, slot_cell: np.ndarray, bits: int, keys: np.ndarray,
        cells: np.ndarray) -> None:  # pragma: no cover - compiled
    """File each of ``keys`` (non-negative, not in the table yet or with the same cell) under its
    cell, in a table of ``2 ** bits`` slots."""
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    for i in range(keys.shape[0]):
        key = keys[i]
        h = slot(key, shift)
        while slot_key[h] != -1 and slot_key[h] != key:
            h = (h + 1) & mask
        slot_key[h] = key
        slot_cell[h] = cells[i]


@njit(**OUTER)
def find(slot_key: np.ndarray, slot_cell: np.ndarray, bits: int,
         keys: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """The cell of each of ``keys``, -1 for a key the table does not hold."""
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    out = np.full(keys.shape[0], -1, np.int64)
    for i in range(keys.shape[0]):
        key = keys[i]
        h = slot(key, shift)
        while slot_key[h] != -1:
            if slot_key[h] == key:
                out[i] = slot_cell[h]
                break
            h = (h + 1) & mask
    return out
